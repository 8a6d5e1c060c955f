"""Small shared pieces for the rules' two faces: the pitch axis and the last two rows.

Every fast ``allowed`` mask is arithmetic on ``PITCHES`` (0..127) against the handful
of integers it depends on: the previous sonority and the voices already written in the
current one. The arithmetic that recurs is tabulated once here (a (128, 128) table per
relation, one row per reference pitch), so a mask is a row lookup or two; rows and
``ALL`` are read-only, and a rule returning one hands out no copy.
"""
from __future__ import annotations

import numpy as np

from .base import REST, DecodeState

__all__ = ["PITCHES", "PITCH_PC", "STEP_OR_THIRD", "PAIRS", "UPPER", "LOWER", "ALL", "INTERVAL_CLASS", "ABOVE", "BELOW", "AT_LEAST", "AT_MOST",
           "LEAP_OK", "STEP_OR_MORE",
           "ONLY", "NOT_PC", "last_two", "all_allowed", "sign"]

PITCHES = np.arange(128)  # candidate MIDI pitches for one voice
PITCH_PC = PITCHES % 12  # pitch class of every MIDI number
PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))  # (upper, lower)
UPPER = np.asarray([u for u, _ in PAIRS])  # column index of each pair's upper voice
LOWER = np.asarray([l for _, l in PAIRS])  # ... and of its lower voice


def _table(rows: np.ndarray) -> np.ndarray:
    rows = np.ascontiguousarray(rows, dtype=bool)
    rows.flags.writeable = False
    return rows


_DIFF = PITCHES[None, :] - PITCHES[:, None]  # (128, 128): candidate pitch (column) minus reference (row)
ALL = _table(np.ones(128, dtype=bool))  # every pitch allowed (shared, read-only)
#: INTERVAL_CLASS[ic][w]: pitches at interval class ``ic`` (mod 12) from w, for the perfect ones 0 and 7
INTERVAL_CLASS = {ic: _table(np.abs(_DIFF) % 12 == ic) for ic in (0, 7)}
ABOVE = _table(_DIFF > 0)  # ABOVE[w]: pitches higher than w
BELOW = _table(_DIFF < 0)  # BELOW[w]: pitches lower than w
AT_LEAST = _table(_DIFF >= 0)  # AT_LEAST[w]: pitches not lower than w
AT_MOST = _table(_DIFF <= 0)  # AT_MOST[w]: pitches not higher than w
STEP_OR_THIRD = _table((np.abs(_DIFF) >= 1) & (np.abs(_DIFF) <= 4))  # STEP_OR_THIRD[w]: pitches a step or a third from w
STEP_OR_MORE = _table(np.abs(_DIFF) > 2)  # STEP_OR_MORE[w]: pitches a leap (more than a whole step) from w
LEAP_OK = _table(~((np.abs(_DIFF) > 12) | (np.abs(_DIFF) == 10) | (np.abs(_DIFF) == 11)))  # no seventh, no leap past the octave
ONLY = _table(np.eye(129, 128, dtype=bool))  # ONLY[p]: just pitch p (ONLY[128]: none)
NOT_PC = _table(PITCHES[None, :] % 12 != np.arange(12)[:, None])  # NOT_PC[pc]: pitches of another pitch class


def last_two(state: DecodeState) -> tuple[list[int] | None, list[int]]:
    """(previous row or None at the first sonority, current row) as Python ints.

    A caller asking every rule about one state may compute these once and park them on
    the state as ``last_rows`` for the duration (the decoder's ``RuleMasks.pitch_mask``).
    """
    rows = getattr(state, "last_rows", None)
    if rows is not None:
        return rows
    p = state.sonorities.pitch
    if len(p) > 1:
        prev, cur = p[-2:].tolist()
        return prev, cur
    return None, p[-1].tolist()


def all_allowed() -> np.ndarray:
    """A fresh all-True mask (for rules that AND into it; others return ``ALL``).

    A copy of a kept one: ``np.ones`` goes through numpy's Python layer, and the decoder
    asks for tens of thousands of these per piece.
    """
    return _ALL_TRUE.copy()


_ALL_TRUE = np.ones(128, dtype=bool)


def sign(x: int) -> int:
    return (x > 0) - (x < 0)

