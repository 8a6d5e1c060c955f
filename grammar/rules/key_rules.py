"""Notes foreign to the local key that no chromatic chord explains."""
from __future__ import annotations

import numpy as np

from ..theory import VOICES
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
        chords, inferred = chords_for(s, ctx)
        p = s.pitch
        for i in range(len(s)):
            k = ctx.keys[i]
            ch = chords[i]
            for v in range(4):
                x = int(p[i, v])
                if x == REST or x % 12 in k.scale:
                    continue
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
        k = state.ctx.keys[i]
        ch = state.ctx.chord(i)
        ok = set(k.scale)
        if ch is not None and explains_chromatic(ch, k, state.ctx.chords_inferred):
            ok |= set(ch.members)
        return np.isin(PITCHES % 12, sorted(ok))
