"""Static rules on one sonority: spacing of the upper voices and each voice's range."""
from __future__ import annotations

import numpy as np

from ..theory import VOICE_RANGES, VOICES
from .base import REST, Context, DecodeState, Rule, SonorityArray, Violation, register
from .masks import PITCHES, all_allowed, last_two
from .spelling import note_name

__all__ = ["Spacing", "Range"]


@register
class Spacing(Rule):
    """More than an octave between soprano and alto, or between alto and tenor.

    Mask: the written neighbours bound p (alto within an octave below the soprano and
    above the tenor, and so on).
    """

    id = "spacing"
    description = "more than an octave between soprano and alto or alto and tenor"

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        p = s.pitch.astype(np.int32)
        for u, l in ((0, 1), (1, 2)):
            bad = (p[:, u] != REST) & (p[:, l] != REST) & (p[:, u] - p[:, l] > 12)
            for r in bad.nonzero()[0]:
                i = int(r)
                k = ctx.keys[i]
                out.append(self.violation(s, i, [u, l], (
                    f"more than an octave between {VOICES[u]} {note_name(int(p[i, u]), k)} and "
                    f"{VOICES[l]} {note_name(int(p[i, l]), k)}"), ctx=ctx))
        out.sort(key=lambda v: v.index)
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        mask = all_allowed()
        _, cur = last_two(state)
        if voice in (1, 2) and cur[voice - 1] != REST:  # the voice above bounds p from below
            mask &= PITCHES >= cur[voice - 1] - 12
        if voice in (0, 1) and cur[voice + 1] != REST:  # the voice below bounds p from above
            mask &= PITCHES <= cur[voice + 1] + 12
        return mask


@register
class Range(Rule):
    """A voice outside its range: textbook soprano C4–G5, alto G3–D5, tenor C3–G4, bass E2–C4.

    ``ranges`` overrides voices by name (the ``chorale`` profile lets the soprano reach
    Bach's A5). Mask: a constant interval per voice.
    """

    id = "range"
    description = "a voice outside its range (textbook: soprano C4–G5, alto G3–D5, tenor C3–G4, bass E2–C4)"

    def __init__(self, severity=None, ranges: dict[str, tuple[int, int]] | None = None) -> None:
        super().__init__(severity)
        self.ranges = {v: tuple((ranges or {}).get(v, VOICE_RANGES[v])) for v in VOICES}
        self._lo = np.asarray([self.ranges[v][0] for v in VOICES])
        self._hi = np.asarray([self.ranges[v][1] for v in VOICES])
        self._masks = [(PITCHES >= self.ranges[v][0]) & (PITCHES <= self.ranges[v][1]) for v in VOICES]

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        p = s.pitch.astype(np.int32)
        bad = (p != REST) & ((p < self._lo) | (p > self._hi))
        for i, v in zip(*bad.nonzero()):
            i, v = int(i), int(v)
            k = ctx.keys[i]
            lo, hi = self.ranges[VOICES[v]]
            out.append(self.violation(s, i, [v], (
                f"{VOICES[v]} {note_name(int(p[i, v]), k)} is outside its range "
                f"{note_name(lo, 'C')}–{note_name(hi, 'C')}"), ctx=ctx))
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        return self._masks[voice].copy()
