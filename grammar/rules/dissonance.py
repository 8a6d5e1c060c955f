"""Non-chord tones that fit no class (:mod:`.nct`): the ``unprepared-dissonance`` rule.

The classes themselves (passing, neighbour, appoggiatura, incomplete neighbour, escape
tone, suspension, retardation, anticipation, pedal) live in :mod:`.nct`; this rule
reports the notes that fit none of them.
"""
from __future__ import annotations

import numpy as np

from ..theory import VOICES
from .base import REST, Context, DecodeState, Rule, Severity, SonorityArray, Violation, register
from .chords import chords_for
from .nct import BEAT, UNCLASSIFIED, accents, classify_notes, departure_mask
from .spelling import note_name

__all__ = ["UnpreparedDissonance"]


@register
class UnpreparedDissonance(Rule):
    """A non-chord tone that fits no class of :mod:`.nct` (reported where the voice leaves it).

    A note is judged at the sonority where its voice moves on (or rests), because only
    then is its class decided; the violation's ``measure``, ``beat`` and ``offset`` are
    those of the note where it turns dissonant, its ``index`` the sonority that decided.
    ``error_accent``: an unclassified note dissonant on a metric accent at least this
    strong (:data:`.nct.BEAT`: on a beat) is an error when the rule's severity is error,
    one off the beat a warning; None makes every one a warning.

    Mask: for the note the voice leaves at the row being written, every pitch that
    completes one of its open classes (:func:`.nct.departure_mask`), and holding it.
    """

    id = "unprepared-dissonance"
    description = "a non-chord tone that is not passing, neighbour, appoggiatura, escape tone, suspension, " \
                  "retardation, anticipation or pedal"
    default_severity = Severity.WARNING
    reads_entry = True  # the class of a note depends on the step or leap into it

    def __init__(self, severity: Severity | None = None, error_accent: int | None = BEAT) -> None:
        super().__init__(severity)
        self.error_accent = error_accent

    def check(self, s: SonorityArray, ctx: Context) -> list[Violation]:
        out: list[Violation] = []
        if len(s) < 2:
            return out
        chords, _ = chords_for(s, ctx)
        acc = accents(s, ctx)
        for nc in classify_notes(s, ctx, chord_tones=False, labels=False):
            if nc.kind != UNCLASSIFIED:
                continue
            at = nc.dissonant_from if nc.dissonant_from is not None else nc.start
            severity = self.severity
            if severity == Severity.ERROR and (self.error_accent is None or acc[at] < self.error_accent):
                severity = Severity.WARNING
            k = ctx.keys[at]
            ch = chords[at]
            nxt = int(s.pitch[nc.stop, nc.voice])
            left = "a rest" if nxt == REST else note_name(nxt, ctx.keys[nc.stop])
            v = self.violation(s, nc.stop, [nc.voice], (
                f"{VOICES[nc.voice]} {note_name(nc.pitch, k)} against {ch.figure if ch is not None else 'the chord'} "
                f"fits no non-chord-tone class: {nc.reason} (to {left}; closest: {nc.closest})"),
                severity=severity, ctx=ctx)
            v.measure, v.beat, v.offset = int(s.measure[at]), float(s.beat[at]), float(s.offset[at])
            out.append(v)
        out.sort(key=lambda v: v.index)
        return out

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        if state.ctx.chords is None:  # inferred chords: the row being written changes its own chord
            return super().allowed(state, voice)
        mask, _ = departure_mask(state, voice)
        return mask
