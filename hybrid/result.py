"""What compose / realize / harmonize / infill return: the music, its plan and its report.

:class:`Result` keeps the decoded grid (tokens, sounding pitches, attacks) as numpy
arrays — the form the checker and the benchmarks read — and builds the music21 score
from it on first use: four parts named Soprano, Alto, Tenor, Bass with treble, treble,
treble-8vb and bass clefs, the plan's key and metre, the Roman numerals as lyrics under
the bass and fermatas where the plan puts them. ``write(path)`` picks the format by
extension and writes atomically (a file is complete or absent) and reproducibly: the same
seed gives the same bytes (:mod:`partimento.grammar.score_writer`; JSON leaves out timings).

Pitches are spelled from the plan, not from music21's defaults for MIDI numbers
(which write E♭ where E minor needs D♯): a note that belongs to the plan chord sounding
where it starts takes that chord's spelling (its Roman numeral in its key, so V in E
minor gives D♯ and It+6 in C gives A♭ and F♯); any other note takes the local key's
(diatonic notes by degree, the raised sixth and seventh in minor, usual alterations for
the rest). :func:`~partimento.grammar.rules.spelling.spelled_name` is that rule, and
the checker's rules spell an unwritten note with it too, so what the decoder's masks
judged (an augmented second E♯–D) is what the written score shows.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from partimento.grammar.errors import InputError, Location
from partimento.grammar.fileio import write_text_atomic, write_with
from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.grammar.plan import Plan
from partimento.grammar.score_writer import musicxml_bytes, write_score
from partimento.grammar.rules.spelling import chord_spelling, spelled_name  # the rules spell notes the same way
from partimento.grammar.theory import VOICES, normalize_key

__all__ = ["Result", "onset_misses", "score_from_grid", "spelled_name", "chord_spelling", "WRITE_FORMATS"]

#: extension -> what is written
WRITE_FORMATS = {
    ".musicxml": "MusicXML", ".xml": "MusicXML", ".mxl": "compressed MusicXML",
    ".mid": "MIDI", ".midi": "MIDI", ".json": "result JSON (plan, tokens, report)",
    ".rntxt": "the plan as RomanText",
}
_PART_NAMES = ("Soprano", "Alto", "Tenor", "Bass")


@dataclass
class Result:
    """Four decoded voices with the plan they realize and the checker's verdict."""

    plan: Plan
    tokens: np.ndarray  # (T, 4) int64 voice tokens (HOLD, REST, PITCH_OFFSET + midi)
    pitch: np.ndarray  # (T, 4) int16 sounding MIDI pitch per sixteenth step, -1 silent
    attack: np.ndarray  # (T, 4) bool, a note is struck here
    report: Any = None  # the checker's Report (None when no checker ran)
    stats: dict = field(default_factory=dict)  # decoding statistics (time, retries, ...)
    warnings: list[str] = field(default_factory=list)  # what was adjusted in the input (transposed melody, ...)
    trace: Any = field(default=None, repr=False, compare=False)  # decode(..., record=True)'s Trace: every decision (see explain)
    provenance: dict = field(default_factory=dict)  # seed, sampling, profile, rules, checkpoint id, forced: what regenerates it
    _score: Any = field(default=None, repr=False, compare=False)
    spellings: dict = field(default_factory=dict)  # (voice, attack step) -> name as written ("B#4"), kept by infill

    @property
    def score(self):
        """The music21 Score (built once, on first use)."""
        if self._score is None:
            self._score = score_from_grid(self.pitch, self.attack, self.plan, self.spellings)
        return self._score

    @property
    def errors(self) -> list:
        """Violations of severity error in the report ([] when none or no report)."""
        if self.report is None:
            return []
        return [v for v in self.report.violations if getattr(v.severity, "value", v.severity) == "error"]

    def plan_adherence(self) -> dict[str, Any]:
        """How faithfully the notes follow the plan at every chord onset (see :func:`onset_misses`)."""
        misses = onset_misses(self.pitch, self.attack, self.plan)
        n = len(self.plan.chords)
        return {"onsets": n, "adherent": n - len(misses), "fraction": (n - len(misses)) / n if n else 1.0,
                "misses": misses}

    def explain(self, measure: int, beat: float = 1.0, voice: str = "soprano"):
        """Why the note at (measure, beat, voice) is there: an :class:`~partimento.hybrid.explain.Explanation`.

        Needs a result decoded with ``record=True``; a spot outside the score raises a
        located ``InputError``.
        """
        from .explain import explain_result

        return explain_result(self, measure, beat, voice)

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict[str, Any]:
        report = None
        if self.report is not None:
            report = [v.to_dict() for v in self.report.violations]
        return {
            "plan": self.plan.to_dict(),
            "voices": list(VOICES),
            "tokens": self.tokens.T.tolist(),  # per voice
            "pitch": self.pitch.T.tolist(),
            "attack": self.attack.T.astype(int).tolist(),
            "violations": report,
            # timings are left out: the file depends only on the music (same seed, same bytes)
            "stats": {k: v for k, v in self.stats.items()
                      if isinstance(v, (int, float, str)) and not k.endswith("seconds")},
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Result":
        """Read back :meth:`to_dict` output (the report is recomputed by whoever needs it)."""
        try:
            return cls(plan=Plan.from_dict(d["plan"]), tokens=np.array(d["tokens"], np.int64).T,
                       pitch=np.array(d["pitch"], np.int16).T, attack=np.array(d["attack"], bool).T,
                       warnings=list(d.get("warnings", [])))
        except (KeyError, TypeError, ValueError) as e:
            from partimento.grammar.errors import ScoreError

            raise ScoreError(f"not a partimento result JSON: {e}") from None

    def write(self, path: str | Path) -> Path:
        """Write by extension (see :data:`WRITE_FORMATS`); atomic."""
        path = Path(path)
        ext = path.suffix.lower()
        if ext == ".rntxt":
            return self.plan.write(path)
        if ext == ".json":
            return write_text_atomic(path, json.dumps(self.to_dict()))
        fmt = {".musicxml": "musicxml", ".xml": "musicxml", ".mxl": "mxl", ".mid": "midi", ".midi": "midi"}.get(ext)
        if fmt is None:
            raise InputError(f"cannot write {ext or 'a file without extension'}", Location(file=str(path)),
                             expected=list(WRITE_FORMATS))
        score = self.score
        if fmt in ("musicxml", "mxl"):
            _embed_provenance(score, self)
        return write_with(path, lambda tmp: write_score(score, fmt, tmp))

    def musicxml(self) -> str:
        """The score as a MusicXML string (for printing to stdout), the same bytes as :meth:`write` writes."""
        _embed_provenance(self.score, self)
        return musicxml_bytes(self.score).decode("utf-8")


def _embed_provenance(score, result: "Result") -> None:
    """MusicXML miscellaneous fields that let ``partimento explain`` regenerate the piece (see explain_file)."""
    from .explain_file import provenance_fields

    fields = provenance_fields(result)
    if not fields:
        return
    from music21 import metadata

    if score.metadata is None:
        score.metadata = metadata.Metadata()
    for name, value in fields.items():
        score.metadata.setCustom(name, value)  # replaces an earlier write's value


def onset_misses(pitch: np.ndarray, attack: np.ndarray, plan: Plan) -> list[dict[str, Any]]:
    """Chord onsets that do not follow the plan.

    An onset adheres when the sounding pitch classes all belong to the plan's chord,
    include every required one (root, third, a planned seventh) and the bass has the
    inversion's pitch class. A suspension counts by its resolution: an upper voice holding
    a note over the onset that is not in the chord, and that moves a step down to a chord
    tone before the chord ends (as the decoder's ``plan:resolution`` layer has it resolve),
    stands for that chord tone; held on unresolved, it is a foreign pitch class.
    """
    misses = []
    steps = pitch.shape[0]
    for c in plan.chords:
        t = int(round(c.onset * STEPS_PER_QUARTER))
        end = min(steps, int(round(c.end * STEPS_PER_QUARTER)))
        if t >= steps:
            continue
        spec = c.spec
        members = set(spec.members)
        row = [int(p) for p in pitch[t] if p >= 0]
        pcs = set()
        for v in range(4):
            p = int(pitch[t, v])
            if p < 0:
                continue
            if v < 3 and not attack[t, v] and p % 12 not in members:  # held over: a suspension?
                nxt = next((u for u in range(t + 1, end) if attack[u, v]), None)
                q = int(pitch[nxt, v]) if nxt is not None else -1
                if q >= 0 and 0 < p - q <= 2 and q % 12 in members:  # resolved a step down to a chord tone
                    pcs.add(q % 12)
                    continue
            pcs.add(p % 12)
        if not (pcs <= members and spec.required <= pcs and int(pitch[t, 3]) % 12 == spec.bass):
            misses.append({"onset": c.onset, "figure": c.figure, "pitches": row})
    return misses


# ---------------------------------------------------------------------- score building
def _notes_of(pitch: np.ndarray, attack: np.ndarray, v: int) -> list[tuple[int, int, int]]:
    """(start step, end step, midi) per note of voice ``v``; rests are gaps."""
    out: list[tuple[int, int, int]] = []
    T = pitch.shape[0]
    t = 0
    while t < T:
        p = int(pitch[t, v])
        if p < 0:
            t += 1
            continue
        s = t
        t += 1
        while t < T and not attack[t, v] and int(pitch[t, v]) == p:
            t += 1
        out.append((s, t, p))
    return out


def score_from_grid(pitch: np.ndarray, attack: np.ndarray, plan: Plan, spellings: dict | None = None):
    """A music21 Score of four named parts from the grid, with the plan's labels.

    ``spellings`` maps (voice, attack step) to a note name that wins over the plan's
    spelling when it names the same pitch (infill keeps the input's spelling this way).
    """
    from music21 import clef, expressions, key, meter, note, stream, tempo
    from music21 import pitch as m21pitch
    from music21.exceptions21 import Music21Exception
    from music21.stream.makeNotation import makeAccidentalsInMeasureStream

    metre = plan.metre_obj
    T = pitch.shape[0]
    q = STEPS_PER_QUARTER
    pickup = int(round(plan.pickup * q))
    bar = metre.bar_steps
    bounds = ([0] if pickup else []) + list(range(pickup, T, bar))
    bounds = sorted(set(b for b in bounds if b < T)) + [T]
    measures = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
    first_number = 0 if pickup else 1
    chord_onsets = {int(round(c.onset * q)): c for c in plan.chords}
    fermata_onsets = {s for s, c in chord_onsets.items() if c.fermata}
    labels: dict[int, str] = {}
    current_key = None
    for s in sorted(chord_onsets):
        c = chord_onsets[s]
        labels[s] = (f"{c.key}: " if c.key != current_key else "") + c.figure
        current_key = c.key
    chord_of_step = plan.chord_per_step()
    names: dict[tuple[int, int], str | None] = {}  # (midi, chord index) -> spelled name (None: set by number)

    def pitch_named(name: str | None, midi: int):
        """music21's pitch for ``name`` when it parses and sounds ``midi``; else None."""
        if name is None:
            return None
        try:  # below octave 0 a name such as "B#-2" reads as the accidental "#-"
            p = m21pitch.Pitch(name)
        except Music21Exception:
            return None
        return p if p.midi == midi else None

    def spelled(midi: int, step: int, v: int):
        written = pitch_named((spellings or {}).get((v, step)), midi)
        if written is not None:
            return written
        ci = chord_of_step[step] if step < len(chord_of_step) else -1
        if (midi, ci) not in names:
            c = plan.chords[ci] if ci >= 0 else None
            name = spelled_name(midi, c.figure if c else None, normalize_key(c.key if c else plan.key))
            first = pitch_named(name, midi)  # never let a spelling change the sound, nor fail to parse
            names[(midi, ci)] = name if first is not None else None
            if first is not None:
                return first
        name = names[(midi, ci)]
        if name is None:  # music21's default spelling, set by number: below octave 0 no name reads back
            p = m21pitch.Pitch()
            p.midi = midi  # not Pitch(midi): music21 reads 0..11 as a pitch class with no octave
            return p
        return m21pitch.Pitch(name)

    clefs = (clef.TrebleClef, clef.TrebleClef, clef.Treble8vbClef, clef.BassClef)
    score = stream.Score()
    for v in range(4):
        part = stream.Part(id=VOICES[v])
        part.partName = _PART_NAMES[v]
        part.partAbbreviation = _PART_NAMES[v][0]
        cuts = set(b for b, _ in measures) | fermata_onsets | (set(chord_onsets) if v == 3 else set())
        pieces: list[tuple[int, int, int, str | None, int]] = []  # start, end, midi, tie type, note start
        for s, e, p in _notes_of(pitch, attack, v):
            inner = sorted(c for c in cuts if s < c < e)
            edges = [s] + inner + [e]
            n = len(edges) - 1
            for i in range(n):
                tie = None if n == 1 else ("start" if i == 0 else "stop" if i == n - 1 else "continue")
                pieces.append((edges[i], edges[i + 1], p, tie, s))
        k = 0
        for mi, (a, b) in enumerate(measures):
            m = stream.Measure(number=first_number + mi)
            if mi == 0:
                m.insert(0, clefs[v]())
                m.insert(0, key.Key(plan.key))
                m.insert(0, meter.TimeSignature(plan.metre))
                if v == 0:
                    m.insert(0, tempo.MetronomeMark(number=plan.tempo))
                if pickup and b - a < bar:
                    m.paddingLeft = (bar - (b - a)) / q
            cursor = a
            while k < len(pieces) and pieces[k][0] < b:
                s, e, p, tie, start = pieces[k]
                if s > cursor:
                    m.insert((cursor - a) / q, note.Rest(quarterLength=(s - cursor) / q))
                n = note.Note(spelled(p, start, v), quarterLength=(e - s) / q)  # tied pieces: one spelling
                if tie:
                    from music21 import tie as m21tie

                    n.tie = m21tie.Tie(tie)
                if s in fermata_onsets:
                    n.expressions.append(expressions.Fermata())
                if v == 3 and s in labels:
                    n.addLyric(labels[s])
                m.insert((s - a) / q, n)
                cursor = e
                k += 1
            if cursor < b:
                m.insert((cursor - a) / q, note.Rest(quarterLength=(b - cursor) / q))
            part.append(m)
        makeAccidentalsInMeasureStream(part)  # which accidentals to show, against key signature and bar
        score.insert(0, part)
    return score
