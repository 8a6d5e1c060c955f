"""What the harmony grammar (grammar/grammars/harmony.lark) accepts and rejects.

The phrases are Bach's, from the Riemenschneider analyses that ship with music21; each
exercises one rule of the grammar. Discrimination: random phrases are mostly rejected.
"""
from __future__ import annotations

import random

import pytest

from partimento.grammar.analysis import plan_from_romantext

PHRASES = {  # rule: (mode, phrase)
    "tonicized subtonic inside the phrase": ("minor", "i6 VII6 i viio6/VII VII iv6 iio6 V i"),
    "tonicized mediant of the dominant key": ("major", "I6 IV I6 I V ii7/V V43/V vi6/V V I"),
    "descending minor bass i v6 iv6": ("minor", "V i v6 iv6 v iv viio6/III III viio6 i V"),
    "melodic minor raised sixth before V": ("minor", "V2 i6 viio6 i VII6 III vio6 V"),
    "melodic minor raised sixth before VII": ("minor", "VI viø7 VII viio7 i"),
    "melodic minor leading-tone seventh": ("minor", "viiø7 i iiø2 V6 V65 i V7 I"),
    "augmented mediant as dominant": ("minor", "iiø43 III+65 i6 iiø65 V V7 VI"),
    "tonic heard as V of iv": ("minor", "V65 i i6 viio6 viio43 V6/iv iv I"),
    "major tonic in minor, then V of iv": ("minor", "V viio6 viio43 V2 I6 V6/iv IV viio7/V V V7 I"),
    "viiø2 falling to the cadential 6/4": ("major", "vi V6 V65 I IV6 viiø2 I64 V I"),
    "close on IV": ("major", "V iii IV6 viiø7 I V6 IV6 IV7 V V7 I I V I IV"),
    "tonicized close on III after v": ("minor", "VI6 V65/III III V6 V65 i v V6/III III"),
    "chain: dominant key, then home subdominant": ("major", "V @V I V43 I6 I IV @bVII V7 I"),
    "chain: relative minor, then minor dominant": ("major", "IV6 I @vi IV6 i @vii V i V"),
    "contrapuntal close V64 - i": ("major", "I V @ii V64 i"),
}


@pytest.mark.parametrize("rule", sorted(PHRASES))
def test_bach_phrases_parse(harmony, rule):
    mode, text = PHRASES[rule]
    ok, err = harmony._parser.parse_tokens(text.split(), mode)
    assert ok, (rule, str(err))


@pytest.mark.parametrize("mode,text", [
    ("major", "I @bVII V7 I"),          # bVII only as the second step of a chain, not from home
    ("minor", "i @vii V i"),
    ("major", "I V I IV6"),             # a close on IV is on the root-position chord
    ("minor", "i III+65 V i"),          # the augmented mediant goes straight to the tonic
    ("minor", "i viiø7 V i"),           # and so does melodic minor's leading-tone seventh
    ("major", "I V2 I IV V I"),         # a seventh in the bass must fall by step
])
def test_what_the_rules_do_not_allow(harmony, mode, text):
    ok, _ = harmony._parser.parse_tokens(text.split(), mode)
    assert not ok


def test_an_unresolved_bass_seventh_is_located_at_the_chord_after_it(harmony):
    ok, err = harmony._parser.parse_tokens("I IV V2 I V7 I".split(), "major")
    assert not ok and err.index == 3 and err.token == "I" and "V2" in err.expected[0]
    assert harmony._parser.parse_tokens("I IV V2 I6 V7 I".split(), "major")[0]


def test_a_chord_written_after_a_phrase_end_without_a_beat_does_not_steal_the_closing_chord():
    text = "Time Signature: 4/4\nm1 C: I b2 IV b3 I || a: V b4 V6\nm2 i b3 V b4 i ||\n"
    plan = plan_from_romantext(text)
    first = [c.figure for c in plan.chords if c.phrase == 0]
    assert first == ["I", "IV", "I"] and plan.chords[3].figure == "V6" and plan.chords[3].phrase == 1


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
