"""What the harmony grammar (grammar/grammars/harmony.lark) accepts and rejects.

The accepted phrases are Bach's, from the When-in-Rome analyses of the development corpus
and music21's Riemenschneider analyses; each exercises one general rule of the grammar.
Discrimination: random phrases are mostly rejected, and the retrogressions and open
endings the rules do not name are rejected too.
"""
from __future__ import annotations

import random

import pytest

from partimento.grammar.analysis import plan_from_romantext
from partimento.grammar.theory import chord_identity, is_open_figure

PHRASES = {  # rule: (mode, phrase)
    # tonicization: applied dominants and leading-tone chords of any degree, any inversion, chains
    "applied leading-tone seventh in inversion": ("minor", "i iiø2 V65 viio64/iv iv6 i64 viio7/V V"),
    "chain of applied dominants (V/ii V/V V)": ("major", "I V6/ii V65/V V V7 I"),
    "tonicized predominant, then the dominant": ("major", "I6 IV V2/IV IV6 V65 I"),
    "predominant of the applied key (ii7/V V43/V)": ("major", "I IV6 I ii7/V V43/V V I"),
    "melodic minor's raised sixth as viiø7/V": ("minor", "III III6 viø7 V6 V65 i iv V"),
    # the diatonic circle of fifths and scale-degree substitution
    "fifth descent vi ii V I": ("major", "I vi7 ii7 V7 I"),
    # prolongations
    "cadential 6/4": ("major", "I IV I64 V7 I"),
    "passing 6/4 (I V64 I6)": ("major", "I V64 I6 ii65 V I"),
    "neighbour 6/4 over the tonic pedal": ("major", "I IV64 I V7 I"),
    "6/3 chain I V6 IV6": ("major", "I V6 IV6 I6 V7 I"),
    "6/3 chain, the minor's descending bass": ("minor", "i v6 iv6 V i"),
    "the dominant through a passing IV6": ("major", "I V IV6 V65 I"),
    # modulation: closely related keys, the minor's bIII and bVII, chains
    "to the dominant with a pivot": ("major", "I V6 I V @V viio6 I6 V V7 I"),
    "to the relative major (minor)": ("minor", "i v @III V V2 I6 I IV6 viio6 viio V7 I"),
    "to the subtonic (minor)": ("minor", "i @VII V6 V IV6 viiø7 I ii65 V V7 I"),
    "a chain of key changes": ("major", "I @IV V2 I6 viio6 I I @ii iv6 V7 i @v V iv6 V"),
    # phrase endings
    "perfect authentic": ("major", "I ii65 V V7 I"),
    "imperfect authentic (inverted dominant)": ("major", "I IV V65 I"),
    "half cadence": ("major", "I IV6 ii V"),
    "Phrygian half cadence": ("minor", "i i6 iv6 V"),
    "deceptive": ("major", "I ii65 V V7 vi"),
    "plagal": ("major", "I V I IV I"),
    "close on a tonicized IV": ("major", "I I viio6 I6 vi V7 I V7/IV IV"),
    "stop on V of vi": ("major", "I6 IV ii7 V/vi"),
    "Picardy third": ("minor", "i iv6 V7 I"),
    # spellings: chords matched by identity
    "IVmaj7 is IV7": ("major", "I IVmaj65 V7 I"),
    "vii/o7 is viiø7": ("major", "I vii/o7 I6 V I"),
}


@pytest.mark.parametrize("rule", sorted(PHRASES))
def test_bach_phrases_parse(harmony, rule):
    mode, text = PHRASES[rule]
    ok, err = harmony._parser.parse_tokens(text.split(), mode)
    assert ok, (rule, str(err))


@pytest.mark.parametrize("mode,text", [
    ("major", "I V ii V I"),            # no retrogression from V to ii ...
    ("major", "I V IV V I"),            # ... or to IV, except through a named passing six-chord
    ("minor", "i V iv V i"),
    ("major", "I IV V7"),               # a half cadence rests on the dominant triad, not V7
    ("major", "I V I ii"),              # a phrase does not stop on ii
    ("major", "I V/vi I"),              # an applied dominant goes to its own degree
])
def test_what_the_rules_do_not_allow(harmony, mode, text):
    ok, _ = harmony._parser.parse_tokens(text.split(), mode)
    assert not ok, text


