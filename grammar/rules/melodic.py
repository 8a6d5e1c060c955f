"""One voice's line: augmented melodic intervals and large leaps (reported where the leap lands)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..theory import VOICES
from .base import REST, Context, DecodeState, Rule, SonorityArray, Violation, register
from .masks import ALL, LEAP_OK, last_two
from .spelling import augmented_table, interval_name, note_name

__all__ = ["MelodicAugmentedInterval", "LargeLeap", "legal_moves"]


@register
class MelodicAugmentedInterval(Rule):
    """An augmented melodic interval (second, fourth, fifth, ...) in one voice.

    Pitches are spelled from the local key (see :mod:`.spelling`), so the same MIDI
    numbers are judged alike in a parsed score and while decoding; chromatic semitones
    (augmented unisons) are allowed. Mask: one row of the cached 128x128 table of the key.
    """

    id = "melodic-augmented-interval"
    description = "an augmented second, fourth or other augmented melodic interval in one voice"

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        p = s.pitch.astype(np.int32)
        prev, cur = p[:-1], p[1:]  # (N-1, 4) each: empty for fewer than two sonorities
        moved = (prev != REST) & (cur != REST) & (prev != cur)
        names = np.asarray([k.name for k in ctx.keys[1:]])
        bad = np.zeros_like(moved)
        for name in set(names.tolist()):  # one table lookup per key in use
            rows = names == name
            bad[rows] = augmented_table(name)[np.clip(prev[rows], 0, 127), np.clip(cur[rows], 0, 127)]
        for r, v in zip(*np.nonzero(bad & moved)):
            i, v = int(r) + 1, int(v)
            k = ctx.keys[i]
            a, b = int(p[i - 1, v]), int(p[i, v])
            out.append(self.violation(s, i, [v], (
                f"{VOICES[v]} moves {note_name(a, k)}–{note_name(b, k)}, "
                f"an {interval_name(a, b, k.name)}"), ctx=ctx))
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        prev, _ = last_two(state)
        if prev is None or prev[voice] == REST:
            return ALL
        return _not_augmented(state.ctx.keys[state.index].name)[prev[voice]]


@lru_cache(maxsize=None)
def _not_augmented(key_name: str) -> np.ndarray:
    """(128, 128) read-only: row p allows every melodic move from p that is not augmented in the key."""
    t = ~augmented_table(key_name)
    t.flags.writeable = False
    return t


@lru_cache(maxsize=None)
def legal_moves(key_name: str) -> np.ndarray:
    """(128, 128) read-only: ``[a, b]`` when both melodic rules accept a voice moving from a to b in the key.

    No augmented interval and no seventh or leap past the octave: what the decoder's
    look-aheads need to know about a voice's next note, from the rules themselves.
    """
    t = LEAP_OK & _not_augmented(key_name)
    t.flags.writeable = False
    return t


def _leap_too_large(d: np.ndarray | int):
    d = np.abs(d)
    return (d > 12) | (d == 10) | (d == 11)


@register
class LargeLeap(Rule):
    """A melodic leap larger than an octave, or a seventh (10 or 11 semitones).

    Mask: every pitch whose distance from the voice's previous pitch is one of those.
    """

    id = "large-leap"
    description = "a melodic leap larger than an octave, or a seventh"

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        p = s.pitch.astype(np.int32)
        prev, cur = p[:-1], p[1:]  # (N-1, 4) each: empty for fewer than two sonorities
        bad = (prev != REST) & (cur != REST) & _leap_too_large(cur - prev)
        for r, v in zip(*np.nonzero(bad)):
            i, v = int(r) + 1, int(v)
            k = ctx.keys[i]
            a, b = int(p[i - 1, v]), int(p[i, v])
            what = "more than an octave" if abs(b - a) > 12 else "a seventh"
            out.append(self.violation(s, i, [v], (
                f"{VOICES[v]} leaps {note_name(a, k)}–{note_name(b, k)}, {what}"), ctx=ctx))
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        prev, _ = last_two(state)
        if prev is None or prev[voice] == REST:
            return ALL
        return LEAP_OK[prev[voice]]
