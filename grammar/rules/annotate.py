"""Write a checked score back out with every violation marked on its notes.

Each violating note is coloured (red for errors, orange for warnings) and the rule id is
written beside it as a text direction, so the marks show in any notation program. The
user's stream is copied, never modified: the reader (:mod:`.satb_reader`) remembers the
music21 note behind every event and the container (measure or voice) it sits in, and the
same objects are found in the copy, so a mark lands on the very note the checker judged
in every layout (four parts, two staves of two voices, two staves of chords: there the
one note of a chord is coloured). A direction has no duration and goes in at the note's
own offset in its container, so no bar changes length.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..fileio import write_with
from ..score_writer import write_score
from ..theory import VOICES
from .base import Severity
from .report import Report

__all__ = ["annotate", "annotate_marks", "write_annotated", "Annotated"]

_COLOURS = {Severity.ERROR: "#D00000", Severity.WARNING: "#E08000"}


@dataclass
class Annotated:
    """An annotated copy of a score and how many violations it could mark."""

    score: Any  # music21 Score
    labels: int  # rule names written
    unmarked: list  # violations whose notes could not be found (a voice resting there)


def annotate(report: Report):
    """A copy of the report's score with violations coloured and named (a music21 Score)."""
    return annotate_marks(report).score


def annotate_marks(report: Report) -> Annotated:
    """:func:`annotate`, also saying how many labels were written and which violations got none."""
    from music21 import expressions

    parsed = report.parsed
    if parsed is None:
        raise InputError("this report has no score to annotate (it was checked from arrays).")
    original = parsed.score
    score = copy.deepcopy(original)
    twin = _twins(original, score)
    two_staves = parsed.satb.layout == "two staves"
    labelled: set[tuple[int, Any, str]] = set()
    unmarked = []
    labels = 0
    for viol in report.violations:
        marked = False
        colour = _COLOURS.get(viol.severity, _COLOURS[Severity.ERROR])
        for name in viol.voices:
            vi = VOICES.index(name)
            events = parsed.satb.voices[vi]
            i = events.sounding_at(viol.offset)
            if i is None or int(events.midis[i]) < 0:
                continue
            el, k, container = events.sources[i]
            el_copy, box = twin.get(id(el)), twin.get(id(container))
            if el_copy is None or box is None:
                continue
            target = el_copy.notes[k] if k >= 0 else el_copy
            if target.style.color != _COLOURS[Severity.ERROR]:  # an error's red wins over a warning's orange
                target.style.color = colour
            marked = True
            key = (id(el_copy), k, viol.rule)
            if key in labelled:
                continue
            labelled.add(key)
            text = expressions.TextExpression(viol.rule)
            text.style.color = colour
            # on a staff of two voices the lower voice's label goes below it
            text.placement = "below" if two_staves and name in ("alto", "bass") else "above"
            box.insert(box.elementOffset(el_copy), text)
            labels += 1
        if not marked:
            unmarked.append(viol)
    return Annotated(score, labels, unmarked)


def _twins(original: Any, copied: Any) -> dict[int, Any]:
    """id(object in the original) -> the same object in its deep copy (walked in the same order)."""
    a = [original, *original.recurse(includeSelf=False)]
    b = [copied, *copied.recurse(includeSelf=False)]
    out: dict[int, Any] = {}
    for x, y in zip(a, b):
        if type(x) is not type(y):  # the copy differs in shape: map no further than this point
            break
        out[id(x)] = y
    return out


def write_annotated(report: Report, path: str | Path) -> Annotated:
    """Write the annotated score as MusicXML (atomically); returns what was marked."""
    done = annotate_marks(report)
    write_with(Path(path), lambda tmp: write_score(done.score, "musicxml", tmp))
    return done
