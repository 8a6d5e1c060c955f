"""The surface rule: a seventh in the bass falls by step (grammar/bass_line.py)."""
from __future__ import annotations

import pytest

from partimento.grammar import available_grammars
from partimento.grammar.bass_line import bass_facts, bass_step_ok, first_unresolved_bass_seventh, seventh_in_bass


def test_which_figures_put_the_seventh_in_the_bass():
    assert all(seventh_in_bass(f) for f in ("V2", "V2/IV", "ii2", "iiø2", "IV2", "viiø2", "viio2", "v2"))
    assert not any(seventh_in_bass(f) for f in ("V", "V7", "V65", "V43", "I6", "ii65", "XYZ"))


@pytest.mark.parametrize("fig,key,nxt,ok", [
    ("V2", "C", "I6", True),      # F falls to E
    ("V2", "C", "I", False),      # F would leap to C
    ("V2", "C", "V7", True),      # same root: the seventh may move within the harmony
    ("V2", "C", "IV", True),      # the bass holds F
    ("V2/IV", "C", "IV6", True),  # B- to A
    ("V2/IV", "C", "IV", False),
    ("iiø2", "a", "V6", True),    # A to G#
    ("viiø2", "C", "I64", True),  # A to G
    ("viiø2", "C", "I", False),
    ("V2", "e-", "i6", True),
    ("V", "C", "vi", True),       # no seventh in the bass: no constraint
])
def test_bass_step_ok(fig, key, nxt, ok):
    assert bass_step_ok(fig, key, nxt, key) is ok


def test_facts_are_transposed_and_key_changes_are_followed():
    assert bass_facts("V2", "C").bass == 5 and bass_facts("V2", "D").bass == 7 and bass_facts("V2", "g").bass == 0
    # V2 in G (bass C) to a chord of C major whose bass is B: V6 of C
    assert bass_step_ok("V2", "G", "V6", "C")
    assert first_unresolved_bass_seventh([("I", "C"), ("V2", "C"), ("I6", "C")]) is None
    assert first_unresolved_bass_seventh([("I", "C"), ("V2", "C"), ("I", "C")]) == 1
    assert bass_facts("XYZ", "C") is None and first_unresolved_bass_seventh([("XYZ", "C"), ("I", "C")]) is None


@pytest.mark.parametrize("name", available_grammars())
def test_sampled_plans_always_give_a_bass_seventh_its_step_down(grammars, name):
    """No grammar samples V2 - I or V2/IV - IV: the chord after a bass seventh has its bass a step below."""
    g = grammars[name]
    settings = [("C", 12, "4/4"), ("g", 24, "4/4")] if name == "blues" else \
        [("C", 8, "4/4"), ("a", 8, "3/4"), ("E-", 16, "4/4"), ("f#", 16, "4/4")]
    sevenths = 0
    for seed in range(150):
        key, bars, metre = settings[seed % len(settings)]
        plan = g.sample(key=key, bars=bars, metre=metre, seed=seed)
        chords = plan.chords
        for a, b in zip(chords, chords[1:]):
            if seventh_in_bass(a.figure):
                sevenths += 1
                sa, sb = a.spec, b.spec
                assert sa.root == sb.root or (sa.bass - sb.bass) % 12 in (0, 1, 2), (seed, a.figure, b.figure)


def test_an_open_chord_after_a_bass_seventh_is_fixed_in_the_inversion_that_resolves_it(tmp_path):
    """V42 then a tonic left open: the sampler writes I6 (the seventh falls a step), fixed."""
    from partimento.grammar import load

    g = tmp_path / "g.lark"
    g.write_text('// @grammar durations=1:1 final=2:1\nstart: phrases\nphrases: phrase | phrases phrase\n'
                 '// @phrase bars=2\nphrase: "I" "IV" "V42" tonic "ii" "V" "I"   // cadence=PAC\n'
                 'tonic: "I" | "I7"\n')
    grammar = load(g)
    seen = set()
    for seed in range(20):
        plan = grammar.sample(key="D", bars=2, seed=seed)
        after = plan.chords[3]
        assert after.figure in ("I6", "I65") and not after.inversion_open, after
        seen.add(after.figure)
        assert first_unresolved_bass_seventh([(c.figure, c.key) for c in plan.chords]) is None
        assert plan.chords[1].inversion_open  # an open chord elsewhere stays open
    assert seen == {"I6", "I65"}


def test_the_precomputed_figure_table_is_music21s_and_covers_every_shipped_chord(grammars):
    """grammar/bass_line_figures.json (tools/gen_grammars.py) keeps sampling free of music21."""
    import json

    from partimento.grammar.bass_line import TABLE_PATH, figure_table
    from partimento.grammar.sampler import is_chord_literal, literal_value

    figures = {literal_value(s) for g in grammars.values() for r in g.source.rules.values()
               for a in r.alternatives for s in a.symbols if is_chord_literal(s)}
    table = json.loads(TABLE_PATH.read_text())
    assert figures <= set(table["major"]) and figures <= set(table["minor"])
    assert figure_table(figures) == {m: {f: table[m][f] for f in sorted(figures)} for m in ("major", "minor")}
