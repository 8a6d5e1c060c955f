"""Metre: grid positions agree with measure_beat step by step."""
from fractions import Fraction

import pytest

from partimento.grammar.metre import Metre


@pytest.mark.parametrize("metre", [Metre(4, 4), Metre(3, 4), Metre(2, 4), Metre(3, 2), Metre(6, 8), Metre(12, 8),
                                   Metre(9, 8), Metre(2, 2)])
@pytest.mark.parametrize("pickup", [0, 1, 0.5, 0.75, Fraction(3, 2), 3, Fraction(1, 3)])
def test_grid_positions_are_measure_beat_of_every_sixteenth(metre, pickup):
    """The decoder reads (measure, beat) of every 16th step from grid_positions; it must give exactly
    measure_beat's numbers (the beat as float(Fraction): one correctly rounded division), pickup included."""
    measures, beats = metre.grid_positions(120, pickup)
    assert len(measures) == len(beats) == 120
    for t in range(120):
        assert (int(measures[t]), float(beats[t])) == metre.measure_beat(Fraction(t, 4), pickup)
