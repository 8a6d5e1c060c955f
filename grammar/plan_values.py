"""Every value of a plan has the type and range arithmetic needs, checked before any arithmetic.

A plan read from JSON may hold anything a hand or a broken program wrote: ``"bars":
"2"``, ``"onset": null``, ``"duration": NaN``, a billion bars. :meth:`Plan.validate`
calls :func:`check_plan_values` first, so such a file is refused with the field named
(a :class:`PlanError`, exit 2) instead of failing deep inside with a ``TypeError`` or an
impossible allocation.
"""
from __future__ import annotations

import math
from typing import Any

from .errors import Location, PlanError

__all__ = ["MAX_BARS", "check_plan_values"]

#: The longest plan realized or checked (as many bars as the sampler produces at most).
MAX_BARS = 1000


def _number(value: Any, what: str, where: Location, *, low: float | None = None, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PlanError(f"{what} must be a finite number, got {value!r}", where)
    if positive and value <= 0:
        raise PlanError(f"{what} must be positive, got {value!r}", where)
    if low is not None and value < low:
        raise PlanError(f"{what} must be at least {low:g}, got {value!r}", where)
    return float(value)


def _text(value: Any, what: str, where: Location, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, str) or (not optional and not value.strip()):
        raise PlanError(f"{what} must be a{'' if optional else ' non-empty'} string, got {value!r}", where)


def _flag(value: Any, what: str, where: Location) -> None:
    if not isinstance(value, bool):
        raise PlanError(f"{what} must be true or false, got {value!r}", where)


def check_plan_values(plan: Any) -> None:
    """Raise PlanError naming the first field of ``plan`` whose type or range is wrong."""
    here = Location()
    _text(plan.key, "the plan's key", here)
    _text(plan.metre, "the plan's metre", here)
    bars = plan.bars
    if isinstance(bars, bool) or not isinstance(bars, int):
        raise PlanError(f"bars must be a whole number, got {bars!r}", here)
    if not 1 <= bars <= MAX_BARS:
        raise PlanError(f"a plan has 1 to {MAX_BARS} bars, got bars={bars}", here)
    _number(plan.pickup, "the pickup", here, low=0)
    _number(plan.tempo, "the tempo", here, positive=True)
    _text(plan.grammar, "the grammar name", here, optional=True)
    if plan.seed is not None and (isinstance(plan.seed, bool) or not isinstance(plan.seed, int)):
        raise PlanError(f"the seed must be a whole number or null, got {plan.seed!r}", here)
    for name in ("chords", "phrases", "sections"):
        if not isinstance(getattr(plan, name), list):
            raise PlanError(f"{name} must be a list, got {type(getattr(plan, name)).__name__}", here)
    for i, c in enumerate(plan.chords):
        where = Location()
        what = f"chord {i + 1}"
        onset = _number(c.onset, f"the onset of {what}", where, low=0)
        _number(c.duration, f"the duration of {what}", where, positive=True)
        if onset > plan.pickup + MAX_BARS * 16 * 4:
            raise PlanError(f"{what} starts after the end of any plan (onset {onset:g})", where)
        _text(c.figure, f"the figure of {what}", where)
        _text(c.key, f"the key of {what}", where)
        _text(c.cadence, f"the cadence of {what}", where, optional=True)
        _flag(c.fermata, f"the fermata of {what}", where)
        _flag(c.inversion_open, f"inversion_open of {what}", where)
        if isinstance(c.phrase, bool) or not isinstance(c.phrase, int):
            raise PlanError(f"the phrase of {what} must be a whole number, got {c.phrase!r}", where)
    for i, p in enumerate(plan.phrases):
        _number(p.start, f"the start of phrase {i + 1}", here)
        _number(p.end, f"the end of phrase {i + 1}", here)
        _text(p.key, f"the key of phrase {i + 1}", here)
        _text(p.cadence, f"the cadence of phrase {i + 1}", here, optional=True)
        _text(p.label, f"the label of phrase {i + 1}", here, optional=True)
    for i, s in enumerate(plan.sections):
        _text(s.label, f"the label of section {i + 1}", here, optional=True)
        _number(s.start, f"the start of section {i + 1}", here)
        _number(s.end, f"the end of section {i + 1}", here)
