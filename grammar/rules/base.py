"""The Rule interface shared by the checker and the decoder.

A rule has two faces over the same integer data:

* ``check(sonorities, ctx)`` judges a finished (or partial) score and returns located
  :class:`Violation` objects;
* ``allowed(state, voice)`` answers, during decoding, which MIDI pitches ``voice`` may
  take at the sonority being written, as a ``bool[128]`` mask.

The contract, tested with hypothesis: for a state whose last sonority has ``voice``
undecided, ``allowed(state, voice)[p]`` is True exactly when writing pitch ``p`` into
that voice makes ``check`` report no violation of this rule at that last sonority
(beyond any the voices written before already caused there, which cannot happen while
decoding under the masks).
Undecided voices are ``REST`` (-1) and every rule ignores rests, so checking a
partial sonority only judges the voices written so far.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, TypeVar

import numpy as np

from ..errors import Location
from ..theory import VOICES, ChordSpec, KeyInfo

T = TypeVar("T")

__all__ = [
    "REST",
    "Severity",
    "Violation",
    "SonorityArray",
    "Context",
    "DecodeState",
    "Rule",
    "RULES",
    "register",
]

REST = -1  # MIDI value for "no note sounding" (also: not yet decided while decoding)


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    OFF = "off"


@dataclass
class Violation:
    """One broken rule at one place, with the voices involved and why."""

    rule: str  # stable id, e.g. "parallel-fifths"
    severity: Severity
    index: int  # sonority index in the SonorityArray
    measure: int
    beat: float
    voices: list[str]  # lowercase voice names involved
    message: str  # one sentence: what happened, with the notes named
    offset: float = 0.0  # quarter-note offset of the sonority
    file: str | None = None
    # set by the checker's Report so that context() can draw the bar; not part of equality
    context_source: Any = field(default=None, repr=False, compare=False)

    def context(self) -> str:
        """The bar around this violation, one line per voice, the spot marked."""
        if self.context_source is None:
            return f"measure {self.measure}, beat {self.beat:g}: {self.rule} ({', '.join(self.voices)}): {self.message}"
        return self.context_source.bar_text(self)

    @property
    def location(self) -> Location:
        return Location(file=self.file, measure=self.measure, beat=self.beat,
                        voice=self.voices[0] if len(self.voices) == 1 else None)

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "measure": self.measure,
            "beat": self.beat,
            "voices": list(self.voices),
            "message": self.message,
        }


@dataclass
class SonorityArray:
    """A four-voice score as integers: one row per sonority (every onset in any voice).

    Built once per score; every rule reads these arrays, never music21 objects.
    """

    pitch: np.ndarray  # (N, 4) int16 MIDI numbers, REST where silent/undecided; columns S, A, T, B
    attack: np.ndarray  # (N, 4) bool, True where the voice strikes a new note at this sonority
    offset: np.ndarray  # (N,) float64 quarter-note onset of each sonority
    duration: np.ndarray  # (N,) float64 quarter notes until the next sonority (or the end)
    measure: np.ndarray  # (N,) int32 measure number as printed
    beat: np.ndarray  # (N,) float64 1-based beat within the measure
    fermata: np.ndarray | None = None  # (N,) bool, a fermata sounds here (phrase end)
    # (N, 4) int8 letter each note is written with (0=C..6=B), -1 where not written (a decoding
    # prefix, MIDI, a rest): there the note is spelled as partimento writes it (see spelling.spell_rows)
    letter: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.pitch.shape[0])

    @classmethod
    def empty(cls) -> "SonorityArray":
        return cls(np.zeros((0, 4), np.int16), np.zeros((0, 4), bool), np.zeros(0), np.zeros(0),
                   np.zeros(0, np.int32), np.zeros(0))

    def slice(self, stop: int) -> "SonorityArray":
        """The first ``stop`` sonorities (a prefix, as the decoder sees it)."""
        f = None if self.fermata is None else self.fermata[:stop]
        letter = None if self.letter is None else self.letter[:stop]
        return SonorityArray(self.pitch[:stop], self.attack[:stop], self.offset[:stop],
                             self.duration[:stop], self.measure[:stop], self.beat[:stop], f, letter)


@dataclass
class Context:
    """What rules need to know besides the notes: keys and (optionally) chords per sonority."""

    keys: list[KeyInfo]  # local key at each sonority, len N
    chords: list[ChordSpec | None] | None = None  # plan chord at each sonority; None = infer from notes
    file: str | None = None  # for locations in messages
    chords_inferred: bool = False  # chords were guessed from the notes (not a plan): they explain no chromatic note by themselves
    accent: np.ndarray | None = None  # (N,) int8 metric accent per sonority (rules.nct.accent_levels); None: from the beats alone
    # what the rules of one check share, worked out once from its sonorities (see shared()): a fresh dict
    # for the length of one check_arrays call, None everywhere else (a decoder's window changes in place)
    scratch: dict | None = field(default=None, repr=False, compare=False)

    def chord(self, i: int) -> ChordSpec | None:
        return None if self.chords is None else self.chords[i]

    def key_numbers(self) -> tuple[list[KeyInfo], np.ndarray]:
        """The distinct keys (by identity, in order of appearance) and (N,) the number of each row's key.

        A key fills a run of rows as one object, so tables made per key are indexed per row
        through these numbers (once per check: :meth:`shared`).
        """
        return self.shared("key numbers", lambda: key_numbers(self.keys))

    def shared(self, name: str, make: Callable[[], T]) -> T:
        """``make()``, once per check: several rules read the same arrays of the same sonorities.

        Inside :func:`~.checker.check_arrays` the first rule to ask makes it and the others
        read it (read only: never change what ``shared`` returns); a rule asked on its own (a
        test, a decoder's fallback) makes it each time.
        """
        scratch = self.scratch
        if scratch is None:
            return make()
        made = scratch.get(name)
        if made is None:
            made = scratch[name] = make()
        return made


def key_numbers(keys: list[KeyInfo]) -> tuple[list[KeyInfo], np.ndarray]:
    """:meth:`Context.key_numbers` of a list of keys: one step per run of rows holding the same key object."""
    starts = [0] + [i for i in range(1, len(keys)) if keys[i] is not keys[i - 1]] if keys else []
    distinct: list[KeyInfo] = []
    number: dict[int, int] = {}
    per_run = []
    for i in starts:
        k = keys[i]
        j = number.get(id(k))
        if j is None:
            j = number[id(k)] = len(distinct)
            distinct.append(k)
        per_run.append(j)
    lengths = [b - a for a, b in zip(starts, starts[1:] + [len(keys)])]  # (np.diff, minus its Python-level wrapper)
    return distinct, np.repeat(np.asarray(per_run, np.intp), lengths)


@dataclass
class DecodeState:
    """A decoding prefix: sonorities so far, the last one possibly partial.

    ``sonorities`` holds every sonority up to and including the one being written; in
    its last row, voices not yet decided are REST. ``ctx`` covers the same rows.
    """

    sonorities: SonorityArray
    ctx: Context
    # the last two rows as lists, parked here while one caller asks every rule (see masks.last_two)
    last_rows: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def index(self) -> int:
        """Row of the sonority being written."""
        return len(self.sonorities) - 1

    def with_pitch(self, voice: int, pitch: int, attack: bool = True) -> "DecodeState":
        """A copy with ``voice`` of the last sonority set (used by tests and backtracking)."""
        s = self.sonorities
        p = s.pitch.copy()
        a = s.attack.copy()
        p[-1, voice] = pitch
        a[-1, voice] = attack
        letter = None
        if s.letter is not None:  # the new note is not written yet: spelled as partimento would write it
            letter = s.letter.copy()
            letter[-1, voice] = -1
        return DecodeState(SonorityArray(p, a, s.offset, s.duration, s.measure, s.beat, s.fermata, letter), self.ctx)


class Rule:
    """Base class for voice-leading and key rules. Subclass, set ``id``, implement both faces.

    ``default_severity`` is the rule's severity in the ``strict`` profile; profiles may
    override it per rule. ``hard`` rules become decoding masks.
    """

    id: ClassVar[str] = ""
    description: ClassVar[str] = ""  # one line for docs and `--help`
    default_severity: ClassVar[Severity] = Severity.ERROR
    #: The verdict on a note depends on how its voice entered it (a non-chord tone's class
    #: does), so a look-ahead that sees the note without its past must not ask this rule.
    reads_entry: ClassVar[bool] = False

    def __init__(self, severity: Severity | None = None) -> None:
        self.severity = Severity(severity) if severity is not None else self.default_severity

    def check(self, sonorities: SonorityArray, ctx: Context) -> list[Violation]:  # pragma: no cover
        raise NotImplementedError

    def allowed(self, state: DecodeState, voice: int) -> np.ndarray:
        """bool[128] over MIDI pitches for ``voice`` at the last sonority of ``state``.

        The default derives the mask from ``check`` by trying every pitch (correct but
        slow); rules on hot paths override it with array arithmetic.
        """
        mask = np.zeros(128, dtype=bool)
        last = state.index

        def at_last(st: "DecodeState") -> set:
            return {(v.index, tuple(v.voices), v.message) for v in self.check(st.sonorities, st.ctx) if v.index == last}

        before = at_last(state)  # already broken by earlier voices (never the case under masks)
        for p in range(128):
            mask[p] = not (at_last(state.with_pitch(voice, p)) - before)
        return mask

    # helpers for subclasses
    def violation(self, sonorities: SonorityArray, i: int, voices: list[int], message: str,
                  severity: Severity | None = None, ctx: Context | None = None) -> Violation:
        return Violation(
            rule=self.id,
            severity=severity or getattr(self, "severity", None) or self.default_severity,
            index=i,
            measure=int(sonorities.measure.item(i)),
            beat=float(sonorities.beat.item(i)),
            voices=[VOICES[v] for v in voices],
            message=message,
            offset=float(sonorities.offset.item(i)),
            file=ctx.file if ctx else None,
        )


#: Registry of rule classes by id; `register` adds user rules.
RULES: dict[str, type[Rule]] = {}


def register(rule_cls: type[Rule]) -> type[Rule]:
    """Class decorator: make a Rule available to profiles, the checker and the decoder."""
    if not rule_cls.id:
        raise ValueError(f"{rule_cls.__name__} has no id")
    RULES[rule_cls.id] = rule_cls
    return rule_cls
