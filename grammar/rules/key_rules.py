"""Notes foreign to the local key that no chromatic chord explains."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..theory import VOICES, ChordSpec, KeyInfo
from .base import REST, Context, DecodeState, Rule, SonorityArray, Violation, register
from .chords import chords_for, explains_chromatic
from .masks import PITCHES
from .spelling import note_name

__all__ = ["OutOfKey"]


@register
class OutOfKey(Rule):
    """A note outside the local key's scale (minor: raised 6 and 7 included) and outside any chromatic chord.

    A plan's chord explains its own notes (applied dominants, mixture, Neapolitan,
    augmented sixths are all plan figures); an inferred chord explains them only when it
    is one of those kinds. Mask (plan chord known): the key's scale plus the chord's
    pitch classes, tiled over the octaves.
    """

    id = "out-of-key"
    description = "a note foreign to the local key that no chromatic chord explains"

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        p = s.pitch
        foreign = (p != REST) & ~_in_scale(ctx, p)
        if not foreign.any():
            return out
        chords, inferred = chords_for(s, ctx)
        for i, v in zip(*foreign.nonzero()):
            i, v = int(i), int(v)
            k, ch, x = ctx.keys[i], chords[i], int(p[i, v])
            if ch is not None and x % 12 in ch.members and explains_chromatic(ch, k, inferred):
                continue
            what = f" over {ch.figure}" if ch is not None else ""
            out.append(self.violation(s, i, [v], (
                f"{VOICES[v]} {note_name(x, k)} is foreign to {k.name} {k.mode}{what}"), ctx=ctx))
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        if state.ctx.chords is None:
            return super().allowed(state, voice)
        i = state.index
        return _allowed_in(state.ctx.keys[i], state.ctx.chord(i), state.ctx.chords_inferred)


@lru_cache(maxsize=4096)
def _allowed_in(key: KeyInfo, chord: ChordSpec | None, inferred: bool) -> np.ndarray:
    """The mask of :meth:`OutOfKey.allowed` for one (key, chord), read-only (it is shared)."""
    ok = set(key.scale)
    if chord is not None and explains_chromatic(chord, key, inferred):
        ok |= set(chord.members)
    mask = _pc_mask(tuple(sorted(ok))).copy()
    mask.flags.writeable = False
    return mask


def _in_scale(ctx: Context, p: np.ndarray) -> np.ndarray:
    """(N, 4) bool: each pitch of ``p`` (N, 4) lies in the scale of its row's key (rests: anything)."""
    if not len(ctx.keys):
        return np.zeros(p.shape, bool)
    distinct, rows = ctx.key_numbers()
    table = np.stack([_pc_mask(k.scale) for k in distinct])  # (K, 128): key number x MIDI pitch
    return table[rows[:, None], np.minimum(np.maximum(p, 0), 127)]  # (np.clip, minus its Python-level wrapper)


@lru_cache(maxsize=1024)
def _pc_mask(pcs: tuple[int, ...]) -> np.ndarray:
    """bool[128]: MIDI numbers whose pitch class is in ``pcs`` (cached; callers copy).

    One slice per pitch class: ``np.isin`` gives the same array but costs about 50 µs on
    first use, which a first check of each new key pays.
    """
    mask = np.zeros(len(PITCHES), bool)
    for pc in pcs:
        mask[pc % 12::12] = True
    return mask
