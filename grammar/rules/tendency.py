"""Tendency tones: the leading tone of a dominant and the seventh of a chord.

These rules read the chord at each sonority: the plan's chord while decoding (or when a
plan is given), else the chord inferred from the notes (see :mod:`.chords`). Without
plan chords the mask falls back to trying each pitch, because the inferred chord of the
row being written depends on the pitch tried.
"""
from __future__ import annotations

import numpy as np

from ..theory import VOICES, pc_name
from .base import REST, Context, DecodeState, Rule, SonorityArray, Violation, register
from .chords import chords_for, leading_tone_of, same_harmony
from .masks import ALL, NOT_PC, ONLY, last_two
from .spelling import note_name

__all__ = ["DoubledLeadingTone", "LeadingToneResolution", "SeventhResolution"]


@register
class DoubledLeadingTone(Rule):
    """Two or more voices sound the leading tone of a dominant-function chord.

    Mask (plan chord known): if a written voice already holds the chord's leading tone,
    forbid that pitch class.
    """

    id = "doubled-leading-tone"
    description = "two voices hold the leading tone in a dominant-function chord"

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        chords, _ = chords_for(s, ctx)
        p = s.pitch
        for i, ch in enumerate(chords):
            lt = leading_tone_of(ch, ctx.keys[i])
            if lt is None:
                continue
            vs = [v for v in range(4) if p[i, v] != REST and p[i, v] % 12 == lt]
            if len(vs) >= 2:
                out.append(self.violation(s, i, vs, (
                    f"the leading tone {pc_name(lt)} of {ch.figure} is doubled "
                    f"({', '.join(VOICES[v] for v in vs)})"), ctx=ctx))
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        if state.ctx.chords is None:
            return super().allowed(state, voice)
        i = state.index
        lt = leading_tone_of(state.ctx.chord(i), state.ctx.keys[i])
        _, cur = last_two(state)
        if lt is None or not any(cur[w] != REST and cur[w] % 12 == lt for w in range(4) if w != voice):
            return ALL
        return NOT_PC[lt]


@register
class LeadingToneResolution(Rule):
    """The leading tone in the soprano of a dominant chord going to its tonic must rise a semitone.

    Reported at the tonic chord. Mask (plan chords known): when the previous chord is a
    dominant with its leading tone in the soprano and this chord is its tonic, the
    soprano may only take the pitch a semitone higher.
    """

    id = "leading-tone-resolution"
    description = "the soprano's leading tone in a dominant going to the tonic does not rise to the tonic"

    @staticmethod
    def _expects(ch0, ch1, key0, soprano_prev: int) -> bool:
        lt = leading_tone_of(ch0, key0)
        return (lt is not None and ch1 is not None and soprano_prev != REST and soprano_prev % 12 == lt
                and ch1.root == (lt + 1) % 12)

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        chords, _ = chords_for(s, ctx)
        p = s.pitch
        for i in range(1, len(s)):
            s0, s1 = int(p[i - 1, 0]), int(p[i, 0])
            if s1 == REST or not self._expects(chords[i - 1], chords[i], ctx.keys[i - 1], s0):
                continue
            if s1 != s0 + 1:
                k = ctx.keys[i]
                out.append(self.violation(s, i, [0], (
                    f"the leading tone {note_name(s0, k)} of {chords[i-1].figure} goes to "
                    f"{note_name(s1, k)} instead of rising to {note_name(s0 + 1, k)} on {chords[i].figure}"), ctx=ctx))
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        if state.ctx.chords is None:  # the inferred chords depend on every voice written
            return super().allowed(state, voice)
        if voice != 0:
            return ALL
        i = state.index
        prev, _ = last_two(state)
        if prev is None or not self._expects(state.ctx.chord(i - 1), state.ctx.chord(i), state.ctx.keys[i - 1], prev[0]):
            return ALL
        return ONLY[prev[0] + 1]


@register
class SeventhResolution(Rule):
    """A chord seventh must resolve down by step when the harmony changes.

    Judged where the voice holding the previous chord's seventh arrives at a chord with
    another root: a step down (1 or 2 semitones) is fine, and so is holding it when it
    belongs to the new chord; within one harmony (same root) the seventh may stay or move.
    Mask (plan chords known): only p0-1, p0-2 (and p0 if a member of the new chord).
    """

    id = "seventh-resolution"
    description = "a chord seventh does not resolve down by step"

    @staticmethod
    def _seventh(ch0, ch1, p0: int) -> bool:
        return (ch0 is not None and ch0.seventh is not None and ch1 is not None and p0 != REST
                and p0 % 12 == ch0.seventh and not same_harmony(ch0, ch1))

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        chords, _ = chords_for(s, ctx)
        p = s.pitch
        for i in range(1, len(s)):
            ch0, ch1 = chords[i - 1], chords[i]
            if ch0 is None or ch0.seventh is None or ch1 is None or same_harmony(ch0, ch1):
                continue
            for v in range(4):
                p0, p1 = int(p[i - 1, v]), int(p[i, v])
                if p1 == REST or not self._seventh(ch0, ch1, p0):
                    continue
                if p1 in (p0 - 1, p0 - 2) or (p1 == p0 and p0 % 12 in ch1.members):
                    continue
                k = ctx.keys[i]
                how = "is held" if p1 == p0 else f"goes to {note_name(p1, k)}"
                out.append(self.violation(s, i, [v], (
                    f"the seventh {note_name(p0, k)} of {ch0.figure} {how} on {ch1.figure} "
                    f"instead of resolving down by step"), ctx=ctx))
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        if state.ctx.chords is None:
            return super().allowed(state, voice)
        i = state.index
        prev, _ = last_two(state)
        if prev is None:
            return ALL
        ch0, ch1 = state.ctx.chord(i - 1), state.ctx.chord(i)
        p0 = prev[voice]
        if not self._seventh(ch0, ch1, p0):
            return ALL
        mask = np.zeros(128, dtype=bool)
        mask[[q for q in (p0 - 1, p0 - 2) if q >= 0]] = True
        if p0 % 12 in ch1.members:
            mask[p0] = True
        return mask
