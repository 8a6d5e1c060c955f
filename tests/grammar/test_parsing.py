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
    assert "I53" in err.expected  # after I V IV: the plagal cadence's root-position tonic
    d = result.to_dict()
    assert d["phrases"][1]["error"]["measure"] == 2 and d["phrases"][1]["parsed"] is False


def test_token_lists_and_unknown_figures(harmony):
    assert harmony.parse(["I", "IV", "V7", "I"]).ok
    assert harmony.parse(["i", "iv", "V", "i"]).ok  # read in minor when major fails
    bad = harmony.parse(["I", "IV", "Vx", "I"]).phrases[0]
    assert not bad.parsed and bad.error.token == "Vx" and bad.error.index == 2


def test_music21_streams_parse(harmony):
    """A stream carries no phrase ends, so a one-phrase plan goes through."""
    plan = harmony.sample(key="g", bars=4, seed=2, phrase_bars=4)
    result = harmony.parse(plan.to_stream())
    assert result.ok and len(result.phrases) == 1


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


def _lark_of(parser, vocabulary):
    """The compiled grammar as plain Lark (Lark's public API): each (token, mode) of ``vocabulary``
    is a code word, and each terminal a regular expression over the code words it matches."""
    codes = {}
    by_terminal: dict[int, list[str]] = {}
    for tok in vocabulary:
        for mode in (0, 1):
            code = codes[(tok, mode)] = f"t{len(codes)} "
            for tid in parser.matches(tok, mode)[0]:
                by_terminal.setdefault(tid, []).append(code.strip())
    lines = []
    earley = parser.earley
    for a in sorted(set(earley.lhs)):
        alts = [" ".join(f"n{x}" if x < earley.n_nt else f"T{x}" for x in earley.rhs[p])
                for p in earley.by_lhs[a]]
        lines.append(f"n{a}: " + " | ".join(alts))
    for tid in range(earley.n_nt, earley.n_nt + len(parser.terminals)):
        words = by_terminal.get(tid)
        lines.append(f"T{tid}: /(?:{'|'.join(words)}) /" if words else f'T{tid}: "never{tid} "')
    return "\n".join(lines) + "\n", codes


def test_the_earley_parser_agrees_with_larks(harmony):
    """``parse`` runs partimento's own Earley parser (terminals matched by chord identity); Lark's
    Earley parser, given the same grammar with chords written as code words, accepts the same phrases."""
    import random

    from lark import Lark
    from lark.exceptions import LarkError

    from partimento.grammar.parsing import token_modes

    parser = harmony._parser
    vocab = ["I", "I6", "IV", "ii", "ii65", "V", "V7", "V6", "vi", "viio6", "I64", "V/V", "@V", "i", "iv6", "VI"]
    lark_text, codes = _lark_of(parser, vocab)
    starts = {m: f"n{parser.nt[(harmony.source.parse_start, i)]}" for i, m in enumerate(("major", "minor"))}
    lark = Lark(lark_text, parser="earley", lexer="dynamic", start=list(starts.values()))
    rng = random.Random(0)
    phrases = [rng.choices(vocab, k=rng.randint(2, 6)) for _ in range(60)]
    phrases += [["I", "IV", "V", "I"], ["I", "V6", "I", "ii65", "I64", "V7", "I"], ["I", "@V", "ii", "V7", "I"]]
    accepted = 0
    for toks in phrases:
        for mode in ("major", "minor"):
            ok, _ = parser.parse_tokens(toks, mode)
            modes = token_modes(toks, mode)
            text = "".join(codes[(t, ("major", "minor").index(m))] for t, m in zip(toks, modes))
            try:
                lark.parse(text, start=starts[mode])
                lark_ok = True
            except LarkError:
                lark_ok = False
            assert ok == lark_ok, (toks, mode)
            if ok:
                accepted += 1
                tree = parser.tree(toks, mode)  # the most probable tree spans the phrase, token by token
                assert [str(t) for t in tree.scan_values(lambda v: True)] == toks
    assert accepted >= 3
