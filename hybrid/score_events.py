"""A music21 score read once into plain note events per voice, plus its tempo map.

Rendering, audio and plots all need the same facts about a score: which notes each
of the four voices plays, when (quarter-note offsets) and how high (MIDI numbers),
and how fast the music goes. This module is the one edge where those facts are read
from music21; everything downstream works on :class:`NoteEvent` tuples and floats.

Voices are found in score order, top to bottom: four parts give soprano, alto, tenor,
bass; two staves with two voices each (SA / TB) are split by voice. Tied notes become
one event (no re-attack), rests are skipped, chords give one event per pitch.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from partimento.grammar.errors import ScoreError

__all__ = ["DEFAULT_QPM", "NoteEvent", "as_score", "voice_events", "TempoMap", "tempo_map"]

#: Tempo used when a score has no metronome mark: quarter = 80, as :class:`Plan` does.
DEFAULT_QPM = 80.0


@dataclass(frozen=True)
class NoteEvent:
    """One sounding note of one voice."""

    voice: int  # 0 soprano, 1 alto, 2 tenor, 3 bass (score order, top to bottom)
    onset: float  # quarter notes from the start of the score
    duration: float  # quarter notes, ties merged
    midi: int  # MIDI pitch number
    notes: tuple[Any, ...] = ()  # the music21 note objects this event came from (tied chain)

    @property
    def end(self) -> float:
        return self.onset + self.duration


def as_score(obj):
    """A music21 stream from a stream, anything with a ``.score`` (a Result), or a file path."""
    from music21 import stream

    if isinstance(obj, stream.Stream):
        return obj
    inner = getattr(obj, "score", None)
    if isinstance(inner, stream.Stream):
        return inner
    if isinstance(obj, (str, Path)):
        from .render import read_score

        return read_score(obj)
    raise ScoreError(f"expected a music21 score, a Result or a score file, got {type(obj).__name__}")


def _parts(score) -> list:
    from music21 import stream

    if isinstance(score, stream.Score) and len(score.parts):
        return list(score.parts)
    return [score]


def voice_events(score) -> list[list[NoteEvent]]:
    """Notes per voice, in score order (top to bottom), each list sorted by onset.

    A part (or Voice) without notes keeps its place as an empty list, so indices stay
    soprano, alto, tenor, bass even when a voice rests throughout. Raises :class:`ScoreError` for a score without any notes.
    """
    from music21 import stream

    voices: list[list[NoteEvent]] = []
    for part in _parts(score):
        # which Voice (0, 1, ...) of its measure each note belongs to, if the part has voices
        voice_of: dict[int, int] = {}
        n_voices = 1
        for m in part.getElementsByClass(stream.Measure):
            vs = list(m.voices)
            n_voices = max(n_voices, len(vs))
            for vi, v in enumerate(vs):
                for n in v.recurse().notes:
                    voice_of[id(n)] = vi
        base = len(voices)
        voices.extend([] for _ in range(n_voices))
        flat = part.flatten()
        open_ties: dict[tuple[int, int], int] = {}  # (voice, midi) -> index of event awaiting a tie stop
        for n in flat.notes:
            dur = float(n.quarterLength)
            if dur <= 0:  # grace notes take no time
                continue
            onset = float(flat.elementOffset(n))
            v = base + voice_of.get(id(n), 0)
            for p in n.pitches:
                midi = int(round(p.ps))
                tie = n.tie.type if n.tie is not None else None
                key = (v, midi)
                if tie in ("stop", "continue") and key in open_ties:
                    i = open_ties[key]
                    prev = voices[v][i]
                    if abs(prev.end - onset) < 1e-6:
                        voices[v][i] = NoteEvent(v, prev.onset, onset + dur - prev.onset, midi, prev.notes + (n,))
                        if tie == "stop":
                            del open_ties[key]
                        continue
                voices[v].append(NoteEvent(v, onset, dur, midi, (n,)))
                if tie in ("start", "continue"):
                    open_ties[key] = len(voices[v]) - 1
    voices = [sorted(v, key=lambda e: (e.onset, -e.midi)) for v in voices]
    if not any(voices):
        raise ScoreError("the score has no notes")
    return voices


@dataclass
class TempoMap:
    """Piecewise-constant tempo: quarter-note offsets to seconds and back."""

    offsets: list[float]  # where each tempo starts, quarter notes, first is 0.0
    qpm: list[float]  # quarter notes per minute from that offset on

    def __post_init__(self) -> None:
        self._seconds = [0.0]
        for i in range(1, len(self.offsets)):
            span = self.offsets[i] - self.offsets[i - 1]
            self._seconds.append(self._seconds[-1] + span * 60.0 / self.qpm[i - 1])

    def seconds(self, offset: float) -> float:
        """Seconds from the start at a quarter-note offset."""
        i = max(bisect.bisect_right(self.offsets, offset) - 1, 0)
        return self._seconds[i] + (offset - self.offsets[i]) * 60.0 / self.qpm[i]


def tempo_map(score, default_qpm: float = DEFAULT_QPM) -> TempoMap:
    """The score's metronome marks as a :class:`TempoMap` (``default_qpm`` before the first)."""
    from music21 import tempo

    marks: dict[float, float] = {}
    for mm in score.flatten().getElementsByClass(tempo.MetronomeMark):
        qpm = mm.getQuarterBPM()
        if qpm and qpm > 0:
            marks[float(mm.getOffsetInHierarchy(score))] = float(qpm)
    if not marks or min(marks) > 0:
        marks.setdefault(0.0, float(default_qpm))
    offs = sorted(marks)
    return TempoMap(offs, [marks[o] for o in offs])
