"""Voice order: crossing (static) and overlap (motion).

Crossing is judged at every sonority where a lower voice sounds above a higher one;
overlap at the second sonority of a move that passes the previous note of the
neighbouring voice.
"""
from __future__ import annotations

import numpy as np

from ..theory import VOICES
from .base import REST, Context, DecodeState, Rule, Severity, SonorityArray, Violation, register
from .masks import PAIRS, PITCHES, all_allowed, last_two
from .spelling import note_name

__all__ = ["VoiceCrossing", "VoiceOverlap"]


@register
class VoiceCrossing(Rule):
    """A lower voice sounds above a higher one (any pair; unisons are not crossings).

    ``brief_inner`` (the ``chorale`` profile): an alto–tenor crossing lasting at most that
    many quarter notes is a warning. Mask: p must lie between the written voices above
    (p <= each) and below (p >= each).
    """

    id = "voice-crossing"
    description = "a lower voice above a higher one"

    def __init__(self, severity: Severity | None = None, brief_inner: float | None = None) -> None:
        super().__init__(severity)
        self.brief_inner = brief_inner

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        p = s.pitch.astype(np.int32)
        for u, l in PAIRS:
            crossed = (p[:, u] != REST) & (p[:, l] != REST) & (p[:, u] < p[:, l])
            rows = np.flatnonzero(crossed)
            if len(rows) == 0:
                continue
            sev_of: dict[int, Severity | None] = {}
            if self.brief_inner is not None and (u, l) == (1, 2):
                # episodes of consecutive crossed rows; brief ones are warnings
                breaks = np.flatnonzero(np.diff(rows) != 1) + 1
                for ep in np.split(rows, breaks):
                    brief = float(s.duration[ep].sum()) <= self.brief_inner + 1e-9
                    for r in ep:
                        sev_of[int(r)] = Severity.WARNING if brief else None
            for r in rows:
                i = int(r)
                k = ctx.keys[i]
                out.append(self.violation(s, i, [u, l], (
                    f"{VOICES[l]} {note_name(int(p[i, l]), k)} sounds above {VOICES[u]} "
                    f"{note_name(int(p[i, u]), k)}"), severity=sev_of.get(i), ctx=ctx))
        out.sort(key=lambda v: v.index)
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        _, cur = last_two(state)
        lo, hi = 0, 127
        for w in range(4):
            if w == voice or cur[w] == REST:
                continue
            if w < voice:
                hi = min(hi, cur[w])
            else:
                lo = max(lo, cur[w])
        return (PITCHES >= lo) & (PITCHES <= hi)


@register
class VoiceOverlap(Rule):
    """A voice moves above the previous note of the next higher voice, or below that of the next lower.

    Judged for the voice that moves (pitch changes), against the previous row only, so
    the mask depends on the previous row alone: forbid p != previous pitch with
    p > previous note of the voice above or p < previous note of the voice below.
    """

    id = "voice-overlap"
    description = "a voice moves past the previous note of a neighbouring voice"

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        if len(s) < 2:
            return out
        p = s.pitch.astype(np.int32)
        prev, cur = p[:-1], p[1:]
        for v in range(4):
            moved = (prev[:, v] != REST) & (cur[:, v] != REST) & (prev[:, v] != cur[:, v])
            for w, above in ((v - 1, True), (v + 1, False)):
                if not 0 <= w < 4:
                    continue
                ref = prev[:, w]
                bad = moved & (ref != REST) & ((cur[:, v] > ref) if above else (cur[:, v] < ref))
                for r in np.flatnonzero(bad):
                    i = int(r) + 1
                    k = ctx.keys[i]
                    out.append(self.violation(s, i, [v, w], (
                        f"{VOICES[v]} moves to {note_name(int(p[i, v]), k)}, "
                        f"{'above' if above else 'below'} the {VOICES[w]}'s previous "
                        f"{note_name(int(p[i-1, w]), k)}"), ctx=ctx))
        out.sort(key=lambda v: v.index)
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        mask = all_allowed()
        prev, _ = last_two(state)
        if prev is None or prev[voice] == REST:
            return mask
        pv = prev[voice]
        bad = np.zeros(128, dtype=bool)
        if voice > 0 and prev[voice - 1] != REST:
            bad |= PITCHES > prev[voice - 1]
        if voice < 3 and prev[voice + 1] != REST:
            bad |= PITCHES < prev[voice + 1]
        bad &= PITCHES != pv
        return ~bad
