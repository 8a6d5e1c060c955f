"""Find the four voices of an SATB score, whatever its layout, as note events per voice.

Students and editors write four-part music in three ways, and all three read alike:

* **four staves** (open score): parts named Soprano/Alto/Tenor/Bass (or S/A/T/B, any
  case and order), else exactly four parts, top to bottom;
* **two staves, two voices each** (closed score, stems up and down): soprano and alto on
  the upper staff, tenor and bass on the lower; in a measure with two voices the one
  with the lower voice number (MusicXML ``<voice>``; stems up by convention) is the
  upper voice;
* **two staves of chords** (stems shared): a two-note chord gives the upper and the lower
  voice of its staff, a single note is both voices in unison, a rest silences both.
  Measures of one staff may mix this and the previous layout.

A chord of three or more notes on a two-voice staff, a third voice, an unpitched note or
a pitch outside MIDI's range is refused with its place. A score with parts besides the
four voices is refused unless the caller names the four (``parts=``), so that no part is
silently left out. This is the one reader of SATB scores: the checker, the annotator and
``infill`` all read through it, so every layout is judged, marked and rewritten alike.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import Location, ScoreError
from ..metre import Metre
from ..theory import VOICES
from .base import REST

__all__ = ["VoiceEvents", "MeasureMap", "SATBScore", "load_score", "check_score_length", "check_midi_length",
           "MAX_SCORE_QUARTERS", "read_satb",
           "LAYOUTS"]

_VOICE_NAMES = {"soprano": 0, "s": 0, "alto": 1, "a": 1, "tenor": 2, "t": 2, "bass": 3, "b": 3}
_LETTER = {"C": 0, "D": 1, "E": 2, "F": 3, "G": 4, "A": 5, "B": 6}
_READABLE = "Give MusicXML (.musicxml, .xml, .mxl), MIDI (.mid) or another file music21 reads."
_FOUR_VOICES_HINT = ("Name the parts Soprano, Alto, Tenor, Bass (or S, A, T, B), give exactly four parts top to "
                     "bottom, or two staves with soprano and alto on the upper and tenor and bass on the lower.")

#: layout names as reported in :attr:`SATBScore.layout`
LAYOUTS = ("four parts", "two staves")


class _M21:
    """music21's modules, imported on the first read (not at import: music21 takes a second to load).

    Held here rather than imported inside each method: a function-level import costs a
    lookup per call, and the walk below calls its methods once per note.
    """

    chord = key = meter = note = stream = None

    @classmethod
    def load(cls) -> type["_M21"]:
        if cls.note is None:
            from music21 import chord, key, meter, note, stream

            cls.chord, cls.key, cls.meter, cls.note, cls.stream = chord, key, meter, note, stream
            global _Note, _Rest, _GeneralNote, _FAST
            _Note, _Rest, _GeneralNote = note.Note, note.Rest, note.GeneralNote
            _FAST = _fast_access_works()
        return cls


_Note: Any = None  # music21.note.Note once loaded: the class the walk tests every element against
_Rest: Any = None  # music21.note.Rest once loaded
_GeneralNote: Any = None  # music21.note.GeneralNote once loaded
_FAST = False  # music21's private fields read directly (see _fast_access_works)
_MAX_MEASURE_NUMBER = 2**31 - 1  # measure numbers are kept as int32 (MeasureMap.numbers)
_STEP_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _fast_access_works() -> bool:
    """Whether this music21 keeps the private fields the walk reads directly.

    The walk reads each note's pitch, duration and offset once. Through music21's public
    properties that was the largest part of the checker's time in a profile (``Pitch.ps`` alone recomputes the
    octave and the accidental through three more properties), so it reads the fields
    behind them, after this check that they exist and agree with the properties on a few
    notes; any other music21 takes the public path.
    """
    from music21 import bar, note, stream

    try:
        m = stream.Measure()
        for i, name in enumerate(("C#4", "E-5", "B##2", "G")):
            n = note.Note(name, quarterLength=0.5 + i)
            m.insert(i * 0.75, n)
        m.insert(4.0, note.Note("F~4"))  # a quarter-tone: the microtone path
        m.storeAtEnd(bar.Barline("final"))
        if list(m.elements) != list(_elements_of(m)):  # (elements sorts the measure: the raw lists are read)
            return False
        for n in m.notes:
            if (_offset_in(m, n) != m.elementOffset(n) or _quarter_length(n) != n.duration.quarterLength
                    or _midi(n.pitch) != round(n.pitch.ps)):
                return False
        return True
    except Exception:  # noqa: BLE001 - any surprise: the public path
        return False


def _midi(p: Any) -> int:
    """``round(p.ps)`` read from the fields behind it (octave, step, accidental)."""
    octave = p._octave
    if octave is None:
        octave = p.implicitOctave
    acc = p._accidental
    if p._microtone is not None:
        return round(p.ps)
    return round(12 * (octave + 1) + _STEP_PC[p._step] + (acc._alter if acc is not None else 0))


def _offset_in(container: Any, el: Any) -> float:
    """``container.elementOffset(el)`` without its checks (a note's offset in its measure or voice)."""
    try:
        o = container._offsetDict[id(el)][0]
    except KeyError:
        return container.elementOffset(el)
    return o if not isinstance(o, str) else container.elementOffset(el)


def _elements_of(m: Any) -> Any:
    """``m.elements`` of a sorted measure read from its lists, without building and caching the tuple
    (a first ``elements`` costs about 1 µs a measure; the walk reads each measure once)."""
    if not m.isSorted:
        return m.elements
    end = m._endElements
    return m._elements + end if end else m._elements


def _quarter_length(el: Any) -> Any:
    """``el.duration.quarterLength`` without the two property calls when it is up to date."""
    d = el._duration
    if d is None or d._quarterLengthNeedsUpdating:
        return el.duration.quarterLength
    return d._qtrLength


@dataclass
class VoiceEvents:
    """One voice as note events in time order (rests included as ``REST``)."""

    starts: np.ndarray  # (n,) float64 quarter-note onset
    ends: np.ndarray  # (n,) float64
    midis: np.ndarray  # (n,) int16 MIDI number, REST for a rest
    attacks: np.ndarray  # (n,) bool: the note is struck (not the continuation of a tie)
    letters: np.ndarray  # (n,) int8 written letter 0=C..6=B; -1 for rests and spellings music21 guessed (MIDI)
    sources: list[tuple[Any, int, Any]]  # (music21 element, index in its chord or -1, its container) per event
    fermatas: list[float]  # onsets of notes that carry a fermata
    end: float | None = None  # where the voice's last event ends (the latest of ``ends``; 0 without events)

    def __post_init__(self) -> None:
        if self.end is None:  # (the reader passes it, worked out from its Python floats)
            self.end = float(self.ends.max()) if len(self.ends) else 0.0

    @cached_property
    def lyrics(self) -> list[tuple[float, str]]:
        """(onset, text) of the lyrics of this voice's notes (rests' left out), read on first use.

        Read from :attr:`sources` when asked, not while the score is walked: only the
        bass's are ever asked for (a plan's chord labels), and looking at every note's
        lyrics during the walk was an eighth of the reader's time.
        """
        if not any(el.lyrics for el, _, _ in self.sources):  # (most voices: no lyric at all, no arrays read)
            return []
        return [(off, text) for off, midi, (el, _, _) in zip(self.starts.tolist(), self.midis.tolist(), self.sources)
                if midi != REST and el.lyrics and (text := el.lyric)]

    def sounding_at(self, offset: float) -> int | None:
        """Index of the event sounding at ``offset`` (a rest included), or None."""
        i = int(np.searchsorted(self.starts, offset + 1e-6, side="right")) - 1
        if i >= 0 and self.ends[i] > offset + 1e-6:
            return i
        return None


@dataclass
class MeasureMap:
    """Bar lines of the score (from its first staff): where each measure starts and how it counts."""

    offsets: np.ndarray  # (M,) quarter-note offset of each measure
    numbers: np.ndarray  # (M,) int32 measure number as printed
    padding: np.ndarray  # (M,) quarter notes missing at the start (a pickup's paddingLeft)
    metres: list[Metre]  # the time signature in force in each measure


@dataclass
class SATBScore:
    """The four voices of a score, soprano first, with what the checker needs besides notes."""

    score: Any  # the music21 Score, never modified
    file: str | None
    layout: str  # one of LAYOUTS
    voices: list[VoiceEvents]  # four, soprano first
    staves: list[Any]  # the music21 part each voice is written in (the same part twice on two staves)
    measures: MeasureMap | None  # None when the score has no measures
    key_signatures: list[tuple[float, Any]] = field(default_factory=list)  # (offset, KeySignature), first staff

    @property
    def end(self) -> float:
        return max((v.end for v in self.voices if len(v.ends)), default=0.0)


# ------------------------------------------------------------------------- loading
#: Longest score a file may hold, in quarter notes (512 bars of 4/4; Bach's longest chorale has
#: about 100). music21 ties a long note across every bar when it writes or re-notates a score
#: and strips the ties again in quadratic time: a fuzzed MIDI whose one note lasted 11,424
#: quarters (a broken delta time) kept `check` and `render` busy for minutes (tests/fuzz found it).
MAX_SCORE_QUARTERS = 2048


def check_score_length(score: Any, label: str | None) -> None:
    """ScoreError naming the file when ``score`` lasts longer than :data:`MAX_SCORE_QUARTERS`."""
    _refuse_length(float(score.highestTime), label)


def _refuse_length(quarters: float, label: str | None) -> None:
    if quarters > MAX_SCORE_QUARTERS:
        raise ScoreError(f"the score lasts {quarters:,.0f} quarter notes; partimento reads scores of at most "
                         f"{MAX_SCORE_QUARTERS:,} (a note held for thousands of bars is usually a broken MIDI "
                         f"delta time).", Location(file=label))


def check_midi_length(path: Path, label: str | None) -> None:
    """:func:`check_score_length` for a MIDI file, from its delta times, before music21 makes a score of it.

    music21 turns a MIDI note into a score note tied across every bar it lasts, and takes
    minutes (and gigabytes) for one note of 200,000 quarters written in 18 bytes: the length
    has to be known before that. Files that are not MIDI, or that music21's MIDI reader cannot
    read, pass: :func:`load_score` reports those as it always has.
    """
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"MThd":
                return
        from music21 import midi

        mf = midi.MidiFile()
        mf.open(str(path))
        try:
            mf.read()
        finally:
            mf.close()
        per_quarter = mf.ticksPerQuarterNote
        ticks = max((sum(e.time for e in t.events if isinstance(e, midi.DeltaTime)) for t in mf.tracks), default=0)
    except Exception:  # noqa: BLE001 - an unreadable file is reported by the parser that follows
        return
    if isinstance(per_quarter, int) and per_quarter > 0:
        _refuse_length(ticks / per_quarter, label)


def load_score(source: Any) -> tuple[Any, str | None]:
    """(music21 score, file label) from a path or a stream; bad files raise ScoreError naming them."""
    from music21 import converter, stream

    if isinstance(source, stream.Stream):
        return source, None
    path = Path(source)
    label = str(source)
    if not path.exists():
        raise ScoreError("no such file", Location(file=label))
    if path.is_dir():
        raise ScoreError("is a directory, not a score file.", Location(file=label), hint=_READABLE)
    check_midi_length(path, label)
    try:
        score = converter.parse(str(path))
    except Exception as exc:  # music21 raises many types for unreadable input
        raise ScoreError(f"music21 cannot read this file ({_first_line(exc)}).", Location(file=label),
                         hint=_READABLE) from None
    if isinstance(score, stream.Opus):
        scores = list(score.scores)
        if len(scores) != 1:
            raise ScoreError(f"contains {len(scores)} scores; give one four-voice score per file.",
                             Location(file=label))
        score = scores[0]
    if not isinstance(score, stream.Stream):
        raise ScoreError("music21 read no score from this file.", Location(file=label), hint=_READABLE)
    check_score_length(score, label)
    return score, label


def _first_line(exc: BaseException) -> str:
    """A short, printable summary of a parser's exception (never the file's raw content)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    first = first.split(", got:")[0].split(" b'")[0]
    if "<" in first and ">" in first:  # raw XML or markup quoted into the message
        first = first.split("<")[0].strip() or type(exc).__name__
    first = "".join(ch if ch.isprintable() else "?" for ch in first)
    return first[:160] + ("…" if len(first) > 160 else "")


# ------------------------------------------------------------------------- choosing parts
def _part_label(p: Any, i: int) -> str:
    name = str(p.partName or "").strip() or (p.id if isinstance(p.id, str) else "")
    return f"{i + 1} ({name})" if name else str(i + 1)


def _has_notes(p: Any) -> bool:
    """The part has a note (a chord or an unpitched note counts) anywhere: its first measures
    usually tell at once; otherwise music21's full recursion decides."""
    measure, not_rest = _M21.load().stream.Measure, _M21.note.NotRest
    for m in p.elements[:4]:
        if isinstance(m, measure) and any(isinstance(el, not_rest) for el in m.elements):
            return True
    return bool(p.recurse().notes)


def _chosen_parts(parts: list[Any], names: Sequence[str | int], label: str | None) -> list[Any]:
    """The four parts the caller named (names or 1-based numbers), soprano first."""
    if len(names) != 4:
        raise ScoreError(f"--parts names {len(names)} part(s); name four: soprano, alto, tenor, bass.",
                         Location(file=label))
    chosen = []
    for want in names:
        text = str(want).strip()
        hit = None
        if text.isdigit() and 1 <= int(text) <= len(parts):
            hit = parts[int(text) - 1]
        else:
            for p in parts:
                if text.lower() in {str(p.partName or "").strip().lower(), str(p.id).strip().lower()}:
                    hit = p
                    break
        if hit is None:
            raise ScoreError(f"there is no part {text!r}", Location(file=label),
                             expected=[_part_label(p, i) for i, p in enumerate(parts)])
        if any(hit is c for c in chosen):
            raise ScoreError(f"part {text!r} is named twice in --parts", Location(file=label))
        chosen.append(hit)
    return chosen


def _pick_layout(score: Any, label: str | None, names: Sequence[str | int] | None) -> tuple[str, list[Any]]:
    """("four parts", [S, A, T, B parts]) or ("two staves", [upper, lower])."""
    from music21 import stream

    parts = [p for p in score.elements if isinstance(p, stream.Part)] if isinstance(score, stream.Score) else []
    if not parts and isinstance(score, stream.Stream):
        parts = [score]
    if not any(_has_notes(p) for p in parts):  # (a part with notes has notes or rests: one walk in the usual case)
        if not any(p.recurse().notesAndRests for p in parts):
            raise ScoreError("the score is empty (no notes).", Location(file=label))
        raise ScoreError("the score has only rests.", Location(file=label))
    if names:
        return "four parts", _chosen_parts(parts, names, label)
    found: dict[int, Any] = {}
    for p in parts:
        for name in (p.partName, p.id if isinstance(p.id, str) else None):
            v = _VOICE_NAMES.get(str(name or "").strip().lower().rstrip("."))
            if v is not None:
                found.setdefault(v, p)
                break
    if len(found) == 4:
        extra = [(i, p) for i, p in enumerate(parts) if all(p is not q for q in found.values()) and _has_notes(p)]
        if extra:
            raise ScoreError(
                f"has {len(parts)} parts with notes, not four voices: besides Soprano, Alto, Tenor and Bass there is "
                + ", ".join("part " + _part_label(p, i) for i, p in extra) + ".", Location(file=label),
                hint="To check the four voices and leave the other parts out, name them: "
                     "--parts Soprano,Alto,Tenor,Bass (names or part numbers, soprano first).")
        return "four parts", [found[v] for v in range(4)]
    if len(parts) == 4:
        return "four parts", parts
    if len(parts) == 2:
        return "two staves", parts
    raise ScoreError(
        f"has {len(parts)} part{'s' if len(parts) != 1 else ''}; expected four voices.",
        Location(file=label),
        hint=_FOUR_VOICES_HINT + (" With more parts, name the four with --parts (names or numbers, soprano first)."
                                  if len(parts) > 4 else ""),
    )


# ------------------------------------------------------------------------- walking a staff
class _Collector:
    """Events of one voice as they are found (one tuple per event, turned into arrays at the end)."""

    def __init__(self) -> None:
        self.events: list[tuple[float, float, int, bool, int, tuple[Any, int, Any]]] = []  # start, end, MIDI, attack, letter, source
        self.fermatas: list[float] = []

    @property
    def starts(self) -> list[float]:
        return [e[0] for e in self.events]

    @property
    def sources(self) -> list[tuple[Any, int, Any]]:
        return [e[5] for e in self.events]

    def done(self) -> VoiceEvents:
        if not self.events:
            return VoiceEvents(np.zeros(0), np.zeros(0), np.zeros(0, np.int16), np.zeros(0, bool),
                               np.zeros(0, np.int8), [], self.fermatas)
        starts, ends, midis, attacks, letters, sources = zip(*self.events)
        end = float(max(ends))  # (here, from the Python floats: a numpy reduction per voice cost more)
        starts = np.asarray(starts, float)
        ends, midis = np.asarray(ends, float), np.asarray(midis, np.int16)
        attacks, letters = np.asarray(attacks, bool), np.asarray(letters, np.int8)
        if (starts[1:] < starts[:-1]).any():  # layers interleave in time: a stable sort puts them in order
            order = np.argsort(starts, kind="stable")
            starts, ends, midis, attacks, letters = (a[order] for a in (starts, ends, midis, attacks, letters))
            sources = [sources[i] for i in order]
        return VoiceEvents(starts, ends, midis, attacks, letters, list(sources), self.fermatas, end)


def _note_marks(el: Any, off: float, targets: list[_Collector]) -> None:
    """Record a note's fermata at ``off`` in each of ``targets`` (its lyrics are read from the sources when asked)."""
    if _has_fermata(el):
        for c in targets:
            c.fermatas.append(off)


def _has_fermata(el: Any) -> bool:
    return any(type(e).__name__ == "Fermata" for e in el.expressions)


class _Staff:
    """One pass over a part, measure by measure (no ``flatten``: it costs more than all the rules)."""

    def __init__(self, part: Any, label: str | None, split: bool, staff_name: str, voice_names: tuple[str, ...]):
        self.part = part
        self.label = label
        self.split = split  # two voices on this staff
        self.staff_name = staff_name
        self.voice_names = voice_names
        self.out = [_Collector() for _ in range(2 if split else 1)]
        self._one = self.out[:1]  # the targets of a note for one voice, a layer's (split staff) below
        self._layer = [[c] for c in self.out]
        self.keysigs: list[tuple[float, Any]] = []
        self.measures: MeasureMap | None = None
        self._where: tuple[int, float, Metre] = (0, 0.0, Metre(4, 4))  # measure number, offset, metre (for errors)

    # -- errors with a place
    def _error(self, message: str, off: float, voice: str | None = None) -> ScoreError:
        number, moff, metre = self._where
        beat = 1.0 + (off - moff) / float(metre.beat_quarters)
        return ScoreError(message, Location(file=self.label, measure=number, beat=round(beat, 4), voice=voice))

    # -- one element
    def _voice(self, layer: int | None) -> str | None:
        """The voice a note of ``layer`` belongs to (for messages; None: a chord layer holds both)."""
        return self.voice_names[0] if not self.split else (self.voice_names[layer] if layer is not None else None)

    def _pitch(self, p: Any, off: float, layer: int | None) -> tuple[int, int]:
        midi = _midi(p) if _FAST else round(p.ps)
        if not 0 <= midi <= 127:
            raise self._error(f"the pitch {p.nameWithOctave} lies outside the MIDI range (C-1 to G9).", off,
                              self._voice(layer))
        return midi, (-1 if p.spellingIsInferred else _LETTER.get(p.step, -1))

    def _take(self, el: Any, off: float, container: Any, layer: int | None) -> None:
        """Add ``el`` at ``off``. ``layer``: which voice of a split staff (None: a chord layer, split by pitch).

        Called once per note of the score: the common cases (a note or a rest for one
        voice) take the shortest path.
        """
        # a float, or a Fraction for tuplets (``off + ql`` is a float either way)
        ql = _quarter_length(el) if _FAST else el.duration.quarterLength
        if ql <= 0:  # grace notes take no time
            return
        targets = self._one if not self.split else (self._layer[layer] if layer is not None else self.out)
        end = off + ql
        if isinstance(el, _Note):
            midi, letter = self._pitch(el.pitch, off, layer)
            tie = el.tie
            event = (off, end, midi, tie is None or tie.type not in ("stop", "continue"), letter, (el, -1, container))
            for c in targets:
                c.events.append(event)
        elif isinstance(el, _M21.note.Rest):
            event = (off, end, REST, False, -1, (el, -1, container))
            for c in targets:
                c.events.append(event)
            return
        elif isinstance(el, _M21.chord.Chord):
            if not self._chord(el, off, end, container, layer, targets):
                return
        else:
            raise self._error(f"an unpitched or unknown note ({type(el).__name__}); four-part writing needs pitches.",
                              off, self._voice(layer))
        if el.expressions:
            _note_marks(el, off, targets)

    def _chord(self, el: Any, off: float, end: float, container: Any, layer: int | None,
               targets: list[_Collector]) -> bool:
        """Add a chord's note(s) to ``targets``; False for a chord without notes (nothing added)."""
        notes = list(el.notes)
        if not notes:
            return False
        if any(type(n).__name__ == "Unpitched" for n in notes):
            raise self._error("an unpitched (percussion) note; four-part writing needs pitches.", off,
                              self._voice(layer))
        info = []
        for k, n in enumerate(notes):
            midi, letter = self._pitch(n.pitch, off, layer)
            t = n.tie if n.tie is not None else el.tie
            info.append((midi, letter, k, t is None or t.type not in ("stop", "continue")))
        info.sort(key=lambda x: x[0])
        if not self.split or layer is not None:  # a chord inside one voice: its outer note
            high = (self.voice_names[layer if layer is not None else 0] in ("soprano", "alto")
                    if self.split else self.voice_names[0] in ("soprano", "alto"))
            picks = [info[-1] if high else info[0]]
        else:
            if len(info) > 2:
                raise self._error(
                    f"a chord of {len(info)} notes on the {self.staff_name} staff; written as chords, each staff "
                    f"holds two voices ({' and '.join(self.voice_names)}).", off)
            picks = [info[-1], info[0]]
        for c, (midi, letter, k, attack) in zip(targets, picks):
            c.events.append((off, end, midi, attack, letter, (el, k, container)))
        return True

    # -- one measure
    def _one_voice_measure(self, m: Any, moff: float, elements: Any) -> None:
        """:meth:`_measure` for a staff of one voice, reading notes and rests from music21's fields.

        A note (with an up-to-date duration, an octave, no microtone, a pitch in MIDI's
        range) or a rest is most of a chorale: its event is built here in the loop, with
        no call per note and no property (in a profile the reader was the largest part of
        the checker's time, mostly in those calls); its fermata is read as
        :meth:`_take` reads it.
        Everything else takes the general way, :meth:`_take`, in the same order as
        :meth:`_measure` takes it: notes outside any layer as they come, then the layers.
        """
        one = self._one
        append = one[0].events.append
        offsets = m._offsetDict
        note_class, rest_class, step_pc, letter_of = _Note, _Rest, _STEP_PC, _LETTER
        layers: list[Any] = []
        for el in elements:
            kind = type(el)
            if kind is note_class:
                d = el._duration
                entry = offsets.get(id(el))
                p = el.pitch
                octave = p._octave
                if d is not None and not d._quarterLengthNeedsUpdating and entry is not None and octave is not None \
                        and p._microtone is None and not isinstance(off := entry[0], str):
                    acc = p._accidental
                    step = p._step
                    midi = 12 * octave + 12 + step_pc[step]
                    if acc is not None:
                        midi = round(midi + acc._alter)
                    ql = d._qtrLength
                    if ql > 0 and 0 <= midi <= 127:
                        off += moff
                        tie = el._tie
                        append((off, off + ql, midi, tie is None or tie.type not in ("stop", "continue"),
                                -1 if p.spellingIsInferred else letter_of[step], (el, -1, m)))
                        if el.expressions:
                            _note_marks(el, off, one)
                        continue
                    # a grace note, or a pitch out of range: the general way
            elif kind is rest_class:
                d = el._duration
                entry = offsets.get(id(el))
                if d is not None and not d._quarterLengthNeedsUpdating and entry is not None \
                        and not isinstance(off := entry[0], str):  # a rest's fermata is not read (as in _take)
                    ql = d._qtrLength
                    if ql > 0:
                        off += moff
                        append((off, off + ql, REST, False, -1, (el, -1, m)))
                    continue
            if isinstance(el, _GeneralNote):
                self._take(el, moff + _offset_in(m, el), m, None)
            elif isinstance(el, _M21.stream.Voice):
                layers.append(el)
            elif isinstance(el, _M21.key.KeySignature):
                self.keysigs.append((moff + float(m.elementOffset(el)), el))
            elif isinstance(el, _M21.meter.TimeSignature):  # its own measure on (see walk)
                self._time_signature(el)
        for v in layers:
            voff = moff + float(m.elementOffset(v))
            for sub in v.elements:
                if isinstance(sub, _GeneralNote):
                    self._take(sub, voff + _offset_in(v, sub), v, None)

    def _measure(self, m: Any, moff: float, elements: tuple | None = None) -> None:
        """Take the notes of measure ``m`` (its ``elements`` when the caller has them already)."""
        note, stream = _M21.note, _M21.stream
        direct: list[tuple[Any, float]] = []
        layers: list[tuple[Any, list[tuple[Any, float]]]] = []
        split = self.split
        if _FAST and not split:
            self._one_voice_measure(m, moff, m.elements if elements is None else elements)
            return
        offset_in_m, take, general = m.elementOffset, self._take, note.GeneralNote
        if _FAST:
            def offset_in_m(el: Any, _m: Any = m) -> float:
                return _offset_in(_m, el)
        for el in (m.elements if elements is None else elements):
            if isinstance(el, general):
                if split:
                    direct.append((el, moff + offset_in_m(el)))
                else:  # one voice: a note outside any layer is taken at once (before the layers, as below)
                    take(el, moff + offset_in_m(el), m, None)
            elif isinstance(el, stream.Voice):
                voff = moff + float(m.elementOffset(el))
                items = [(sub, voff + (_offset_in(el, sub) if _FAST else el.elementOffset(sub)))
                         for sub in el.elements if isinstance(sub, general)]
                if items:
                    layers.append((el, items))
            elif isinstance(el, _M21.key.KeySignature):
                self.keysigs.append((moff + float(m.elementOffset(el)), el))
        if not split:
            for v, items in layers:
                for el, off in items:
                    self._take(el, off, v, None)
            return
        pitched = [lay for lay in layers if any(not isinstance(el, note.Rest) for el, _ in lay[1])]
        if len(layers) >= 2 and len(pitched) <= 2:
            if len(layers) > 2:  # extra layers of rests only (hidden or not) carry nothing
                layers = pitched + [lay for lay in layers if lay not in pitched][: 2 - len(pitched)]
            layers.sort(key=lambda lay: _voice_number(lay[0]))
            for layer, (v, items) in enumerate(layers):
                for el, off in items:
                    self._take(el, off, v, layer)
            for el, off in direct:  # notes outside the two voices (rare): read as a chord layer
                self._take(el, off, m, None)
            return
        if len(pitched) > 2:
            raise self._error(f"{len(pitched)} voices on the {self.staff_name} staff; it holds two "
                              f"({' and '.join(self.voice_names)}).", moff)
        for el, off in direct:  # a chord layer: stems shared
            self._take(el, off, m, None)
        for v, items in layers:
            for el, off in items:
                self._take(el, off, v, None)

    def walk(self) -> None:
        ms = [m for m in self.part.elements if isinstance(m, _M21.stream.Measure)]
        self._metre = Metre(4, 4)
        if not ms:  # a part without measures
            flat = self.part.flatten()
            for el in flat.elements:
                self._time_signature(el)
            self._measure(flat, 0.0)
            return
        offs, nums, pads, metres = [], [], [], []
        ts_class = _M21.meter.TimeSignature
        part = self.part
        one_voice = _FAST and not self.split
        measure = self._one_voice_measure if one_voice else self._measure
        for m in ms:
            moff = float(_offset_in(part, m) if _FAST else part.elementOffset(m))
            number = m.number
            number = int(number) if isinstance(number, int) else 0
            elements = _elements_of(m) if _FAST else m.elements
            pad = float(m.paddingLeft or 0.0)
            if not -_MAX_MEASURE_NUMBER <= number <= _MAX_MEASURE_NUMBER:  # (a corrupt file: arrays hold int32)
                where = f"the measure after measure {nums[-1]}" if nums else "the first measure"
                raise ScoreError(f"{where} of the {self.staff_name} staff is numbered {number}, more than a score "
                                 f"can count (at most {_MAX_MEASURE_NUMBER:,}); renumber the measures.",
                                 Location(file=self.label))
            self._where = (number, moff - pad, self._metre)
            if not one_voice:  # a time signature applies from its own measure on (the one-voice reader meets it
                for el in elements:  # among the elements, before the notes it sorts ahead of)
                    if isinstance(el, ts_class):
                        self._time_signature(el)
            measure(m, moff, elements)
            offs.append(moff)
            nums.append(number)
            pads.append(pad)
            metres.append(self._metre)
        self.measures = MeasureMap(np.asarray(offs, float), np.asarray(nums, np.int32), np.asarray(pads, float), metres)

    def _time_signature(self, el: Any) -> None:
        if isinstance(el, _M21.meter.TimeSignature):
            num, den = el.numerator, el.denominator
            if not (isinstance(num, int) and isinstance(den, int) and num > 0 and den > 0):
                raise self._error(f"a time signature that cannot be counted ({el.ratioString}).", self._where[1])
            self._metre = Metre(num, den)
            self._where = (*self._where[:2], self._metre)


def _voice_number(v: Any) -> tuple[int, str]:
    text = str(v.id)
    return (int(text), text) if text.isdigit() else (10**6, text)


# ------------------------------------------------------------------------- entry point
def read_satb(source: Any, parts: Sequence[str | int] | None = None) -> SATBScore:
    """Read a score (path or music21 stream) into four voices of note events.

    ``parts`` names the four parts (names or 1-based numbers, soprano first) when the
    score has others besides them. Raises :class:`ScoreError` naming the file and, where
    it can, the measure, beat and voice of what cannot be read.
    """
    score, label = load_score(source)
    _M21.load()
    layout, chosen = _pick_layout(score, label, parts)
    if layout == "four parts":
        staves = [_Staff(p, label, False, VOICES[v], (VOICES[v],)) for v, p in enumerate(chosen)]
        for st in staves:
            st.walk()
        voices = [st.out[0].done() for st in staves]
        parts_of = list(chosen)
    else:
        staves = [_Staff(chosen[0], label, True, "upper", ("soprano", "alto")),
                  _Staff(chosen[1], label, True, "lower", ("tenor", "bass"))]
        for st in staves:
            st.walk()
        voices = [c.done() for st in staves for c in st.out]
        parts_of = [chosen[0], chosen[0], chosen[1], chosen[1]]
        for st in staves:
            _refuse_one_voice_staff(st, label)
    if sum(len(v.starts) for v in voices) == 0:
        raise ScoreError("the score is empty (no notes).", Location(file=label))
    if all((v.midis == REST).all() for v in voices):
        raise ScoreError("the score has only rests.", Location(file=label))
    measures = next((st.measures for st in staves if st.measures is not None), None)
    keysigs = next((st.keysigs for st in staves if st.keysigs), [])
    return SATBScore(score, label, layout, voices, parts_of, measures, sorted(keysigs, key=lambda t: t[0]))


def _refuse_one_voice_staff(staff: _Staff, label: str | None) -> None:
    """Two staves where one holds a single line throughout (a melody and a bass, say) are not SATB."""
    upper, lower = staff.out
    if len(upper.starts) and len(upper.sources) == len(lower.sources) \
            and all(a[0] is b[0] for a, b in zip(upper.sources, lower.sources)) \
            and not any(k >= 0 for _, k, _ in upper.sources):
        raise ScoreError(
            f"the {staff.staff_name} staff holds one line, not two voices ({' and '.join(staff.voice_names)}).",
            Location(file=label), hint=_FOUR_VOICES_HINT)
