"""Result: the score's parts, clefs, labels and fermatas; writing by extension, atomically."""
from __future__ import annotations

import json

import pytest
from hybrid_fakes import FakeModel, cadence_plan
from music21 import clef, converter, expressions

from partimento.grammar.errors import InputError
from partimento.grammar.plan import Plan
from partimento.hybrid import Result, realize
from partimento.hybrid.result import spelled_name


@pytest.fixture(scope="module")
def result() -> Result:
    plan = cadence_plan(key="G", figures=("I", "IV", "V7", "I", "vi", "ii6", "V", "I"))
    return realize(plan, seed=1, model=FakeModel(1))


def test_score_has_four_named_parts_with_their_clefs_key_and_metre(result):
    parts = list(result.score.parts)
    assert [p.partName for p in parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    clefs = [type(p.recurse().getElementsByClass(clef.Clef)[0]) for p in parts]
    assert clefs == [clef.TrebleClef, clef.TrebleClef, clef.Treble8vbClef, clef.BassClef]
    assert parts[0].recurse().getElementsByClass("KeySignature")[0].sharps == 1
    assert parts[0].recurse().getElementsByClass("TimeSignature")[0].ratioString == "4/4"


def test_bass_carries_the_roman_numerals_and_the_last_chord_a_fermata(result):
    bass = list(result.score.parts[3].recurse().notes)
    lyrics = [n.lyric for n in bass if n.lyric]
    assert lyrics == ["G: I", "IV", "V7", "I", "vi", "ii6", "V", "I"]
    for part in result.score.parts:
        sounding = [n for n in part.recurse().notes if n.getOffsetInHierarchy(result.score) == 7.0]
        assert sounding and any(isinstance(e, expressions.Fermata) for e in sounding[0].expressions)


def test_notes_match_the_grid(result):
    for v, part in enumerate(result.score.parts):
        starts = [(float(n.getOffsetInHierarchy(result.score)), n.pitch.midi) for n in part.recurse().notes
                  if n.tie is None or n.tie.type == "start"]
        grid = [(t / 4, int(result.pitch[t, v])) for t in range(result.plan.steps) if result.attack[t, v]]
        assert starts == grid


@pytest.mark.parametrize("ext", [".musicxml", ".mxl", ".mid", ".json", ".rntxt"])
def test_write_by_extension(result, tmp_path, ext):
    path = result.write(tmp_path / f"out{ext}")
    assert path.is_file() and path.stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == [f"out{ext}"]  # no temporary file left behind
    if ext == ".musicxml":
        back = converter.parse(str(path))
        assert [p.partName for p in back.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    if ext == ".json":
        again = Result.from_dict(json.loads(path.read_text()))
        assert (again.tokens == result.tokens).all() and again.plan == result.plan
    if ext == ".rntxt":
        assert [c.figure for c in Plan.read(path).chords] == [c.figure for c in result.plan.chords]


def test_unknown_extension_and_missing_folder_write_nothing(result, tmp_path):
    with pytest.raises(InputError):
        result.write(tmp_path / "out.pdf")
    with pytest.raises(InputError):
        result.write(tmp_path / "missing" / "out.musicxml")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("midi, figure, key, name", [
    (63, "V", "e", "D#4"),  # the leading tone of E minor, a member of V
    (63, "i", "e", "D#4"),  # ... and as a raised seventh outside the chord
    (61, "i", "e", "C#4"),  # the raised sixth
    (63, "IV", "B-", "E-4"),
    (63, "I", "B-", "E-4"),  # a non-chord tone: the key's fourth degree
    (68, "It+6", "C", "A-4"), (66, "It+6", "C", "F#4"),  # a chromatic chord spells its own members
    (61, "N6", "C", "D-4"),
    (70, "V7/IV", "C", "B-4"),
    (60, "V", "c#", "B#3"),  # MIDI 60 spelled B#: octave 3
])
def test_a_pitch_takes_its_plan_chords_spelling_else_its_keys(midi, figure, key, name):
    assert spelled_name(midi, figure, key) == name


@pytest.mark.parametrize("key, figures, pc, name", [
    ("e", ("i", "iv", "V", "i", "VI", "iv6", "V7", "i"), 3, "D#"),
    ("B-", ("I", "IV", "ii6", "V", "I", "IV", "V7", "I"), 3, "E-"),
    ("A", ("I", "vi", "ii6", "V", "I", "IV", "V7", "I"), 8, "G#"),
])
def test_written_scores_spell_pitches_in_the_local_key(key, figures, pc, name):
    result = realize(cadence_plan(key=key, figures=figures), seed=0, model=FakeModel(0))
    notes = [n for n in result.score.recurse().notes if n.pitch.pitchClass == pc]
    assert notes and {n.pitch.name for n in notes} == {name}
    for v, part in enumerate(result.score.parts):  # spelling never changes what sounds
        assert [n.pitch.midi for n in part.recurse().notes if n.tie is None or n.tie.type == "start"] == \
            [int(result.pitch[t, v]) for t in range(result.plan.steps) if result.attack[t, v]]
    sig = result.score.parts[0].recurse().getElementsByClass("KeySignature")[0]
    in_signature = {p.name for p in sig.alteredPitches}
    for n in result.score.recurse().notes:  # accidentals of the key signature are not engraved again
        if n.pitch.name in in_signature and n.pitch.accidental is not None and n.pitch.accidental.displayStatus:
            bar = [m.pitch.name for m in n.getContextByClass("Measure").notes if m.offset < n.offset]
            assert any(x[0] == n.pitch.name[0] and x != n.pitch.name for x in bar), n.pitch


@pytest.mark.parametrize("key, figures", [("c#", ("i", "iv", "V", "i")), ("E-", ("I", "IV", "V7", "I"))])
def test_every_midi_number_is_written_and_sounds_as_it_is(tmp_path, key, figures):
    """An unconstrained model may strike any of the 128 pitches: below octave 0 a spelled name
    ("B#-2") does not read back in music21, which once escaped as an AccidentalException."""
    import numpy as np

    from partimento.hybrid.result import score_from_grid

    plan = cadence_plan(key=key, figures=figures * 8)
    steps = plan.steps  # 128: each voice strikes every MIDI number once
    pitch = np.zeros((steps, 4), np.int64)
    attack = np.zeros((steps, 4), bool)
    for v in range(4):
        pitch[:, v] = (np.arange(steps) + 32 * v) % 128
        attack[:, v] = True
    score = score_from_grid(pitch, attack, plan)
    for v, part in enumerate(score.parts):
        assert [n.pitch.midi for n in part.recurse().notes] == [int(pitch[t, v]) for t in range(steps)]
    path = tmp_path / "out.musicxml"
    score.write("musicxml", fp=str(path))
    assert path.stat().st_size > 0
