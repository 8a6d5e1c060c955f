"""Write a checked score back out with every violation marked on its notes.

Each violating note is coloured (red for errors, orange for warnings) and the rule id is
written above it as a text expression, so the marks show in any notation program.
The user's stream is copied, never modified.
"""
from __future__ import annotations

import copy
from pathlib import Path

from ..errors import InputError, Location
from ..fileio import write_with
from ..theory import VOICES
from .base import Severity
from .report import Report

__all__ = ["annotate", "write_annotated"]

_COLOURS = {Severity.ERROR: "#D00000", Severity.WARNING: "#E08000"}


def annotate(report: Report):
    """A copy of the report's score with violations coloured and named (a music21 Score)."""
    from music21 import expressions

    parsed = report.parsed
    if parsed is None:
        raise InputError("this report has no score to annotate (it was checked from arrays)")
    score = copy.deepcopy(parsed.score)
    # map each voice to the same part in the copy (voices are parts of the score, or split voices)
    originals = list(parsed.score.parts) if hasattr(parsed.score, "parts") else []
    copies = list(score.parts) if hasattr(score, "parts") else []
    voices = []
    for v in parsed.voices:
        voices.append(copies[originals.index(v)] if v in originals else None)
    labelled: set[tuple[int, float]] = set()
    for viol in report.violations:
        for name in viol.voices:
            vi = VOICES.index(name)
            part = voices[vi]
            if part is None:
                continue
            note = _sounding_note(part, viol.offset)
            if note is None:
                continue
            colour = _COLOURS.get(viol.severity, "#D00000")
            if note.style.color != _COLOURS[Severity.ERROR]:
                note.style.color = colour
            key = (vi, round(viol.offset, 4))
            text = expressions.TextExpression(viol.rule)
            text.style.color = colour
            text.placement = "above"
            measure = note.getContextByClass("Measure")
            if measure is not None and (key, viol.rule) not in labelled:
                measure.insert(note.getOffsetBySite(measure) if note.activeSite is measure else note.offset, text)
                labelled.add((key, viol.rule))
    return score


def _sounding_note(part, offset: float):
    flat = part.flatten()
    best = None
    for n in flat.notes:
        start = float(n.getOffsetInHierarchy(part))
        if start <= offset + 1e-6 < start + float(n.quarterLength):
            best = n
        elif start > offset + 1e-6:
            break
    return best


def write_annotated(report: Report, path: str | Path) -> Path:
    """Write the annotated score as MusicXML (atomically)."""
    score = annotate(report)
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise InputError("the output folder does not exist", Location(file=str(path)))
    return write_with(path, lambda tmp: score.write("musicxml", fp=str(tmp)))
