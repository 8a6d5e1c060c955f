"""The plan: what the music must do, before any note is chosen.

A :class:`Plan` is plain data — metre, home key, phrases, form sections and chord
events with onsets — plus the derivation tree that produced it
(:class:`~partimento.grammar.derivation.Derivation`; :meth:`Plan.derivation_path` says
why each chord is there). Grammars sample and parse plans; the neural model and the
decoder read them step by step. Offsets are quarter notes from the start of the piece
(the pickup, if any, starts at 0). A sampled plan hands its chords over as rows and builds
the :class:`ChordEvent` objects when ``plan.chords`` is first read (``_LazyChords``), so
``partimento plan --format jsonl`` never builds them (speed: ``benchmarks/grammar_speed.py``).

**Open inversions.** A chord with ``inversion_open`` names the chord and leaves its bass to
the realizer (a grammar terminal in plain form, ``"V7"``); its ``figure`` is the plain
figure, which music21 and RomanText read as root position. RomanText has no way to say
"any inversion", so :meth:`Plan.to_rntxt` writes such a chord in root position and a plan
read back from RomanText is fixed as written; plan JSON keeps the flag.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from .derivation import Derivation, DerivationPath
from .errors import InputError, PlanError, Location
from .metre import STEPS_PER_QUARTER, Metre, parse_metre
from .theory import ChordSpec, chord_spec, normalize_key

__all__ = ["CADENCES", "ChordEvent", "Phrase", "Section", "Plan"]

#: Cadence labels a plan may carry on the last chord of a phrase.
CADENCES = ("PAC", "IAC", "HC", "DC", "PC")  # perfect/imperfect authentic, half, deceptive, plagal


@dataclass
class ChordEvent:
    """One Roman numeral with its onset and duration (quarter notes) and local key."""

    onset: float  # quarter notes from the start of the piece
    duration: float  # quarter notes
    figure: str  # Roman-numeral figure as music21 writes it: "V65", "viio7/V"
    key: str  # local key, music21 spelling ("C", "f#")
    cadence: str | None = None  # one of CADENCES on a phrase's final chord
    fermata: bool = False  # a fermata on this chord (chorale phrase ends)
    phrase: int = 0  # index into Plan.phrases
    inversion_open: bool = False  # the realizer chooses the inversion for the line (figure: the chord, see theory.invert_figure)

    @property
    def spec(self) -> ChordSpec:
        """Pitch-class facts of the chord (cached; raises PlanError for unknown figures)."""
        return chord_spec(self.figure, self.key)

    @property
    def inversion(self) -> int:
        return self.spec.inversion

    def with_inversion(self, inversion: int) -> "ChordEvent":
        """A copy in the given inversion (0 root position .. 3), the inversion now fixed."""
        from dataclasses import replace

        from .theory import invert_figure

        return replace(self, figure=invert_figure(self.figure, inversion), inversion_open=False)

    @property
    def end(self) -> float:
        return self.onset + self.duration


_CHORD_TAIL: dict[tuple, str] = {}  # (duration, figure, ... inversion_open) -> JSON after the onset
_CHORD_FIELDS = ("onset", "duration", "figure", "key", "cadence", "fermata", "phrase", "inversion_open")


def _chord_tail(key: tuple) -> str:
    """The JSON of a chord after its onset, ``key`` being its other fields in order (cached)."""
    tail = _CHORD_TAIL.get(key)
    if tail is None:
        tail = _CHORD_TAIL[key] = ", " + json.dumps(dict(zip(_CHORD_FIELDS[1:], key)))[1:]
    return tail


def _chords_json(chords: list[dict]) -> str:
    """``json.dumps(chords)`` for ChordEvent dicts: a chord's JSON after its onset repeats from plan to
    plan (a few hundred figures, keys and lengths), so it is encoded once and kept. A chord whose
    values are not of the plain types (float, str, bool, int) is written by json as it is."""
    out = []
    tails = _CHORD_TAIL
    for d in chords:
        try:
            onset, duration = d["onset"], d["duration"]
            key = (duration, d["figure"], d["key"], d["cadence"], d["fermata"], d["phrase"], d["inversion_open"])
            plain = (len(d) == 8 and type(onset) is float and type(duration) is float and onset - onset == 0.0
                     and type(key[4]) is bool and type(key[5]) is int and type(key[6]) is bool)
            tail = tails.get(key) if plain else None
        except (KeyError, TypeError):
            plain = False
        if not plain:
            out.append(json.dumps(d))
            continue
        if tail is None:
            tail = _chord_tail(key)
        out.append(f'{{"onset": {onset!r}{tail}')  # a float's repr, as json writes it
    return "[" + ", ".join(out) + "]"


def _rows_json(rows: list[tuple]) -> str:
    """``json.dumps`` of a sampled plan's chords from their rows (see :class:`_LazyChords`): the sampler
    writes only finite floats, strings, bools and ints, so no value is checked here."""
    tails = _CHORD_TAIL
    out = []
    for row in rows:
        key = (row[1], row[2], row[3], row[4], row[5], row[6], row[7])
        tail = tails.get(key)
        if tail is None:
            tail = _chord_tail(key)
        out.append(f'{{"onset": {row[0]!r}{tail}')
    return "[" + ", ".join(out) + "]"


class _LazyChords:
    """The ``Plan.chords`` attribute: a list of ChordEvents, built on first access from a sampler's rows.

    The sampler draws thousands of plans a second and most are written as JSON at once; it
    hands the plan its chords as rows, ``[onset, duration, figure, key, cadence, fermata,
    phrase, inversion_open]`` (the fields of :class:`ChordEvent` in order, values of the plain
    types), and :meth:`Plan.to_json` writes them without an object per chord. Reading
    ``plan.chords`` builds the ChordEvents once and keeps them (the rows are dropped, so an
    edit of a chord is what JSON writes); assigning a list works as for a plain field.
    """

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        chords = obj.__dict__.get("_chords")
        if chords is None:
            rows = obj.__dict__.pop("_chord_rows", None)
            chords = obj.__dict__["_chords"] = [ChordEvent(*r) for r in rows] if rows is not None else []
        return chords

    def __set__(self, obj, value) -> None:
        obj.__dict__.pop("_chord_rows", None)
        obj.__dict__["_chords"] = value

    @staticmethod
    def set_rows(obj, rows: list[tuple]) -> None:
        """Give a plan its chords as rows (the sampler's hand-over; see the class docstring)."""
        obj.__dict__.pop("_chords", None)
        obj.__dict__["_chord_rows"] = rows


@dataclass
class Phrase:
    """A phrase: its span, its key and how it closes."""

    start: float  # quarter notes
    end: float  # quarter notes (exclusive)
    key: str  # the phrase's main key
    cadence: str | None = None  # cadence type at the end
    label: str = ""  # e.g. "antecedent", "presentation", "a"


@dataclass
class Section:
    """A formal section (A, B, A' ...) spanning several phrases."""

    label: str
    start: float
    end: float


class _LazyDerivation:
    """The ``Plan.derivation`` attribute: the derivation as a networkx DiGraph, built on first access.

    The plan keeps its derivation compact (:attr:`Plan.derivation_tree`, nested tuples the
    sampler builds as it draws); reading ``plan.derivation`` builds the graph from it and
    keeps it. Assigning a graph (or None) works as for a plain field.
    """

    def __get__(self, obj, owner=None):
        if obj is None:
            return None  # the dataclass default
        graph = obj.__dict__.get("_derivation_graph")
        if graph is None:
            tree = obj.derivation_tree
            if tree is not None:
                graph = obj.__dict__["_derivation_graph"] = tree.graph
        return graph

    def __set__(self, obj, value) -> None:
        obj.__dict__["_derivation_graph"] = value
        obj.__dict__["_derivation_tree"] = None if value is None else _GRAPH_ONLY


@dataclass
class Plan:
    """Form, keys, metre and harmony of a piece; see the module docstring."""

    key: str  # home key, music21 spelling
    metre: str = "4/4"
    bars: int = 0  # full bars (the pickup is not counted)
    pickup: float = 0.0  # quarter notes of anacrusis before measure 1
    chords: list[ChordEvent] = field(default_factory=list)
    phrases: list[Phrase] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    grammar: str = ""  # name or path of the grammar that made or parsed it
    seed: int | None = None  # seed it was sampled with
    tempo: float = 80.0  # quarter notes per minute, for audio and MIDI
    derivation: Any = field(default=None, compare=False, repr=False)  # networkx DiGraph, see _LazyDerivation

    # ----------------------------------------------------------------- derived facts
    @property
    def metre_obj(self) -> Metre:
        return parse_metre(self.metre)

    @property
    def length(self) -> float:
        """Total length in quarter notes."""
        return float(self.pickup + self.bars * self.metre_obj.bar_quarters)

    @property
    def steps(self) -> int:
        """Number of sixteenth-note steps."""
        return int(round(self.length * STEPS_PER_QUARTER))

    @property
    def keys(self) -> list[tuple[float, str]]:
        """Key areas as (onset, key), one entry per change of local key."""
        out: list[tuple[float, str]] = []
        for c in self.chords:
            if not out or out[-1][1] != c.key:
                out.append((c.onset, c.key))
        return out

    def chord_at(self, offset: float) -> ChordEvent | None:
        """The chord sounding at a quarter-note offset."""
        for c in self.chords:
            if c.onset <= offset < c.end:
                return c
        return None

    def chord_per_step(self) -> list[int]:
        """Index of the chord event sounding at each sixteenth step (-1 where none)."""
        idx = [-1] * self.steps
        for i, c in enumerate(self.chords):
            a = int(round(c.onset * STEPS_PER_QUARTER))
            b = int(round(c.end * STEPS_PER_QUARTER))
            for s in range(max(a, 0), min(b, self.steps)):
                idx[s] = i
        return idx

    def location(self, offset: float) -> Location:
        m, b = self.metre_obj.measure_beat(offset, self.pickup)
        return Location(measure=m, beat=b)

    def validate(self) -> "Plan":
        """Check figures, keys, ordering and coverage; raise PlanError naming the spot."""
        from .plan_values import check_plan_values

        check_plan_values(self)  # types and ranges first: a plan read from JSON may hold anything
        normalize_key(self.key)
        metre = parse_metre(self.metre)
        if self.pickup >= metre.bar_quarters:  # an anacrusis is part of a bar (and steps are allocated for it)
            raise PlanError(f"the pickup of {self.pickup:g} quarter notes is not shorter than a bar of {self.metre} "
                            f"({float(metre.bar_quarters):g} quarter notes)")
        if self.bars <= 0:
            raise InputError(f"a plan needs at least one bar, got bars={self.bars}")
        last = 0.0
        for c in self.chords:
            if c.onset < last - 1e-9:
                raise PlanError("chord events overlap or are out of order", self.location(c.onset))
            if c.duration <= 0:
                raise PlanError(f"chord {c.figure} has duration {c.duration}", self.location(c.onset))
            try:
                c.spec
            except PlanError as e:
                raise PlanError(e.message, self.location(c.onset), hint=e.hint) from None
            if c.cadence is not None and c.cadence not in CADENCES:
                raise PlanError(f"unknown cadence {c.cadence!r}", self.location(c.onset), expected=list(CADENCES))
            last = c.end
        if not self.chords:
            raise PlanError("the plan has no chords")
        return self

    def _repr_html_(self) -> str:
        """Jupyter: the plan's Roman numerals drawn with verovio (imported lazily)."""
        from partimento.hybrid.render import plan_html

        return plan_html(self)

    # ----------------------------------------------------------------- derivation
    @property
    def derivation_tree(self) -> Derivation | None:
        """The compact derivation (sampled or parsed), or None for a plan no grammar made."""
        tree = self.__dict__.get("_derivation_tree")
        if tree is None:
            factory = self.__dict__.pop("_derivation_factory", None)  # a parse's, built on first use
            if factory is not None:
                tree = self.__dict__["_derivation_tree"] = factory()
        if tree is _GRAPH_ONLY:  # a graph was assigned: read it once
            graph = self.__dict__.get("_derivation_graph")
            tree = self.__dict__["_derivation_tree"] = Derivation.from_graph(graph) if graph is not None else None
        return tree

    @derivation_tree.setter
    def derivation_tree(self, tree: Derivation | None) -> None:
        self.__dict__["_derivation_tree"] = tree
        self.__dict__["_derivation_graph"] = None

    def derivation_path(self, chord: int) -> DerivationPath | None:
        """Why chord ``chord`` is there: the grammar rules from the start symbol down to it.

        Each :class:`~partimento.grammar.derivation.DerivationStep` names the rule, the
        alternative chosen, its weight and probability and the local key; the path also
        gives the chord's phrase, key region and the phrase's cadence. None when the plan
        has no derivation (or, for a parsed analysis, when the chord's phrase did not parse).
        Raises :class:`InputError` for an index outside the plan.
        """
        if not -len(self.chords) <= chord < len(self.chords):
            raise InputError(f"the plan has {len(self.chords)} chords; there is no chord {chord}",
                             expected=[f"0..{len(self.chords) - 1}"])
        chord %= len(self.chords)
        tree = self.derivation_tree
        if tree is None:
            return None
        paths = self.__dict__.get("_paths")
        if paths is None or paths[0] is not tree:
            paths = self.__dict__["_paths"] = (tree, list(tree.leaves()))
        leaves = paths[1]
        if len(leaves) != len(self.chords):
            return None  # a derivation that does not match the chords (edited plan)
        figure, key, ancestors = leaves[chord]
        c = self.chords[chord]
        if any(label == "unparsed:0" for label, _ in ancestors):
            return None  # a phrase of an analysis the grammar does not derive
        ancestors = tuple(a for a in ancestors if a[0] != "analysis:0")
        if not ancestors:
            return None
        phrase = self.phrases[c.phrase] if 0 <= c.phrase < len(self.phrases) else None
        return DerivationPath(chord, c.figure, tree.steps_of(ancestors), c.phrase, c.key,
                              phrase.cadence if phrase is not None else c.cadence)

    # ----------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        d = self._dict(copy=True)
        tree = self.derivation_tree
        if tree is not None:
            d["derivation"] = tree.to_dict()
        return d

    def _dict(self, copy: bool) -> dict[str, Any]:
        """The JSON mapping without the derivation; ``copy=False`` shares the chord dicts (to serialise at once)."""
        d = {"key": self.key, "metre": self.metre, "bars": self.bars, "pickup": self.pickup}
        rows = self.__dict__.get("_chord_rows")
        if rows is not None:  # sampled chords not read yet: their dicts straight from the rows
            d["chords"] = [dict(zip(_CHORD_FIELDS, r)) for r in rows]
        else:
            d["chords"] = [dict(c.__dict__) for c in self.chords] if copy else [c.__dict__ for c in self.chords]
        d["phrases"] = [dict(p.__dict__) for p in self.phrases] if copy else [p.__dict__ for p in self.phrases]
        d["sections"] = [dict(s.__dict__) for s in self.sections] if copy else [s.__dict__ for s in self.sections]
        d["grammar"] = self.grammar
        d["seed"] = self.seed
        d["tempo"] = self.tempo
        return d

    def to_json(self, indent: int | None = 1) -> str:
        """The plan as JSON; ``indent=None`` gives one line (JSON Lines), written from cached pieces."""
        tree = self.derivation_tree
        if indent is not None or tree is None:
            return json.dumps(self.to_dict() if tree is not None else self._dict(copy=False), indent=indent)
        rows = self.__dict__.get("_chord_rows")
        chords = _rows_json(rows) if rows is not None else _chords_json([c.__dict__ for c in self.chords])
        head = json.dumps({"key": self.key, "metre": self.metre, "bars": self.bars, "pickup": self.pickup})
        rest = json.dumps({"phrases": [p.__dict__ for p in self.phrases],
                           "sections": [s.__dict__ for s in self.sections], "grammar": self.grammar,
                           "seed": self.seed, "tempo": self.tempo})
        return (head[:-1] + ', "chords": ' + chords + ", " + rest[1:-1]
                + ', "derivation": ' + tree.to_json() + "}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Plan":
        if not isinstance(d, dict):
            raise PlanError(f"not a partimento plan: expected a JSON object, got {type(d).__name__}")
        d = dict(d)
        deriv = d.pop("derivation", None)
        try:
            plan = cls(
                chords=[ChordEvent(**c) for c in d.pop("chords", [])],
                phrases=[Phrase(**p) for p in d.pop("phrases", [])],
                sections=[Section(**s) for s in d.pop("sections", [])],
                **d,
            )
        except TypeError as e:
            raise PlanError(f"not a partimento plan: {e}") from None
        if isinstance(deriv, dict) and "nodes" in deriv and ("edges" in deriv or "links" in deriv):
            import networkx as nx  # plan JSON written before derivations were compact

            try:
                plan.derivation = nx.node_link_graph(deriv, directed=True, edges="edges" if "edges" in deriv else "links")
            except Exception as e:  # networkx raises several types for malformed node-link data
                raise PlanError(f"not a partimento derivation: {e}") from None
        elif deriv is not None:
            if not isinstance(deriv, dict):
                raise PlanError("not a partimento derivation: expected a JSON object")
            plan.derivation_tree = Derivation.from_dict(deriv)
        return plan

    @classmethod
    def from_json(cls, text: str) -> "Plan":
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise PlanError(f"invalid JSON: {e.msg}", Location(line=e.lineno, column=e.colno)) from None

    # ----------------------------------------------------------------- RomanText
    def to_rntxt(self, title: str | None = None) -> str:
        """RomanText that music21 reads back (phrase ends marked with ``||``)."""
        metre = self.metre_obj
        lines = [
            "Composer: partimento",
            f"Title: {title or (self.grammar or 'plan') + (f' (seed {self.seed})' if self.seed is not None else '')}",
            f"Analyst: partimento grammar {self.grammar or '?'}",
            f"Time Signature: {self.metre}",
            "",
        ]
        by_measure: dict[int, list[str]] = {}
        current_key: str | None = None
        phrase_end_onsets = {round(p.end, 6) for p in self.phrases}
        for i, c in enumerate(self.chords):
            m, b = metre.measure_beat(c.onset, self.pickup)
            tok = []
            if b != 1.0 or not by_measure.get(m):
                tok.append(f"b{_fmt_beat(b)}" if b != 1.0 else "")
            if c.key != current_key:
                tok.append(f"{c.key.replace('-', 'b')}:")  # RomanText spells flats "Bb:", "eb:"
                current_key = c.key
            tok.append(c.figure)
            if round(c.end, 6) in phrase_end_onsets and i < len(self.chords) - 1:
                tok.append("||")
            by_measure.setdefault(m, []).append(" ".join(t for t in tok if t))
        for m in sorted(by_measure):
            lines.append(f"m{m} " + " ".join(by_measure[m]))
        return "\n".join(lines) + "\n"

    # ----------------------------------------------------------------- music21
    def to_stream(self):
        """A music21 Score with one part of RomanNumerals, with the plan's key and metre."""
        from music21 import key as m21key, meter, roman, stream, expressions

        part = stream.Part()
        part.insert(0, meter.TimeSignature(self.metre))
        current = None
        for c in self.chords:
            if c.key != current:
                part.insert(c.onset, m21key.Key(c.key))
                current = c.key
            rn = roman.RomanNumeral(c.figure, c.key)
            rn.quarterLength = c.duration
            if c.fermata:
                rn.expressions.append(expressions.Fermata())
            part.insert(c.onset, rn)
        score = stream.Score()
        score.insert(0, part)
        return score

    # ----------------------------------------------------------------- files
    def write(self, path: str | Path) -> Path:
        """Write by extension: ``.json`` or ``.rntxt``. Written atomically."""
        from .fileio import write_text_atomic

        path = Path(path)
        ext = path.suffix.lower()
        if ext == ".json":
            text = self.to_json()
        elif ext in (".rntxt", ".txt"):
            text = self.to_rntxt()
        else:
            raise InputError(f"cannot write a plan as {ext or 'a file without extension'}",
                             expected=[".json", ".rntxt"])
        return write_text_atomic(path, text)

    @classmethod
    def read(cls, path: str | Path) -> "Plan":
        """Read a plan from ``.json`` (exact) or ``.rntxt`` (through music21's reader)."""
        path = Path(path)
        if not path.is_file():
            raise InputError("no such file", Location(file=str(path)))
        if path.suffix.lower() == ".json":
            try:  # validated here, so a wrong value is reported with this file's name
                return cls.from_json(path.read_text()).validate()
            except PlanError as e:
                raise PlanError(e.message, replace(e.location, file=str(path)),
                                expected=e.expected, hint=e.hint) from None
        from .analysis import plan_from_romantext

        return plan_from_romantext(path)


_GRAPH_ONLY = object()  # marks a plan whose derivation was assigned as a graph
Plan.derivation = _LazyDerivation()  # type: ignore[assignment]  # lazy, see _LazyDerivation
Plan.chords = _LazyChords()  # type: ignore[assignment]  # lazy for sampled plans, see _LazyChords


def _fmt_beat(b: float) -> str:
    """RomanText beats: ``2``, ``2.5``, ``3.25`` (music21 also reads thirds as ``1.33``)."""
    return f"{b:g}" if abs(b * 4 - round(b * 4)) < 1e-9 else f"{b:.2f}"
