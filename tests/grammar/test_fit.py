"""Weights learned from a corpus move the sampled distribution towards the corpus."""
from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from partimento.grammar import load
from partimento.grammar.errors import InputError
from partimento.grammar.fit import fit_weights
from partimento.hybrid.cli import main


def _share_v7(grammar, seeds=range(40)) -> float:
    counts = Counter()
    for seed in seeds:
        for c in grammar.sample(key="C", bars=4, seed=seed, modulate=False).chords:
            if c.figure in ("V", "V7"):
                counts[c.figure] += 1
    return counts["V7"] / max(1, counts["V"] + counts["V7"])


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(v7=st.integers(min_value=0, max_value=12), v=st.integers(min_value=0, max_value=12))
def test_fitted_weights_follow_corpus_counts(harmony, v7, v):
    corpus = [["I", "IV", "V7", "I"]] * v7 + [["I", "IV", "V", "I"]] * v + [["I", "ii", "V", "vi"]]
    result = fit_weights(harmony, corpus, smoothing=0.5)
    w = result.weights["dom_root"]  # the root-position dominant of a cadence: "V53" (V) or "V753" (V7)
    assert result.counts["dom_root"]['"V753"'] == v7
    assert (w['"V753"'] > w['"V53"']) == (v7 > v + 1)  # one more "V" in the deceptive phrase
    assert result.parsed == result.phrases == len(corpus)


def test_learned_weights_change_sampling_in_the_expected_direction(harmony):
    many_v7 = [["I", "IV", "V7", "I"]] * 12 + [["I", "ii65", "V7", "I"]] * 4
    many_v = [["I", "IV", "V", "I"]] * 12 + [["I", "ii65", "V", "I"]] * 4
    base = _share_v7(harmony)
    up = _share_v7(harmony.with_weights(fit_weights(harmony, many_v7).weights))
    down = _share_v7(harmony.with_weights(fit_weights(harmony, many_v).weights))
    assert down < base < up


def test_grammar_fit_command_writes_weights_the_sampler_uses(tmp_path, capsys):
    corpus = tmp_path / "c.rntxt"
    corpus.write_text("Time Signature: 4/4\n\nm1 C: I b2 IV b3 V7 b4 I ||\nm2 I b2 ii65 b3 V7 b4 I ||\n"
                      "m3 I b2 IV b3 V b4 vi ||\nm4 I b2 IV b3 V b4 V\n")
    out = tmp_path / "w.json"
    assert main(["grammar", "fit", "harmony", str(corpus), "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["grammar"] == "harmony" and data["parsed"] == 4 and data["phrases"] == 4
    assert data["counts"]["dom_root"] == {'"V53"': 1, '"V753"': 2}  # V in the DC, V7 in two PACs
    assert "start" not in data["weights"]  # no evidence above phrases: the file's own weights stay
    weighted = load("harmony", weights=out)
    assert weighted.rules["dom_root"].alternatives[1].weight == 2.5
    assert main(["plan", "--weights", str(out), "--bars", "8"]) == 0
    assert json.loads(capsys.readouterr().out)["bars"] == 8


def _phrases(rows, mode="major"):
    return [{"tokens": row.split(), "mode": mode} for row in rows]


def test_smoothing_keeps_unused_alternatives_in_the_language_and_backs_off_to_the_written_weights():
    from partimento.grammar.fit import count_phrases, smoothed_weights

    written = load("harmony", weights=False)
    counts, parsed = count_phrases(written, _phrases(["I IV V7 I"] * 3))
    assert parsed == 3
    bare = written.with_weights(smoothed_weights(written, counts, 0.0))
    smoothed = written.with_weights(smoothed_weights(written, counts, 1.0))
    unseen = ["I", "ii65", "V7", "I"]  # ii65 is never used by the counted phrases
    assert not bare._parser.parse_tokens(unseen)[0]  # weight 0: outside the language
    assert smoothed._parser.parse_tokens(unseen)[0]
    uniform = smoothed_weights(written, counts, 1.0, "uniform")["tonic_root"]
    backoff = smoothed_weights(written, counts, 1.0, "written")["tonic_root"]
    # tonic_root's written weights: "I53" 1 in major, "i53" 4 and "I53" 0.5 in minor (Picardy)
    rule = written.rules["tonic_root"]
    mean = sum(a.weight for a in rule.alternatives) / len(rule.alternatives)
    assert backoff['"i53" [minor]'] == pytest.approx(4 / mean)  # never counted: the written share alone
    assert uniform['"i53" [minor]'] == 1.0
    with pytest.raises(InputError, match="prior"):
        smoothed_weights(written, counts, 1.0, "flat")


def test_cross_validation_prefers_a_smoothing_that_parses_the_held_out_half():
    from partimento.grammar.fit import cross_validate_smoothing, heldout_log_likelihood

    written = load("harmony", weights=False)
    halves = {"a": _phrases(["I IV V7 I", "I ii65 V7 I"]), "b": _phrases(["I IV V7 I", "I vi ii65 V I"])}
    cv = cross_validate_smoothing(written, halves, candidates=(0.0, 1.0), priors=("uniform",))
    assert cv["best"] == {"prior": "uniform", "smoothing": 1.0}
    rows = {e["smoothing"]: e for e in cv["table"]}
    assert rows[0.0]["parsed"] < rows[1.0]["parsed"] == 4
    assert rows[0.0]["held_out_log_prob"] == float("-inf") < rows[1.0]["held_out_log_prob"] < 0
    scored = heldout_log_likelihood(written, halves["a"] + _phrases(["V ii I IV"]))
    assert scored["parsed"] == 2 and scored["unparsed"] == 1 and scored["nats_per_chord"] > 0


def test_the_development_corpus_reader_refuses_a_test_chorale(tmp_path):
    from partimento.grammar.corpus import development_files

    (tmp_path / "manifest.json").write_text(json.dumps({"files": [
        {"file": "bach/001.rntxt", "chorale_split": "train"}, {"file": "bach/002.rntxt", "chorale_split": "test"}]}))
    with pytest.raises(InputError, match="002.rntxt is a test chorale"):
        development_files(tmp_path)
    with pytest.raises(InputError, match="no manifest"):
        development_files(tmp_path / "missing")
