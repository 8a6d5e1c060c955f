"""Small shared pieces for the rules' two faces: the pitch axis and the last two rows.

Every fast ``allowed`` mask is arithmetic on ``PITCHES`` (0..127) against the handful
of integers it depends on: the previous sonority and the voices already written in the
current one.
"""
from __future__ import annotations

import numpy as np

from .base import REST, DecodeState

__all__ = ["PITCHES", "PAIRS", "UPPER", "LOWER", "last_two", "all_allowed", "sign"]

PITCHES = np.arange(128)  # candidate MIDI pitches for one voice
PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))  # (upper, lower)
UPPER = np.asarray([u for u, _ in PAIRS])  # column index of each pair's upper voice
LOWER = np.asarray([l for _, l in PAIRS])  # ... and of its lower voice


def last_two(state: DecodeState) -> tuple[list[int] | None, list[int]]:
    """(previous row or None at the first sonority, current row) as Python ints."""
    p = state.sonorities.pitch
    cur = [int(x) for x in p[-1]]
    prev = [int(x) for x in p[-2]] if len(p) > 1 else None
    return prev, cur


def all_allowed() -> np.ndarray:
    return np.ones(128, dtype=bool)


def sign(x: int) -> int:
    return (x > 0) - (x < 0)

