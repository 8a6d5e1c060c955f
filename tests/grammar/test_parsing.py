"""Parsing analyses: RomanText files, text, streams and token lists, with located errors."""
from __future__ import annotations

import pytest

from partimento.grammar.analysis import label_cadence, normalize_figure, plan_from_romantext
from partimento.grammar.errors import PlanError
from partimento.grammar.sampler import key_relation, relative_key

RNTXT = """Composer: test
Title: two phrases
Time Signature: 4/4

m1 C: I b2 IV b3 V b4 I ||
m2 I b2 ii65 b3 V7 b4 vi ||
m3 I b2 IV6 b3 V6/V b4 V
m4 I b3 G: V7 b4 I
"""


def test_romantext_phrases_come_from_double_bars_and_keys_are_local(harmony):
    plan = plan_from_romantext(RNTXT)
    assert [(p.start, p.end) for p in plan.phrases] == [(0.0, 4.0), (4.0, 8.0), (8.0, 16.0)]
    assert [p.cadence for p in plan.phrases] == ["PAC", "DC", "PAC"]
    assert plan.chords[-1].key == "G" and plan.metre == "4/4" and plan.bars == 4
    result = harmony.parse(RNTXT)
    assert [p.parsed for p in result.phrases] == [True, True, True]
    assert result.phrases[2].tokens[-3:] == ["@V", "V7", "I"]
    assert result.phrases[0].tree is not None and result.phrases[0].tree.data == "phrase__maj__0"


def test_an_unparsable_phrase_is_located_at_measure_and_beat_with_expectations(harmony):
    text = RNTXT.replace("m2 I b2 ii65 b3 V7 b4 vi ||", "m2 I b2 V b3 IV b4 ii ||")
    result = harmony.parse(text)
    bad = result.phrases[1]
    assert not bad.parsed and result.coverage == pytest.approx(2 / 3)
    err = bad.error
    assert (err.measure, err.beat) == (2, 4.0) and "ii" in err.token
    assert "I" in err.expected
    d = result.to_dict()
    assert d["phrases"][1]["error"]["measure"] == 2 and d["phrases"][1]["parsed"] is False


def test_token_lists_and_unknown_figures(harmony):
    assert harmony.parse(["I", "IV", "V7", "I"]).ok
    assert harmony.parse(["i", "iv", "V", "i"]).ok  # read in minor when major fails
    bad = harmony.parse(["I", "IV", "Vx", "I"]).phrases[0]
    assert not bad.parsed and bad.error.token == "Vx" and bad.error.index == 2


def test_music21_streams_parse(harmony):
    plan = harmony.sample(key="g", bars=4, seed=2)
    result = harmony.parse(plan.to_stream())
    assert result.ok


def test_the_corpus_mostly_parses(harmony, chorale_dir):
    files = [chorale_dir / f"riemenschneider{i:03d}.rntxt" for i in (1, 12)]
    results = [harmony.parse(f) for f in files]
    phrases = [p for r in results for p in r.phrases]
    assert len(phrases) >= 10
    assert sum(p.parsed for p in phrases) / len(phrases) >= 0.6
    assert all(p.error is not None for p in phrases if not p.parsed)


@pytest.mark.parametrize("text,message", [
    ("", "empty"),
    ("   \n", "empty"),
    ("Time Signature: 4/4\n", "cannot read"),
    ("Composer: x\nm1 C: I ||\nm2 ||", "no chords"),
])
def test_bad_romantext_raises_plan_errors(harmony, text, message):
    with pytest.raises(PlanError, match=message):
        harmony.parse(text)


def test_an_empty_token_list_is_a_phrase_with_no_chords(harmony):
    with pytest.raises(PlanError, match="no chords"):
        harmony.parse([])


def test_helpers():
    assert normalize_figure("V6/5") == "V65" and normalize_figure("V7/IV") == "V7/IV"
    assert normalize_figure("vi6/5/V") == "vi65/V"
    assert label_cadence("V7", "I") == "PAC" and label_cadence("V", "vi") == "DC"
    assert label_cadence("IV", "I") == "PC" and label_cadence("I", "V") == "HC" and label_cadence("V", "I6") == "IAC"
    for key in ("C", "a", "B-", "f#", "E-"):
        for numeral in ("V", "IV", "vi", "ii", "iii", "I", "i"):
            other = relative_key(key, numeral) if key[0].isupper() else relative_key(key, numeral.swapcase())
            assert relative_key(key, key_relation(key, other)) == other
    assert relative_key("C", "V") == "G" and relative_key("a", "III") == "C" and relative_key("B-", "vi") == "g"
    assert relative_key("f#", "III") == "A" and relative_key("E-", "iii") == "g"


def test_the_fast_recognizer_agrees_with_larks_earley_parser(harmony):
    """``parse`` decides with the integer Earley recognizer; Lark builds the trees: same language."""
    import random

    from lark.exceptions import UnexpectedInput

    parser = harmony._parser
    vocab = ["I", "I6", "IV", "ii", "ii65", "V", "V7", "V6", "vi", "viio6", "I64", "V/V", "@V", "i", "iv6", "VI"]
    rng = random.Random(0)
    phrases = [rng.choices(vocab, k=rng.randint(2, 7)) for _ in range(150)]
    phrases += [["I", "IV", "V", "I"], ["I", "V6", "I", "ii65", "I64", "V7", "I"], ["I", "@V", "ii", "V7", "I"]]
    agree = accepted = 0
    for toks in phrases:
        for mode in ("major", "minor"):
            ok, _ = parser.parse_tokens(toks, mode)
            try:
                parser.tree(toks, mode)
                lark_ok = True
            except UnexpectedInput:
                lark_ok = False
            assert ok == lark_ok, (toks, mode)
            accepted += ok
            agree += 1
    assert accepted >= 3 and agree == 2 * len(phrases)