def test_terminals_match_chord_identity_and_plain_figures_any_inversion():
    assert chord_identity("IVmaj7", "major") == chord_identity("IV7", "major")
    assert chord_identity("viiø7", "major") == chord_identity("vii/o7", "major")
    assert chord_identity("viiø65", "major").chord == chord_identity("viiø7", "major").chord
    assert chord_identity("viiø65", "major").bass != chord_identity("viiø7", "major").bass
    assert chord_identity("V/V", "minor") == chord_identity("V/v", "minor")
    assert chord_identity("V/V", "major") != chord_identity("II", "major")  # the tonicization counts
    assert chord_identity("V7[no5]", "major") == chord_identity("V7", "major")
    assert chord_identity("Xyz7", "major") is None
    assert is_open_figure("V7") and is_open_figure("viio7/V") and is_open_figure("IVmaj7")
    assert not any(is_open_figure(f) for f in ("V6", "V65", "V53", "V753", "I64", "It6", "Cad64"))


def test_plain_figures_match_every_inversion_and_fixed_figures_one(harmony):
    parser = harmony._parser
    for figure in ("V7", "V65", "V43", "V42"):  # "V7" in the grammar's dominant class is open
        assert parser.parse_tokens(["I", figure, "I6", "V", "I"], "major")[0], figure
    assert parser.parse_tokens("I ii65 V V7 I".split(), "major")[0]
    assert not parser.parse_tokens("I ii65 V V65 I6 V65".split(), "major")[0]  # a half cadence on V65: no ...
    assert parser.parse_tokens("I ii65 V V65 I6 V6".split(), "major")[0]       # ... on the triad, any inversion


def test_a_grammar_terminal_music21_cannot_read_is_located(tmp_path):
    from partimento.grammar import load
    from partimento.grammar.errors import GrammarError

    g = tmp_path / "g.lark"
    g.write_text('start: phrases\nphrases: phrase\n// @phrase\nphrase: "I" "Xyz7" "V" "I"\n')
    with pytest.raises(GrammarError) as info:
        load(g).parse(["I", "V", "I"])
    assert info.value.location.line == 4 and info.value.location.column == 13 and "Xyz7" in info.value.message


def test_a_chord_written_after_a_phrase_end_without_a_beat_does_not_steal_the_closing_chord():
    text = "Time Signature: 4/4\nm1 C: I b2 IV b3 I || a: V b4 V6\nm2 i b3 V b4 i ||\n"
    plan = plan_from_romantext(text)
    first = [c.figure for c in plan.chords if c.phrase == 0]
    assert first == ["I", "IV", "I"] and plan.chords[3].figure == "V6" and plan.chords[3].phrase == 1


def test_the_end_of_a_repeated_section_ends_a_phrase():
    text = "Time Signature: 4/4\nm1 C: I b2 V b3 I :|| b4 V\nm2 I b2 IV b3 V b4 I ||\n"
    plan = plan_from_romantext(text)
    assert [[c.figure for c in plan.chords if c.phrase == i] for i in range(len(plan.phrases))] == \
        [["I", "V", "I"], ["V", "I", "IV", "V", "I"]]


def test_random_phrases_are_mostly_rejected(harmony, chorale_dir):
    """The issue's discrimination test, small: 8 figures drawn uniformly from the corpus vocabulary."""
    vocab: dict[str, set[str]] = {"major": set(), "minor": set()}
    for i in range(1, 11):
        for c in plan_from_romantext(chorale_dir / f"riemenschneider{i:03d}.rntxt").chords:
            vocab["minor" if c.key[0].islower() else "major"].add(c.figure)
    rng = random.Random(0)
    n, rejected = 300, 0
    for k in range(n):
        mode = "major" if k % 2 == 0 else "minor"
        phrase = rng.choices(sorted(vocab[mode]), k=8)
        rejected += not harmony._parser.parse_tokens(phrase, mode)[0]
    assert rejected / n >= 0.8
