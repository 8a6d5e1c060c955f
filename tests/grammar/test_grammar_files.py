"""Loading grammar files: annotations, weights, and rejecting what cannot terminate."""
from __future__ import annotations

import pytest

from partimento.grammar import available_grammars, load
from partimento.grammar.errors import GrammarError, GrammarSyntaxError

HEADER = "// @grammar durations=1:1 final=1:1\nstart: phrases\nphrases: phrase | phrases phrase\n// @phrase bars=1\n"


def _write(tmp_path, body: str, name: str = "g.lark"):
    p = tmp_path / name
    p.write_text(HEADER + body)
    return p


def test_shipped_grammars_are_there():
    assert set(available_grammars()) >= {"harmony", "chorale", "period", "sentence", "binary", "ternary", "blues"}


def test_weights_annotations_and_optional_parts(tmp_path):
    g = load(_write(tmp_path, 'phrase: "I" "IV" ["ii"] "V"  // w=3 cadence=HC\n'
                              '      | "I" "V" "V" "I"   // w=1 cadence=PAC\n'))
    alts = g.rules["phrase"].alternatives
    assert [a.symbols for a in alts] == [('"I"', '"IV"', '"ii"', '"V"'), ('"I"', '"IV"', '"V"'),
                                         ('"I"', '"V"', '"V"', '"I"')]
    assert [a.weight for a in alts] == [3, 3, 1] and alts[0].cadence == "HC"
    plan = g.sample(bars=8, metre="4/4", seed=1)
    assert {p.cadence for p in plan.phrases} <= {"HC", "PAC"}


def test_unbounded_and_non_productive_rules_are_rejected_with_the_rule_named(tmp_path):
    with pytest.raises(GrammarError, match="rule x can derive itself|rule y can derive itself"):
        load(_write(tmp_path, 'phrase: x\nx: y | "I"\ny: x\n'))
    with pytest.raises(GrammarError, match="rule loop is non-productive"):
        load(_write(tmp_path, 'phrase: "I" | loop\nloop: "V" loop\n'))
    with pytest.raises(GrammarError, match="not defined"):
        load(_write(tmp_path, 'phrase: missing\n'))


def test_syntax_errors_carry_line_and_column(tmp_path):
    with pytest.raises(GrammarSyntaxError) as info:
        load(_write(tmp_path, 'phrase: "I" ( "V"\n'))
    assert info.value.location.line == 5
    with pytest.raises(GrammarSyntaxError) as info:
        load(_write(tmp_path, 'phrase: "I"+\n'))
    assert info.value.location.line == 5 and info.value.location.column == 12


def test_unknown_grammar_lists_the_available_ones():
    with pytest.raises(GrammarError) as info:
        load("no-such-grammar")
    assert "harmony" in info.value.expected and "chorale" in info.value.expected


def test_repeat_binds_one_derivation(tmp_path):
    g = load(_write(tmp_path, 'phrase: idea idea "V" "I"   // repeat cadence=PAC\n'
                              'idea: "I" | "IV" | "vi" | "ii" | "iii"\n'))
    for seed in range(20):
        figs = [c.figure for c in g.sample(bars=1, seed=seed).chords]
        assert figs[0] == figs[1] and figs[2:] == ["V", "I"]


def test_mode_annotations_keep_minor_figures_out_of_major(grammars):
    for seed in range(20):
        major = grammars["harmony"].sample(key="C", bars=8, seed=seed, modulate=False)
        assert not {"VI", "III", "It6", "N", "v"} & {c.figure for c in major.chords}   # minor-only chords
        minor = grammars["harmony"].sample(key="c", bars=8, seed=seed, modulate=False)
        assert not {"vi", "iii", "vi7", "I7", "V/vi"} & {c.figure for c in minor.chords}  # major-only chords


def test_a_grammar_loaded_again_is_shared_until_its_files_change(tmp_path):
    """load keeps what it built (the sampling tables are most of a first plan's time), keyed by the texts."""
    from partimento.grammar.grammar import Grammar, _resolve, companion_weights, read_source
    from partimento.grammar.weights import read_weights

    g = load("chorale")
    assert load("chorale") is g and load("chorale", weights=False) is not g
    name, path, text = _resolve("chorale")
    fresh = Grammar(read_source(text, name, path), read_weights(companion_weights(path)))
    for seed in range(3):  # a shared grammar that has sampled before samples what a fresh one does
        g.sample(key="a", bars=8, seed=seed + 10)
        assert g.sample(key="C", bars=16, seed=seed).to_rntxt() == fresh.sample(key="C", bars=16, seed=seed).to_rntxt()

    p = _write(tmp_path, 'phrase: "I" "IV" "V" "I"  // cadence=PAC\n')
    first = load(p)
    assert load(p) is first
    p.write_text(p.read_text().replace('"IV"', '"ii"'))  # an edited file is read again
    edited = load(p)
    assert edited is not first and edited.rules["phrase"].alternatives[0].symbols[1] == '"ii"'
    w = tmp_path / "w.json"
    w.write_text('{"weights": {"phrases": {"phrase": 2.0}}}')
    weighted = load(p, weights=w)
    assert weighted is not edited and load(p, weights=w) is weighted
    w.write_text('{"weights": {"phrases": {"phrase": 3.0}}}')  # so is an edited weights file
    assert load(p, weights=w) is not weighted
    assert load(p, weights={"phrases": {"phrase": 2.0}}) is not load(p, weights={"phrases": {"phrase": 2.0}})
