"""infill: the span is rewritten, everything else stays, the joins obey the rules."""
from __future__ import annotations

import numpy as np
import pytest
from hybrid_fakes import FakeModel, cadence_plan

from partimento.grammar.errors import InputError, ScoreError
from partimento.hybrid import infill, realize
from partimento.neural.encoding import sounding_pitches

FIGURES = ("I", "vi", "IV", "V", "I", "ii6", "V7", "vi", "IV", "I64", "V", "I")


@pytest.fixture(scope="module")
def original():
    return realize(cadence_plan(figures=FIGURES), seed=0, model=FakeModel(0))


def test_outside_the_span_nothing_changes_and_the_joins_obey_the_rules(original):
    new = infill(original, measures=(2, 2), voices=("alto", "tenor"), seed=1, model=FakeModel(7))
    span = slice(16, 32)
    keep = np.ones(original.pitch.shape, bool)
    keep[span, 1:3] = False
    assert np.array_equal(new.pitch[keep], original.pitch[keep])
    assert not np.array_equal(new.pitch[span, 1:3], original.pitch[span, 1:3])
    assert new.errors == []


def test_infill_of_a_musicxml_file_keeps_the_other_voices(original, tmp_path):
    path = original.write(tmp_path / "four.musicxml")
    new = infill(path, measures=(1, 1), voices=("tenor",), seed=2, model=FakeModel(3))
    assert np.array_equal(new.pitch[:, [0, 1, 3]], original.pitch[:, [0, 1, 3]])
    assert np.array_equal(new.pitch[16:], original.pitch[16:])
    assert new.errors == []


def test_infill_reads_a_result_json(original, tmp_path):
    path = original.write(tmp_path / "four.json")
    new = infill(path, measures=(3, 3), voices=("soprano",), seed=0, model=FakeModel(1))
    assert np.array_equal(new.pitch[:32], original.pitch[:32])
    assert np.array_equal(sounding_pitches(new.tokens), new.pitch)


def test_measures_outside_the_score_are_refused_with_the_measure(original):
    with pytest.raises(InputError) as e:
        infill(original, measures=(3, 9), model=FakeModel())
    assert e.value.location.measure == 9


def test_a_score_that_is_not_four_parts_is_refused(tmp_path):
    from music21 import converter

    tune = converter.parse("tinyNotation: 4/4 c'4 d'4 e'4 f'4")
    with pytest.raises(ScoreError):
        infill(tune, measures=(1, 1), model=FakeModel())
