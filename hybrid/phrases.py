"""Where a melody's phrases end: at fermatas, before rests, at breath marks, else at long notes.

A phrase ends on a note (its cadence note). Fermatas, rests and breath marks are what a
chorale or a folk-song book writes; a melody that marks none of them is cut at its long
notes (at least two beats and clearly longer than the tune's usual note, two bars or more
after the last cut), the way a singer breathes. The melody's last note always ends the
last phrase.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.neural.encoding import PITCH_OFFSET

from .melody import Melody

__all__ = ["PhraseEnd", "phrase_ends", "note_spans"]

LONG_NOTE_BEATS = 2  # a long note lasts at least this many beats ...
LONG_NOTE_RATIO = 1.5  # ... and this many times the melody's median note
MIN_PHRASE_BARS = 2  # a long note this soon after the last phrase end does not end another


@dataclass(frozen=True)
class PhraseEnd:
    """The note a phrase ends on: its attack step, the step it stops sounding, and why it ends there."""

    step: int
    stop: int
    reason: str  # "fermata" | "rest" | "breath" | "long note" | "end"


def note_spans(mel: Melody) -> list[tuple[int, int]]:
    """(attack step, stop step) of every melody note, ties merged."""
    att = np.flatnonzero(mel.tokens >= PITCH_OFFSET)
    out = []
    for a in att:
        b = int(a) + 1
        while b < mel.steps and mel.tokens[b] < PITCH_OFFSET and mel.pitch[b] == mel.pitch[a]:
            b += 1
        out.append((int(a), b))
    return out


def phrase_ends(mel: Melody) -> list[PhraseEnd]:
    """The phrase ends of ``mel`` in order (the last one is the final note)."""
    notes = note_spans(mel)
    ends: dict[int, PhraseEnd] = {}
    for a, b in notes:
        if a in mel.fermata_steps:
            ends[a] = PhraseEnd(a, b, "fermata")
        elif a in mel.breath_steps:
            ends[a] = PhraseEnd(a, b, "breath")
        elif b < mel.steps and mel.pitch[b] < 0 and (a, b) != notes[-1]:
            ends[a] = PhraseEnd(a, b, "rest")
    if not ends:
        metre = mel.metre_obj
        beat = int(metre.beat_quarters * STEPS_PER_QUARTER)
        median = float(np.median([b - a for a, b in notes]))
        last_cut = 0
        for a, b in notes[:-1]:
            long = b - a >= LONG_NOTE_BEATS * beat and b - a >= LONG_NOTE_RATIO * median
            if long and b - last_cut >= MIN_PHRASE_BARS * metre.bar_steps and mel.steps - b >= metre.bar_steps:
                ends[a] = PhraseEnd(a, b, "long note")
                last_cut = b
    a, b = notes[-1]
    ends[a] = PhraseEnd(a, b, ends[a].reason if a in ends else "end")
    return [ends[k] for k in sorted(ends)]
