"""Motion between two voices: parallel and hidden fifths and octaves.

All four rules are reported at the second sonority of the motion. A voice "moves" when
it sounds at both sonorities and its pitch changes; a held or re-struck note does not
move, so holding and re-striking are judged alike.
"""
from __future__ import annotations

from typing import ClassVar, NamedTuple

import numpy as np

from .base import REST, Context, DecodeState, Rule, Severity, SonorityArray, Violation, register
from .masks import ABOVE, ALL, BELOW, INTERVAL_CLASS, LOWER, PAIRS, STEP_OR_MORE, UPPER, last_two, sign
from .spelling import note_name
from ..theory import VOICES

__all__ = ["ParallelFifths", "ParallelOctaves", "HiddenFifths", "HiddenOctaves", "VoicePairs", "voice_pairs"]

_INTERVAL = {7: "fifths", 0: "octaves"}


class VoicePairs(NamedTuple):
    """The six voice pairs (``masks.PAIRS``) of every sonority, one column per pair: what the motion and
    crossing rules all read, worked out once per check (:meth:`Context.shared`)."""

    upper: np.ndarray  # (N, 6) int32 pitch of the pair's upper voice
    lower: np.ndarray  # (N, 6) int32 ... and of its lower voice
    sounding: np.ndarray  # (N, 6) bool both voices sound
    interval_class: np.ndarray  # (N, 6) int32 |upper - lower| mod 12


def voice_pairs(s: SonorityArray, ctx: Context) -> VoicePairs:
    """The :class:`VoicePairs` of ``s``, made once per check (``ctx.shared``)."""
    def make() -> VoicePairs:
        p = s.pitch.astype(np.int32)
        pu, pl = p[:, UPPER], p[:, LOWER]
        return VoicePairs(pu, pl, (pu != REST) & (pl != REST), np.abs(pu - pl) % 12)

    return ctx.shared("voice pairs", make)


class _Parallel(Rule):
    """Both voices move and the perfect interval class (``ic``, mod 12) is kept.

    Compound intervals and unisons count; P5 -> d5 does not (6 semitones is not class 7),
    and contrary-motion fifths/octaves do count (the interval class is kept).
    Mask: for each other voice w that sounded a perfect ``ic`` with this voice in the
    previous row and moves now, forbid every p != previous pitch with |p - w| % 12 == ic.
    """

    ic: ClassVar[int] = 7

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        if len(s) < 2:
            return out
        p = s.pitch
        pu, pl, sounding, interval_class = voice_pairs(s, ctx)  # (N, 6) one column per voice pair
        moved = ctx.shared("both move", lambda: sounding[:-1] & sounding[1:] & (pu[:-1] != pu[1:]) & (pl[:-1] != pl[1:]))
        ic = interval_class == self.ic
        for r, k in zip(*(moved & ic[:-1] & ic[1:]).nonzero()):
            i = int(r) + 1
            u, l = PAIRS[k]
            key = ctx.keys[i]
            out.append(self.violation(s, i, [u, l], (
                f"parallel {_INTERVAL[self.ic]} between {VOICES[u]} and {VOICES[l]}: "
                f"{note_name(int(p[i-1, u]), key)}–{note_name(int(p[i-1, l]), key)} to "
                f"{note_name(int(p[i, u]), key)}–{note_name(int(p[i, l]), key)}"), ctx=ctx))
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        prev, cur = last_two(state)
        if prev is None or prev[voice] == REST:
            return ALL
        pv = prev[voice]
        bad = None
        for w in range(4):
            if w == voice or cur[w] == REST or prev[w] == REST or cur[w] == prev[w]:
                continue
            if abs(pv - prev[w]) % 12 == self.ic:
                row = INTERVAL_CLASS[self.ic][cur[w]]
                bad = row if bad is None else bad | row
        if bad is None:
            return ALL
        mask = ~bad
        mask[pv] = True  # holding (or re-striking) does not move
        return mask


@register
class ParallelFifths(_Parallel):
    id = "parallel-fifths"
    description = "two voices move in parallel (or contrary) perfect fifths, compound included"
    ic = 7


