"""Non-chord tones that are not one of the recognised figures (a warning in every profile)."""
from __future__ import annotations

import numpy as np

from ..theory import VOICES
from .base import REST, Context, Rule, Severity, SonorityArray, Violation, register
from .chords import chords_for
from .spelling import note_name

__all__ = ["UnpreparedDissonance"]


@register
class UnpreparedDissonance(Rule):
    """A non-chord tone that is neither passing, neighbour, suspension, anticipation nor appoggiatura.

    A note (a run of one pitch in one voice, held or re-struck) is judged where it is
    left, i.e. at the sonority after its last one, and only if it is a non-chord tone at
    its last sonority (a note that becomes a chord tone is an anticipation or absorbed):
    prepared (a chord tone earlier in the run) -> must fall by step (suspension);
    otherwise by approach and departure: step-step (passing/neighbour) or leap-step
    (appoggiatura) are fine, anything else (escape tones included) is reported. A
    non-chord tone in the last sonority of a prefix is not judged yet, so the mask is the
    base class's (this rule is a warning: never a decoding mask).
    """

    id = "unprepared-dissonance"
    description = "a non-chord tone that is not passing, neighbour, suspension, anticipation or appoggiatura"
    default_severity = Severity.WARNING

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        n = len(s)
        if n < 2:
            return out
        chords, _ = chords_for(s, ctx)
        member = np.zeros((n, 4), bool)
        known = np.zeros(n, bool)
        for i, ch in enumerate(chords):
            if ch is not None:
                known[i] = True
                pcs = list(ch.members)
                member[i] = np.isin(s.pitch[i] % 12, pcs)
        p = s.pitch.astype(np.int32)
        for v in range(4):
            col = p[:, v]
            change = np.flatnonzero(col[1:] != col[:-1]) + 1  # rows where a new run starts
            starts = np.concatenate([[0], change])
            ends = np.concatenate([change, [n]])  # exclusive
            for a, e in zip(starts, ends):
                x = int(col[a])
                last = e - 1
                if x == REST or e >= n or not known[last] or member[last, v]:
                    continue
                y = int(col[e])
                prepared = bool(member[a:last, v].any())
                before = int(col[a - 1]) if a > 0 else REST
                din = x - before if before != REST else None
                dout = y - x if y != REST else None
                step_out = dout is not None and 1 <= abs(dout) <= 2
                if prepared:
                    ok = dout is not None and -2 <= dout <= -1
                    kind = "a suspension that does not fall by step"
                elif din is None:
                    ok, kind = False, "a dissonance entered from silence"
                elif not step_out:
                    ok, kind = False, "a dissonance left by leap" if dout is not None else "an unresolved dissonance"
                else:
                    ok, kind = True, ""
                if ok:
                    continue
                k = ctx.keys[last]
                ch = chords[last]
                out.append(self.violation(s, int(e), [v], (
                    f"{VOICES[v]} {note_name(x, k)} against {ch.figure} is {kind}"), ctx=ctx))
        out.sort(key=lambda v: v.index)
        return out
