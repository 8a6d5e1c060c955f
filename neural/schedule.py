"""One learning-rate schedule over the whole budget: linear warm-up times a cosine to a floor.

The cosine runs over the run's *progress*, a number from 0 to 1 that is the further
along of two clocks: optimizer steps out of ``epochs × steps_per_epoch``, and wall
seconds out of ``--max-minutes``. A time-boxed run therefore reaches the floor exactly
when its time is up, instead of stopping halfway down a cosine sized for more epochs;
an epoch-bounded run (no time budget) is a pure function of the step, so it is
reproducible and resumes bit for bit. Both clocks are saved in every checkpoint, so a
resumed run continues the same curve (the schedule is never restarted).
"""
from __future__ import annotations

import math

__all__ = ["progress", "learning_rate"]


def progress(step: int, total_steps: int, elapsed_s: float = 0.0, budget_s: float = 0.0) -> float:
    """Fraction of the schedule done, in [0, 1]: max of the step clock and the wall clock."""
    frac = step / max(1, total_steps)
    if budget_s > 0:
        frac = max(frac, elapsed_s / budget_s)
    return min(1.0, max(0.0, frac))


def learning_rate(step: int, frac: float, peak: float, warmup_steps: int, floor: float) -> float:
    """``peak`` × linear warm-up over the first ``warmup_steps`` × cosine from 1 to ``floor`` over ``frac``."""
    warm = min(1.0, (step + 1) / max(1, warmup_steps))
    return peak * warm * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * frac)))
