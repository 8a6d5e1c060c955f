import numpy as np
import pytest

from partimento.grammar.errors import DataError
from partimento.neural.conditioning import CADENCE_CODES, pcs_mask
from partimento.neural.encoding import HOLD, PITCH_OFFSET
from partimento.neural.score_analysis import encode_score

music21 = pytest.importorskip("music21")
from music21 import expressions, meter, note, stream, tie  # noqa: E402

# I  IV  V  I(fermata) in C, half notes, one 4/4 bar each pair; the soprano ties into the last chord
VOICES = {
    "Soprano": [72, 72, 74, 72],
    "Alto": [67, 69, 67, 64],
    "Tenor": [64, 65, 62, 55],
    "Bass": [48, 53, 55, 48],
}


def _score(extra_part=False):
    s = stream.Score()
    if extra_part:
        horn = stream.Part(id="Horn")
        horn.partName = "Horn"
        horn.append(note.Note(60, quarterLength=8))
        s.insert(0, horn)
    for name, pitches in VOICES.items():
        p = stream.Part(id=name)
        p.partName = name
        p.append(meter.TimeSignature("4/4"))
        for i, m in enumerate(pitches):
            n = note.Note(m, quarterLength=2)
            if i == 3:
                n.expressions.append(expressions.Fermata())
            p.append(n)
        if name == "Soprano":  # split the first half note into two tied quarters
            first = p.notes[0]
            first.quarterLength = 1
            second = note.Note(72, quarterLength=1)
            first.tie, second.tie = tie.Tie("start"), tie.Tie("stop")
            p.insert(1.0, second)
        s.insert(0, p)
    return s


def test_tokens_ties_and_conditioning():
    enc = encode_score(_score(), "test")
    assert enc.tokens.shape == (32, 4) and enc.key == "C" and enc.bar_steps == 16 and enc.pickup_steps == 0
    assert enc.tokens[0].tolist() == [PITCH_OFFSET + m for m in (72, 67, 64, 48)]
    assert enc.tokens[4, 0] == HOLD  # the tied quarter is held, not re-struck
    assert enc.tokens[8, 1] == PITCH_OFFSET + 69
    c = enc.cond
    assert set(c.field("tonic")) == {0}
    assert c.field("pcs")[0] == pcs_mask((0, 4, 7), 0)
    assert c.field("pcs")[8] == pcs_mask((5, 9, 0), 0) and c.field("root")[8] == 5
    assert c.field("root")[16] == 7
    assert c.field("fermata")[24:].all() and not c.field("fermata")[:24].any()
    assert set(c.field("cadence")[24:]) == {CADENCE_CODES["PAC"]}


def test_voices_chosen_by_name_when_instruments_double():
    enc = encode_score(_score(extra_part=True), "test")
    assert enc.tokens[0].tolist() == [PITCH_OFFSET + m for m in (72, 67, 64, 48)]


def test_not_four_voices():
    s = stream.Score()
    for name in ("Violin", "Viola"):
        p = stream.Part(id=name)
        p.append(note.Note(60, quarterLength=4))
        s.insert(0, p)
    with pytest.raises(DataError, match="four parts"):
        encode_score(s, "two-parts")