@register
class ParallelOctaves(_Parallel):
    id = "parallel-octaves"
    description = "two voices move in parallel (or contrary) octaves or unisons, compound included"
    ic = 0


_ALL_COLUMNS = list(range(len(PAIRS)))
_OUTER_COLUMN = [PAIRS.index((0, 3))]  # soprano and bass


class _Hidden(Rule):
    """Similar motion into a perfect interval with the upper voice leaping (> 2 semitones).

    Textbook form (``strict``): soprano and bass only. With ``all_pairs`` (the ``chorale``
    profile) every pair is checked and pairs other than soprano-bass get
    ``inner_severity``. Motion that keeps the interval class is parallel, not hidden.
    Mask: for each pair with this voice, the other voice's move fixes a direction; forbid
    pitches moving the same way into the interval class (with the upper voice leaping).
    """

    ic: ClassVar[int] = 7

    def __init__(self, severity: Severity | None = None, all_pairs: bool = False,
                 inner_severity: Severity = Severity.WARNING) -> None:
        super().__init__(severity)
        self.all_pairs = all_pairs
        self.inner_severity = Severity(inner_severity)
        self.pairs = PAIRS if all_pairs else ((0, 3),)

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        if len(s) < 2:
            return out
        p = s.pitch
        cols = _ALL_COLUMNS if self.all_pairs else _OUTER_COLUMN
        pairs = voice_pairs(s, ctx)

        def leaps() -> tuple[np.ndarray, np.ndarray]:  # what hidden fifths and octaves both read
            pu, pl, sounding = pairs.upper[:, cols], pairs.lower[:, cols], pairs.sounding[:, cols]  # (N, pairs)
            du, dl = pu[1:] - pu[:-1], pl[1:] - pl[:-1]
            similar = (np.sign(du) == np.sign(dl)) & (du != 0)
            return sounding[:-1] & sounding[1:] & similar & (np.abs(du) > 2), pairs.interval_class[:, cols]

        # (N-1, pairs) both sound, move the same way, the upper voice leaping; (N, pairs) interval classes
        similar_leap, interval_class = ctx.shared("similar leaps, all pairs" if self.all_pairs else
                                                  "similar leaps, outer voices", leaps)
        ic = interval_class == self.ic
        for r, c in zip(*(similar_leap & ic[1:] & ~ic[:-1]).nonzero()):
            i = int(r) + 1
            u, l = PAIRS[cols[c]]
            sev = None if (u, l) == (0, 3) else self.inner_severity
            k = ctx.keys[i]
            out.append(self.violation(s, i, [u, l], (
                f"hidden {_INTERVAL[self.ic]} between {VOICES[u]} and {VOICES[l]}: similar motion into "
                f"{note_name(int(p[i, u]), k)}–{note_name(int(p[i, l]), k)} with the {VOICES[u]} leaping "
                f"from {note_name(int(p[i-1, u]), k)}"), severity=sev, ctx=ctx))
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        prev, cur = last_two(state)
        if prev is None or prev[voice] == REST:
            return ALL
        pv = prev[voice]
        mask = ALL
        for u, l in self.pairs:
            if voice not in (u, l):
                continue
            w = l if voice == u else u
            if cur[w] == REST or prev[w] == REST or abs(prev[u] - prev[l]) % 12 == self.ic:
                continue
            dw = sign(cur[w] - prev[w])
            if dw == 0:
                continue
            bad = (ABOVE[pv] if dw > 0 else BELOW[pv]) & INTERVAL_CLASS[self.ic][cur[w]]
            if voice == u:
                bad &= STEP_OR_MORE[pv]
            elif abs(cur[w] - prev[w]) <= 2:
                continue
            mask = mask & ~bad
        return mask


@register
class HiddenFifths(_Hidden):
    id = "hidden-fifths"
    description = "soprano and bass move in similar motion into a fifth with the soprano leaping"
    ic = 7


@register
class HiddenOctaves(_Hidden):
    id = "hidden-octaves"
    description = "soprano and bass move in similar motion into an octave with the soprano leaping"
    ic = 0
