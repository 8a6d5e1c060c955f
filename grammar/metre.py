"""Quarter-note offsets to (measure, beat) and back, for one metre and an optional pickup.

The checker, the plan and the decoder all locate events through :class:`Metre`, so a
violation reported at "measure 3, beat 2" means the same spot in every layer. The
decoder's grid is sixteenth notes: ``STEPS_PER_QUARTER = 4``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache

import numpy as np

from .errors import InputError

__all__ = ["STEPS_PER_QUARTER", "Metre", "parse_metre", "strong_beat_offsets"]

STEPS_PER_QUARTER = 4  # the decoding grid: sixteenth notes


@dataclass(frozen=True)
class Metre:
    """A time signature such as 4/4, 3/4, 6/8 or 3/2."""

    numerator: int
    denominator: int

    @property
    def name(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    @cached_property
    def bar_quarters(self) -> Fraction:
        """Length of one bar in quarter notes."""
        return Fraction(4 * self.numerator, self.denominator)

    @cached_property
    def beat_quarters(self) -> Fraction:
        """Length of one counted beat: dotted quarter in compound metres (6/8, 9/8, 12/8)."""
        if self.denominator == 8 and self.numerator % 3 == 0 and self.numerator > 3:
            return Fraction(3, 2)
        return Fraction(4, self.denominator)

    @cached_property
    def beats_per_bar(self) -> int:
        """Counted beats in one bar (4 in 4/4, 2 in 6/8); raises InputError if not a whole number."""
        ratio = self.bar_quarters / self.beat_quarters
        if ratio.denominator != 1:
            raise InputError(f"metre {self.name} has no whole number of beats per bar")
        return int(ratio)

    @property
    def strong_beats(self) -> tuple[int, ...]:
        """The strong beats of a bar, 1-based: the downbeat, and beat 3 of a four-beat bar."""
        return tuple(o + 1 for o in strong_beat_offsets(self.beats_per_bar))

    @property
    def bar_steps(self) -> int:
        """Sixteenth-note steps in one bar."""
        return int(self.bar_quarters * STEPS_PER_QUARTER)

    def measure_beat(self, offset: float | Fraction, pickup: float | Fraction = 0) -> tuple[int, float]:
        """(measure, 1-based beat) of a quarter-note offset from the start of the piece.

        With a pickup of ``pickup`` quarters, the pickup is measure 0 (music21's
        convention) and measure 1 starts at ``offset == pickup``.
        """
        off = Fraction(offset).limit_denominator(96) - Fraction(pickup).limit_denominator(96)
        if off < 0:
            into = off + self.bar_quarters
            return 0, float(1 + into / self.beat_quarters)
        measure = int(off // self.bar_quarters)
        into = off - measure * self.bar_quarters
        return measure + 1, float(1 + into / self.beat_quarters)

    def grid_positions(self, steps: int, pickup: float | Fraction = 0) -> tuple[np.ndarray, np.ndarray]:
        """(measure, beat) of every sixteenth step ``0 .. steps-1``: :meth:`measure_beat` of ``t / 4`` for each, at once.

        The decoder asks this of every step of a plan; integer arithmetic in a unit
        that divides the step, the pickup, the bar and the beat gives the same numbers as
        :meth:`measure_beat` (each beat one correctly rounded division, as ``float`` of a
        ``Fraction`` is) without a ``Fraction`` per step.
        """
        pick = Fraction(pickup).limit_denominator(96)
        bar, beat = self.bar_quarters, self.beat_quarters
        unit = math.lcm(STEPS_PER_QUARTER, pick.denominator, bar.denominator, beat.denominator)  # per quarter
        bar_u, beat_u = int(bar * unit), int(beat * unit)
        off = np.arange(steps, dtype=np.int64) * (unit // STEPS_PER_QUARTER) - int(pick * unit)
        before = off < 0  # the pickup's measure 0
        measure = np.where(before, 0, off // bar_u + 1)
        into = np.where(before, off + bar_u, off - (measure - 1) * bar_u)
        return measure, (into + beat_u) / beat_u

    def offset(self, measure: int, beat: float = 1.0, pickup: float | Fraction = 0) -> Fraction:
        """Inverse of :meth:`measure_beat`."""
        into = Fraction(beat - 1).limit_denominator(96) * self.beat_quarters
        return Fraction(pickup).limit_denominator(96) + (measure - 1) * self.bar_quarters + into


def strong_beat_offsets(beats_per_bar: int) -> tuple[int, ...]:
    """0-based strong beats of a bar of ``beats_per_bar`` beats: the downbeat, and the
    middle of a four-beat bar (4/4, 12/8)."""
    return (0, 2) if beats_per_bar == 4 else (0,)


_METRE_RE = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{1,2})\s*$")


@lru_cache(maxsize=64)
def parse_metre(text: str) -> Metre:
    """``"3/4" -> Metre(3, 4)``; raises :class:`InputError` for anything else."""
    m = _METRE_RE.match(str(text))
    if not m or int(m.group(2)) not in (1, 2, 4, 8, 16) or int(m.group(1)) == 0:
        raise InputError(f"unknown metre {text!r}", expected=["4/4", "3/4", "2/4", "3/2", "6/8", "12/8"])
    return Metre(int(m.group(1)), int(m.group(2)))
