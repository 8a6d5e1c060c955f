"""The decoding prefix on the sixteenth grid: what has been written, as the constraint reads it.

One :class:`GridState` lives inside the :class:`~partimento.hybrid.constraint.Constraint`;
nothing else writes it. Tokens are HOLD, REST or an attack (see
:mod:`partimento.neural.encoding`); the grid keeps, per step and voice, the pitch that
sounds after the token, whether it was struck, where the sounding note began and whether
it is a non-chord tone of the plan chord.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partimento.neural.encoding import HOLD, PITCH_OFFSET, REST

__all__ = ["SILENT", "GridState", "forced_sounding"]

SILENT = -1  # sounding pitch of a silent or undecided voice


@dataclass
class GridState:
    """Rows are steps, columns voices S, A, T, B.

    ``pitch`` is the pitch sounding after the voice's token at that step (SILENT where
    undecided or resting); ``attack`` is True where the token struck a note; ``nct``
    marks a sounding non-chord tone; ``start`` is the step where the sounding note was
    struck; ``decided`` where the token has been written.
    """

    pitch: np.ndarray  # (T, 4) int16
    attack: np.ndarray  # (T, 4) bool
    nct: np.ndarray  # (T, 4) bool
    start: np.ndarray  # (T, 4) int32
    decided: np.ndarray  # (T, 4) bool

    @classmethod
    def empty(cls, steps: int) -> "GridState":
        return cls(np.full((steps, 4), SILENT, np.int16), np.zeros((steps, 4), bool),
                   np.zeros((steps, 4), bool), np.full((steps, 4), -1, np.int32),
                   np.zeros((steps, 4), bool))

    def write(self, step: int, voice: int, token: int, nct: bool = False) -> None:
        """Write ``token`` at (step, voice); ``nct``: an attacked pitch is a non-chord tone."""
        prev = self.previous(step, voice)
        if token == HOLD:
            self.pitch[step, voice] = prev
            self.attack[step, voice] = False
            self.start[step, voice] = self.start[step - 1, voice] if step > 0 else -1
            self.nct[step, voice] = nct or (self.nct[step - 1, voice] if step > 0 else False)
        elif token == REST:
            self.pitch[step, voice] = SILENT
            self.attack[step, voice] = False
            self.start[step, voice] = step
            self.nct[step, voice] = False
        else:
            self.pitch[step, voice] = token - PITCH_OFFSET
            self.attack[step, voice] = True
            self.start[step, voice] = step
            self.nct[step, voice] = nct
        self.decided[step, voice] = True

    def clear_from(self, step: int, voice: int) -> None:
        """Forget the tokens at (step, voice) and after (decoding order S, A, T, B)."""
        for arr, fill in ((self.pitch, SILENT), (self.attack, False), (self.nct, False),
                          (self.start, -1), (self.decided, False)):
            arr[step, voice:] = fill
            arr[step + 1:] = fill

    def previous(self, step: int, voice: int) -> int:
        """Pitch ``voice`` sounds just before ``step`` (SILENT at the start)."""
        return int(self.pitch[step - 1, voice]) if step > 0 else SILENT

    def sounding(self, step: int, voice: int) -> int:
        """Pitch ``voice`` sounds at ``step`` if written, else the one it sounds before it."""
        return int(self.pitch[step, voice]) if self.decided[step, voice] else self.previous(step, voice)


def forced_sounding(forced: np.ndarray) -> np.ndarray:
    """(T, 4) int64: pitches the forced tokens sound at each step (-1 where not forced or silent)."""
    out = np.full(forced.shape, -1, np.int64)
    for v in range(forced.shape[1]):
        cur = -1
        for t in range(forced.shape[0]):
            tok = int(forced[t, v])
            if tok < 0 or tok == REST:
                cur = -1
            elif tok >= PITCH_OFFSET:
                cur = tok - PITCH_OFFSET
            out[t, v] = cur
    return out
