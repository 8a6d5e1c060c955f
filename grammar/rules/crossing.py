"""Voice order: crossing (static) and overlap (motion).

Crossing is judged at every sonority where a lower voice sounds above a higher one;
overlap at the second sonority of a move that passes the previous note of the
neighbouring voice.
"""
from __future__ import annotations

import numpy as np

from ..theory import VOICES
from .base import REST, Context, DecodeState, Rule, Severity, SonorityArray, Violation, register
from .masks import ABOVE, ALL, AT_LEAST, AT_MOST, BELOW, PAIRS, last_two
from .motion import voice_pairs
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
        p = s.pitch
        pu, pl, sounding, _ = voice_pairs(s, ctx)  # (N, 6) one column per voice pair
        crossed = sounding & (pu < pl)
        if not crossed.any():
            return out
        sev_of: dict[int, Severity] = {}
        k_inner = PAIRS.index((1, 2))
        if self.brief_inner is not None and crossed[:, k_inner].any():
            # episodes of consecutive crossed rows; brief ones are warnings
            rows = np.flatnonzero(crossed[:, k_inner])
            for ep in np.split(rows, np.flatnonzero(np.diff(rows) != 1) + 1):
                if float(s.duration[ep].sum()) <= self.brief_inner + 1e-9:
                    sev_of.update({int(r): Severity.WARNING for r in ep})
        for r, c in zip(*crossed.nonzero()):
            i = int(r)
            u, l = PAIRS[c]
            k = ctx.keys[i]
            out.append(self.violation(s, i, [u, l], (
                f"{VOICES[l]} {note_name(int(p[i, l]), k)} sounds above {VOICES[u]} "
                f"{note_name(int(p[i, u]), k)}"), severity=sev_of.get(i) if c == k_inner else None, ctx=ctx))
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
        if lo == 0:  # table rows (read-only), no arithmetic over the pitches where one bound is open
            return ALL if hi == 127 else AT_MOST[hi]
        return AT_LEAST[lo] if hi == 127 else AT_LEAST[lo] & AT_MOST[hi]


#: (voice, neighbour, the neighbour is above) for every voice that may overlap a neighbour, top voice first
_PAIRS = tuple((v, w, w < v) for v in range(4) for w in (v - 1, v + 1) if 0 <= w < 4)
_PAIR_VOICE = np.asarray([v for v, _, _ in _PAIRS])
_PAIR_NEIGHBOUR = np.asarray([w for _, w, _ in _PAIRS])
_PAIR_ABOVE = np.asarray([a for _, _, a in _PAIRS])


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
        p = s.pitch.astype(np.int32)
        prev, cur = p[:-1], p[1:]  # (N-1, 4) each: empty for fewer than two sonorities
        moved = (prev != REST) & (cur != REST) & (prev != cur)  # (N-1, 4)
        # every (voice, neighbour) pair at once: (N-1, 6), pairs in _PAIRS' order
        ref, moved_to = prev[:, _PAIR_NEIGHBOUR], cur[:, _PAIR_VOICE]
        bad = moved[:, _PAIR_VOICE] & (ref != REST) & np.where(_PAIR_ABOVE, moved_to > ref, moved_to < ref)
        for j, r in zip(*bad.T.nonzero()):  # pair by pair, rows in order
            v, w, above = _PAIRS[j]
            i = int(r) + 1
            k = ctx.keys[i]
            out.append(self.violation(s, i, [v, w], (
                f"{VOICES[v]} moves to {note_name(int(p[i, v]), k)}, "
                f"{'above' if above else 'below'} the {VOICES[w]}'s previous "
                f"{note_name(int(p[i-1, w]), k)}"), ctx=ctx))
        out.sort(key=lambda v: v.index)
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        prev, _ = last_two(state)
        if prev is None or prev[voice] == REST:
            return ALL
        above = prev[voice - 1] if voice > 0 else REST  # the previous notes of the neighbours
        below = prev[voice + 1] if voice < 3 else REST
        if above == REST:
            if below == REST:
                return ALL
            ok = ~BELOW[below]
        else:
            ok = ~ABOVE[above] if below == REST else ~(ABOVE[above] | BELOW[below])
        ok[prev[voice]] = True  # holding (or re-striking) does not move
        return ok
