"""``partimento explain``: a score partimento wrote regenerates and explains; others get the checker's view."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from partimento.hybrid import compose
from partimento.hybrid.cli import main
from partimento.hybrid.explain_file import checkpoint_id, decode_runs, encode_runs, read_provenance

sys.path.insert(0, str(Path(__file__).parents[1] / "grammar" / "rules"))
from exercises import build  # noqa: E402


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    result = compose("chorale", key="F", bars=2, seed=5, record=True)  # the shipped model
    path = tmp_path_factory.mktemp("explain") / "chorale.musicxml"
    result.write(path)
    return result, path


def _run(capsys, *argv):
    code = main(["explain", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_file_carries_what_regenerates_it(written):
    result, path = written
    prov = read_provenance(path)
    assert prov["seed"] == 5 and prov["checkpoint"] == checkpoint_id() and prov["profile"] == "strict"
    assert prov["plan"].to_dict() == result.plan.to_dict()
    assert (prov["tokens"] == result.tokens).all() and prov["forced"] is None
    assert prov["sampling"]["top_p"] == 0.95 and prov["rules"] == result.trace.rules
    assert decode_runs(encode_runs(result.tokens)) == result.tokens.reshape(-1).tolist()


def _without_history(d: dict) -> dict:
    """An explanation without what only the search's history knows (tried tokens, backtracks, p_final)."""
    d = json.loads(json.dumps(d))
    d.pop("notes", None), d.pop("backtracks"), d["decision"].pop("tried")
    for c in d["candidates"]:
        c.pop("p_final")
        c["removed_by"] = [r for r in c["removed_by"] if r["layer"] != "search:tried"]
    return d


def _same(got, want) -> bool:
    """Equal, probabilities to float rounding (the replay reads the prefix in one batched pass, the decoder step by step)."""
    if isinstance(want, float) and isinstance(got, (int, float)):
        return math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-8)
    if isinstance(want, dict):
        return isinstance(got, dict) and got.keys() == want.keys() and all(_same(got[k], want[k]) for k in want)
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(_same, got, want))
    return got == want


@pytest.mark.parametrize("spot", [(2, 1, "tenor"), (1, 2, "soprano"), (1, 3.5, "alto"), (2, 4, "bass")])
def test_explain_from_the_file_equals_the_result_s_own(written, capsys, spot):
    result, path = written
    m, b, v = spot
    code, out, err = _run(capsys, path, "--measure", m, "--beat", b, "--voice", v, "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    want = result.explain(m, b, v).to_dict()
    assert got["source"] == "decoder" and any("replayed" in n for n in got["notes"])
    if not want["decision"]["tried"] and not want["backtracks"]:  # no search history here: all of it
        got.pop("notes"), want.pop("notes")
        assert _same(got, want)
    assert _same(_without_history(got), _without_history(want))


def test_regenerating_gives_the_recorded_explanation_with_its_history(written, capsys):
    result, path = written
    code, out, err = _run(capsys, path, "--measure", 2, "--beat", 1, "--voice", "alto", "--regenerate",
                          "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    assert any("regenerated" in n for n in got["notes"])
    want = result.explain(2, 1, "alto").to_dict()
    got.pop("notes"), want.pop("notes")
    assert got == want
    code, out, _ = _run(capsys, path, "--measure", 1, "--beat", 2, "--voice", "s")
    assert code == 0 and "measure 1, beat 2, soprano:" in out and "candidates" in out


def test_an_edited_score_gets_the_checker_s_view(written, tmp_path, capsys):
    _, path = written
    text = path.read_text()
    i = text.index("<octave>")
    octave = int(text[i + 8])
    edited = tmp_path / "edited.musicxml"
    edited.write_text(text[:i + 8] + str(octave - 1) + text[i + 9:])
    code, out, err = _run(capsys, edited, "--measure", 1, "--beat", 1, "--voice", "alto", "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    assert got["source"] == "checker" and any("edited" in n for n in got["notes"])


def test_another_checkpoint_falls_back_to_the_checker_s_view(written, tmp_path, capsys):
    _, path = written
    text = path.read_text().replace(checkpoint_id(), "sha256:" + "0" * 64)
    other = tmp_path / "other.musicxml"
    other.write_text(text)
    code, out, err = _run(capsys, other, "--measure", 2, "--beat", 1, "--voice", "alto", "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    assert got["source"] == "checker" and got["candidates"] == []
    assert any("checkpoint" in n and "checker's view" in n for n in got["notes"])
    assert got["chord"]["figure"] and got["note"]["role"]


def test_a_plain_score_gets_the_checker_s_view_with_fixes(tmp_path, capsys):
    path = tmp_path / "exercise.musicxml"
    build(["C5 G4 E4 C3", "C5 A4 F4 F3", "B4 G4 D4 G3", "C5 G4 G3 C3"], "C").write("musicxml", fp=str(path))
    code, out, err = _run(capsys, path, "--measure", 1, "--beat", 4, "--voice", "tenor", "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    assert got["source"] == "checker" and got["note"] == {"pitch": "G3", "midi": 55, "role": "chord tone"}
    assert got["chord"]["key"] == "C" and got["chord"]["figure"]
    (v,) = got["violations"]
    assert v["rule"] == "parallel-fifths" and v["fixes"]
    code, out, _ = _run(capsys, path, "--measure", 1, "--beat", 4, "--voice", "tenor")
    assert "parallel-fifths" in out and "suggested fix" in out


@pytest.mark.parametrize("args, words", [
    (("--measure", 7, "--beat", 1, "--voice", "alto"), "measure 7"),
    (("--measure", 1, "--beat", 9, "--voice", "alto"), "no such beat"),
    (("--measure", 1, "--beat", 1, "--voice", "viola"), "unknown voice"),
])
def test_bad_spots_exit_2_with_a_located_message(written, tmp_path, capsys, args, words):
    _, path = written
    plain = tmp_path / "plain.musicxml"
    build(["C5 G4 E4 C3", "C5 A4 F4 F3"], "C").write("musicxml", fp=str(plain))
    for f in (path, plain):
        code, out, err = _run(capsys, f, *args)
        assert code == 2 and out == "" and "Traceback" not in err
        assert words in err and f.name in err or words == "unknown voice" and words in err


def test_a_missing_file_exits_2(tmp_path, capsys):
    code, _, err = _run(capsys, tmp_path / "nope.musicxml", "--measure", 1, "--beat", 1, "--voice", "alto")
    assert code == 2 and "nope.musicxml" in err and "no such file" in err


def test_a_regeneration_that_takes_another_path_falls_back_to_the_replay(written, monkeypatch):
    from partimento.hybrid import explain_file as ef

    result, path = written

    def other_path(prov, checkpoint):
        other = result.__class__(result.plan, result.tokens.copy(), result.pitch, result.attack)
        other.tokens[-1, 0] += 1
        return other

    monkeypatch.setattr(ef, "_regenerate", other_path)
    ex = ef.explain_file(path, 2, 1, "alto", regenerate=True)
    assert ex.source == "decoder" and any("did not reproduce" in n for n in ex.notes)
    want = result.explain(2, 1, "alto").to_dict()
    assert _same([c["p_model"] for c in ex.to_dict()["candidates"]], [c["p_model"] for c in want["candidates"]])
