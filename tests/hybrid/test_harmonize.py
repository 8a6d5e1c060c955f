"""harmonize: the melody stays exactly, the harmony fits it, bad melodies are refused clearly."""
from __future__ import annotations


import numpy as np
import pytest
from music21 import converter, meter, note, stream, tie

from partimento.grammar.errors import InputError
from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.hybrid import harmonize
from partimento.hybrid.harmony import propose_plan
from partimento.hybrid.melody import read_melody
from partimento.neural.encoding import HOLD, PITCH_OFFSET


def melody_file(tmp_path, notes, metre="3/4", pickup=1.0, parts=1, name="tune.musicxml"):
    """A MusicXML melody with a real pickup measure; ``notes`` are (midi or None, quarters, tied?)."""
    score = stream.Score()
    for k in range(parts):
        part = stream.Part()
        flat = stream.Stream()
        offset = 0.0
        tied_in = False
        for midi, dur, tied in notes:
            n = note.Rest(quarterLength=dur) if midi is None else note.Note(midi - 12 * k, quarterLength=dur)
            if tied or tied_in:
                n.tie = tie.Tie("continue" if tied and tied_in else "start" if tied else "stop")
            tied_in = tied
            flat.insert(offset, n)
            offset += dur
        flat.insert(0, meter.TimeSignature(metre))
        m = flat.makeMeasures()
        if pickup:
            m = stream.Stream()
            ts = meter.TimeSignature(metre)
            bar = ts.barDuration.quarterLength
            first = stream.Measure(number=0)
            first.insert(0, meter.TimeSignature(metre))
            first.paddingLeft = bar - pickup
            rest = stream.Stream()
            off = 0.0
            for el in flat.notesAndRests:
                if off < pickup:
                    first.insert(off, el)
                else:
                    rest.insert(off - pickup, el)
                off += el.quarterLength
            part.append(first)
            for i, mm in enumerate(rest.makeMeasures()):
                mm.number = i + 1
                part.append(mm)
        else:
            for mm in m:
                part.append(mm)
        part.makeTies(inPlace=True)
        score.insert(0, part)
    path = tmp_path / name
    score.write("musicxml", fp=str(path))
    return path


TUNE = [(67, 1, False), (72, 1, False), (72, 1, False), (74, 1, False), (76, 2, False), (74, 0.5, False),
        (72, 0.5, False), (74, 3, True), (74, 1, False), (76, 1, False), (77, 1, False), (76, 1, False),
        (74, 1, False), (72, 1, False), (72, 2, False)]


def test_melody_is_read_exactly_with_pickup_and_tie(tmp_path):
    mel = read_melody(melody_file(tmp_path, TUNE))
    assert (mel.metre, mel.pickup, mel.key) == ("3/4", 1.0, "C")
    q = STEPS_PER_QUARTER
    assert mel.tokens[0] == PITCH_OFFSET + 67 and (mel.tokens[1:q] == HOLD).all()
    tie_start = int(sum(d for _, d, _ in TUNE[:7]) * q)
    held = mel.tokens[tie_start:tie_start + 4 * q]  # D tied over into the next bar: struck once
    assert held[0] == PITCH_OFFSET + 74 and (held[1:] == HOLD).all()


def test_harmonization_keeps_the_soprano_and_has_no_strict_errors(tmp_path):
    path = melody_file(tmp_path, TUNE[:9] + [(72, 3, False)])
    result = harmonize(path, seed=1)
    mel = read_melody(path)
    assert np.array_equal(result.tokens[:, 0], mel.tokens)
    assert result.plan.pickup == 1.0 and result.plan.metre == "3/4"
    assert result.errors == []
    for c in result.plan.chords:  # the melody note on each chord onset belongs to the chord
        t = int(round(c.onset * STEPS_PER_QUARTER))
        assert mel.pitch[t] < 0 or mel.pitch[t] % 12 in c.spec.members


def test_different_seeds_propose_different_harmonies(tmp_path):
    mel = read_melody(melody_file(tmp_path, TUNE))
    figures = {tuple(c.figure for c in propose_plan(mel, seed=s).chords) for s in range(4)}
    assert len(figures) > 1


def test_several_parts_use_the_top_one_and_say_so(tmp_path):
    mel = read_melody(melody_file(tmp_path, TUNE, parts=2))
    assert any("2 parts" in w for w in mel.warnings)
    assert mel.pitch[0] == 67


def test_a_low_melody_is_transposed_up_an_octave_with_a_warning(tmp_path):
    low = [(m - 12 if m else m, d, t) for m, d, t in TUNE]
    mel = read_melody(melody_file(tmp_path, low))
    assert any("transposed up 1 octave" in w for w in mel.warnings)
    assert mel.pitch[0] == 67


def test_a_melody_no_octave_fits_is_refused(tmp_path):
    wide = [(48, 1, False), (84, 2, False), (60, 3, False)]
    with pytest.raises(InputError) as e:
        read_melody(melody_file(tmp_path, wide, pickup=0))
    assert "soprano range" in e.value.message


def test_a_key_that_contradicts_the_melody_is_refused_with_a_location(tmp_path):
    with pytest.raises(InputError) as e:
        read_melody(melody_file(tmp_path, TUNE), key="F#")
    assert e.value.location.measure is not None and "contradicts" in e.value.message


def test_tuplets_are_refused_with_their_measure(tmp_path):
    tune = converter.parse("tinyNotation: 4/4 c'4 trip{d'8 e'8 f'8} g'2 c'1")
    with pytest.raises(InputError) as e:
        read_melody(tune)
    assert e.value.location.measure == 1
