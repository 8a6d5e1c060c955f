"""infill reads a score through the checker's SATB reader: a grand-staff exercise infills exactly as four parts."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hybrid_fakes import FakeModel, cadence_plan
from music21 import converter

from partimento.grammar.errors import ScoreError
from partimento.hybrid import infill, realize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "grammar" / "rules"))
from exercises import two_staves  # noqa: E402  (the test helper that writes a grand staff)

FIGURES = ("I", "vi", "IV", "V", "I", "ii6", "V7", "I")


@pytest.fixture(scope="module")
def four(tmp_path_factory):
    original = realize(cadence_plan(figures=FIGURES), seed=0, model=FakeModel(0))
    return original.write(tmp_path_factory.mktemp("infill") / "four.musicxml")


@pytest.mark.parametrize("grand", [False, True])
def test_a_two_staff_exercise_infills_exactly_as_its_four_parts(four, tmp_path, grand):
    two = tmp_path / "two.musicxml"
    two_staves(converter.parse(str(four)), "voices", grand_staff=grand).write("musicxml", fp=str(two))
    a = infill(four, measures=(2, 2), voices=("alto", "tenor"), seed=1, model=FakeModel(5))
    b = infill(two, measures=(2, 2), voices=("alto", "tenor"), seed=1, model=FakeModel(5))
    assert np.array_equal(a.tokens, b.tokens)
    assert a.plan.to_dict()["chords"] == b.plan.to_dict()["chords"]
    assert [v.to_dict() for v in a.report.violations] == [v.to_dict() for v in b.report.violations]


def test_a_staff_with_three_voices_is_refused_naming_the_measure(four, tmp_path):
    from music21 import note, stream

    score = two_staves(converter.parse(str(four)), "voices")
    m = score.parts[1].getElementsByClass(stream.Measure)[1]
    extra = stream.Voice(id="7")
    extra.append(note.Note("C4", quarterLength=4))
    m.insert(0, extra)
    with pytest.raises(ScoreError) as e:
        infill(score, measures=(1, 1), model=FakeModel())
    assert "3 voices on the lower staff" in e.value.message and e.value.location.measure == 2
