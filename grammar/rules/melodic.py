"""One voice's line: augmented melodic intervals and large leaps (reported where the leap lands)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..theory import VOICES
from .base import REST, Context, DecodeState, Rule, SonorityArray, Violation, register
from .masks import ALL, LEAP_OK, PITCHES, last_two
from .spelling import (augmented_table, cell_position, interval_name_between, is_augmented, note_name, position_name,
                       positions_over, spell_source, spelled_positions)

__all__ = ["MelodicAugmentedInterval", "LargeLeap", "legal_moves"]


@register
class MelodicAugmentedInterval(Rule):
    """An augmented melodic interval (second, fourth, fifth, ...) in one voice, judged as written.

    A note the score writes keeps its letter; any other note is spelled as partimento
    writes it (the plan chord's spelling for its members, else the key's; see
    :mod:`.spelling`), so E♯–D in V7/vi → ii is an augmented second while F–D is a minor
    third, and a decoding prefix is judged exactly as its written score will be.
    Chromatic semitones (augmented unisons) are allowed. Mask: one cached row per
    (previous pitch, its position, the chord spelling the new note).
    """

    id = "melodic-augmented-interval"
    description = "an augmented second, fourth or other augmented melodic interval in one voice, as written"

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        if len(s) < 2:
            return out
        p = s.pitch.astype(np.int64)
        prev, cur = p[:-1], p[1:]  # (N-1, 4) each
        moved = (prev != REST) & (cur != REST) & (prev != cur)
        if not moved.any():
            return out
        pos = spelled_positions(s, ctx)  # (N, 4)
        bad = moved & is_augmented(cur - prev, pos[1:] - pos[:-1])
        for r, v in zip(*bad.nonzero()):
            i, v = int(r) + 1, int(v)
            a, b, pa, pb = int(p[i - 1, v]), int(p[i, v]), int(pos[i - 1, v]), int(pos[i, v])
            out.append(self.violation(s, i, [v], (
                f"{VOICES[v]} moves {position_name(a, pa)}–{position_name(b, pb)}, "
                f"an {interval_name_between(a, pa, b, pb)}"), ctx=ctx))
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        prev, _ = last_two(state)
        if prev is None or prev[voice] == REST:
            return ALL
        s, ctx, i = state.sonorities, state.ctx, state.index
        inferred = ctx.chords is None or ctx.chords_inferred
        figure, key_name = spell_source(None if ctx.chords is None else ctx.chords[i], ctx.keys[i], inferred)
        return _not_augmented_row(prev[voice], cell_position(s, ctx, i - 1, voice), figure, key_name)


@lru_cache(maxsize=65536)
def _not_augmented_row(p0: int, pos0: int, figure: str | None, key_name: str) -> np.ndarray:
    """(128,) read-only: the pitches a voice at ``p0`` (written at ``pos0``) may move to, struck over ``figure``."""
    pos = positions_over(figure, key_name)
    row = ~is_augmented(PITCHES - p0, pos - pos0)
    row.flags.writeable = False
    return row


@lru_cache(maxsize=None)
def _not_augmented(key_name: str, source: str | None = None, target: str | None = None) -> np.ndarray:
    """(128, 128) read-only: row p allows every melodic move from p that is not augmented (see legal_moves)."""
    t = ~augmented_table(key_name, source, target)
    t.flags.writeable = False
    return t


@lru_cache(maxsize=None)
def legal_moves(key_name: str, source: str | None = None, target: str | None = None) -> np.ndarray:
    """(128, 128) read-only: ``[a, b]`` when both melodic rules accept a voice moving from a to b.

    No augmented interval and no seventh or leap past the octave: what the decoder's
    look-aheads need to know about a voice's next note, from the rules themselves. ``a``
    is spelled as struck over the plan chord figure ``source``, ``b`` over ``target``, both
    in ``key_name`` (None: the key's own spelling, which differs only for chromatic chord
    members).
    """
    t = LEAP_OK & _not_augmented(key_name, source, target)
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
        for r, v in zip(*bad.nonzero()):
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
