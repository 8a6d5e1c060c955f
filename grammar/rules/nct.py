"""Non-chord tones: what each note that is not a member of the sounding chord is doing.

A *note* is a run of one pitch in one voice, held or re-struck, between two other pitches
(or rests). Its rows of a :class:`SonorityArray` either belong to the chord sounding there
(the plan's chord, or the chord inferred from the notes) or not. The pattern of that
membership, the step or leap into the note, the step or leap out of it and the metric
accents decide its class:

=====================  =========================================================================
class                  what it is here
=====================  =========================================================================
chord tone             a member of the chord at every row it sounds
passing                approached by step, left by step in the same direction
neighbour              approached by step, left by step in the other direction (upper / lower)
appoggiatura           approached by leap (or from silence), left by step; accented
incomplete neighbour   the same, unaccented
escape tone            approached by step, left by leap in the other direction to a chord tone
suspension             a chord tone held (or re-struck) into a chord it does not belong to, then
                       left a step down to a chord tone: 4-3, 7-6, 9-8, 2-3 in the bass, chains
retardation            the same, left a step up
anticipation           a non-chord tone held into the next chord, which it belongs to
pedal                  a chord tone held through a chord it does not belong to, into one it does
=====================  =========================================================================

"Accented" compares the metric accent where the note becomes dissonant with the accent
where the voice leaves it (:func:`accent_levels`: downbeat, strong beat, beat, half beat,
finer). It names a class (appoggiatura or incomplete neighbour) and qualifies labels
(``"passing (accented, chromatic)"``, chromatic: outside the local key's scale,
``"suspension 4-3 (unaccented)"``), but never decides whether a note has a class at all,
so faces that weigh beats differently (a decoder that knows only the beats, a checker
that knows the time signature) agree on what is allowed. A non-chord tone
that fits no class is *unclassified*; :class:`NoteClass.closest` says which class it came
nearest and what was missing (the checker's ``unprepared-dissonance`` reports these).

The same facts serve three uses, from one function (:func:`_prospects_of`):

* :func:`classify_notes` labels every note of a finished score (checker, benchmarks,
  explanations: :func:`class_at` answers "the class of the note sounding here");
* :func:`departure_mask` answers, while decoding, which next pitches of a voice leave the
  note before it in a class (the rule's decoder face);
* :func:`note_prospects` answers, for a candidate pitch at the sonority being written,
  which classes are still open and what each needs next (the resolution intervals,
  whether they must land on a chord tone, and whether the note must be left before the
  next chord or held into it), so that a decoder can refuse to start a suspension whose
  resolution it cannot write.

Everything here is numpy over MIDI numbers and pitch classes; no music21.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Sequence

import numpy as np

from ..metre import Metre, parse_metre
from ..records import record_maker
from ..theory import ChordSpec
from .base import REST, Context, DecodeState, SonorityArray
from .chords import chords_for
from .masks import PITCH_PC, all_allowed

__all__ = [
    "KINDS",
    "UNCLASSIFIED",
    "DOWNBEAT",
    "STRONG_BEAT",
    "BEAT",
    "HALF_BEAT",
    "OFFBEAT",
    "accent_levels",
    "accents",
    "membership",
    "Prospect",
    "NoteStatus",
    "NoteClass",
    "classify_notes",
    "class_at",
    "sounding_classes",
    "departure_mask",
    "note_prospects",
]

#: Every class a note can be given, "chord tone" first.
KINDS: tuple[str, ...] = ("chord tone", "passing", "neighbour", "appoggiatura", "incomplete neighbour",
                          "escape tone", "suspension", "retardation", "anticipation", "pedal")
UNCLASSIFIED = "unclassified"

# metric accent levels (larger is stronger)
DOWNBEAT, STRONG_BEAT, BEAT, HALF_BEAT, OFFBEAT = 3, 2, 1, 0, -1

_STEPS_UP = (1, 2)
_STEPS_DOWN = (-1, -2)
_LEAPS_UP = tuple(range(3, 13))  # a third up to an octave (larger leaps are the melodic rules' business)
_LEAPS_DOWN = tuple(-d for d in _LEAPS_UP)
_EPS = 1e-6


# --------------------------------------------------------------------------------------- metre
def accent_levels(beat: np.ndarray, metre: str | Metre | None = None) -> np.ndarray:
    """Metric accent of each 1-based ``beat`` (as :class:`SonorityArray` stores it): int8 levels.

    ``DOWNBEAT`` (3) on beat 1; ``STRONG_BEAT`` (2) on the middle beat of a bar of four
    counted beats (beat 3 of 4/4, 12/8, 4/2) when ``metre`` is known; ``BEAT`` (1) on
    other beats; ``HALF_BEAT`` (0) halfway through a simple beat or on the second and
    third eighths of a compound one; ``OFFBEAT`` (-1) anywhere finer.
    """
    b = np.asarray(beat, dtype=np.float64) - 1.0
    whole = np.floor(b + _EPS)
    frac = b - whole
    on_beat = frac < _EPS
    if metre is not None:
        m = parse_metre(metre) if isinstance(metre, str) else metre
        compound, beats_per_bar = _beat_shape(m.numerator, m.denominator)
    else:
        compound, beats_per_bar = False, None
    if compound:
        half = (np.abs(frac - 1 / 3) < 1e-3) | (np.abs(frac - 2 / 3) < 1e-3)
    else:
        half = np.abs(frac - 0.5) < _EPS
    out = np.where(on_beat, BEAT, np.where(half, HALF_BEAT, OFFBEAT)).astype(np.int8)
    if beats_per_bar == 4:
        out[on_beat & (np.abs(whole - 2) < _EPS)] = STRONG_BEAT
    out[on_beat & (np.abs(whole) < _EPS)] = DOWNBEAT
    return out


@lru_cache(maxsize=64)
def _beat_shape(numerator: int, denominator: int) -> tuple[bool, Fraction]:
    """(compound?, counted beats per bar) of a metre, worked out once per time signature."""
    m = Metre(numerator, denominator)
    return m.beat_quarters == Fraction(3, 2), m.bar_quarters / m.beat_quarters


def accents(s: SonorityArray, ctx: Context) -> np.ndarray:
    """The context's accent per sonority, else :func:`accent_levels` of the beats alone."""
    acc = getattr(ctx, "accent", None)
    if acc is not None and len(acc) == len(s):
        return np.asarray(acc, dtype=np.int8)
    return accent_levels(s.beat)


# --------------------------------------------------------------------------------------- chords
@lru_cache(maxsize=4096)
def _bits_of(pcs: tuple[int, ...]) -> int:
    """One int with bit ``pc`` set for each pitch class in ``pcs`` (a chord's members or a key's scale;
    the same few tuples come back in every piece)."""
    bits = 0
    for pc in pcs:
        bits |= 1 << pc
    return bits


def _member_bits(chords: Sequence[ChordSpec | None]) -> np.ndarray:
    """(N,) int: bit ``pc`` set for each chord member; all 12 bits where the chord is unknown."""
    bits_of = _bits_of
    return np.array([0xFFF if ch is None else bits_of(ch.members) for ch in chords], dtype=np.int64)


def _member_of(s: SonorityArray, bits: np.ndarray) -> np.ndarray:
    """(N, 4) bool from per-row member ``bits`` (see :func:`membership`)."""
    rest = s.pitch == REST
    pc = np.where(rest, 0, s.pitch.astype(np.int64) % 12)
    return ((bits[:, None] >> pc) & 1).astype(bool) | rest


def membership(s: SonorityArray, ctx: Context, chords: Sequence[ChordSpec | None] | None = None) -> np.ndarray:
    """(N, 4) bool: the voice sounds a member of the chord at that row (True where no chord is known or at rests)."""
    if chords is None:
        chords, _ = chords_for(s, ctx)
    return _member_of(s, _member_bits(chords))


def _same_harmony(a: ChordSpec | None, b: ChordSpec | None) -> bool:
    """One harmony: the same root (``V`` to ``V7``, ``I`` to ``I6``), or no chord known on either side."""
    return a is None or b is None or a.root == b.root


# --------------------------------------------------------------------------------------- prospects
@dataclass(frozen=True)
class Prospect:
    """One class a pending non-chord tone can still belong to, and what it needs next.

    ``moves`` are the signed semitone intervals from the note to the voice's next pitch
    that complete the class (empty for a class completed by holding, see
    ``hold_into_next_chord``). ``chord_tone``: that next pitch must be a member of the
    chord where it is written. Metric accent never decides whether a class fits (only
    how it is labelled), so a decoder and a checker that weigh beats differently agree on
    what is allowed. ``leave_before_next_chord``: the move must come at the onset of the
    next chord with another root at the latest (a non-chord tone held on into a harmony it
    does not belong to fits no class; ``V`` to ``V7`` is one harmony);
    ``hold_into_next_chord``: the class needs the note still sounding at the next chord's
    onset, of which it is a member (anticipation, pedal).
    """

    kind: str
    moves: tuple[int, ...] = ()
    chord_tone: bool = False
    leave_before_next_chord: bool = False
    hold_into_next_chord: bool = False

    def targets(self, pitch: int) -> list[int]:
        """MIDI pitches the voice may move to from ``pitch`` to complete this class."""
        return [pitch + d for d in self.moves if 0 <= pitch + d < 128]


@dataclass(frozen=True)
class NoteStatus:
    """A note so far: settled in a class, or pending with the classes still open.

    ``settled`` is the class of a note that no move can change any more ("chord tone" for
    a note that has only sounded chord members, "anticipation", "pedal"); a pending
    non-chord tone has ``settled is None`` and its open classes in ``prospects``. A
    non-chord tone with no prospect left fits no class: ``reason`` says why and
    ``closest`` which class it came nearest.
    """

    settled: str | None
    prospects: tuple[Prospect, ...] = ()
    dissonant_from: int | None = None  # row where the note turned non-chord tone (None: never)
    reason: str = ""
    closest: str = ""

    @property
    def dead(self) -> bool:
        return self.settled is None and not self.prospects


_CHORD_TONE = NoteStatus("chord tone")


def _free_prospects_by_way(up: bool | None) -> tuple[Prospect, ...]:
    """:func:`_free_status`'s classes by the way in: a step up, a step down, or ``None`` (a leap or silence);
    built once per way into ``_FREE_STATUS`` (the prospects are immutable), not once per note."""
    leave = True
    if up is None:
        return (Prospect("appoggiatura", _STEPS_DOWN + _STEPS_UP, leave_before_next_chord=leave),)
    return (Prospect("passing", _STEPS_UP if up else _STEPS_DOWN, leave_before_next_chord=leave),
            Prospect("neighbour", _STEPS_DOWN if up else _STEPS_UP, leave_before_next_chord=leave),
            Prospect("escape tone", _LEAPS_DOWN if up else _LEAPS_UP, chord_tone=True,
                     leave_before_next_chord=leave))


_ORNAMENTED = (-3, -4)  # a suspension that leaps a third down, to the note below its resolution, and turns up to it
_PREPARED = (Prospect("suspension", _STEPS_DOWN, chord_tone=True),
             Prospect("suspension", _ORNAMENTED),
             Prospect("retardation", _STEPS_UP, chord_tone=True))


def _prospects_of(member: np.ndarray | list[bool], chords: Sequence[ChordSpec | None], din: int | None) -> NoteStatus:
    """The status of a note from its rows so far: membership per row, chords per row, interval in.

    ``member`` (k,) bool (an array or a list) and ``chords`` (k,) cover the note's rows in order; ``din`` is
    the interval from the voice's previous pitch (None after silence or at the start).
    The single place where the classes are defined; every face reads it.
    """
    if not isinstance(member, list):
        member = member.tolist()  # a few rows: Python's list beats numpy's per-call cost here
    if all(member):
        return _CHORD_TONE
    first, last = member[0], member[-1]
    if first and last:
        return _status("pedal", (), member.index(False), "", "")
    if last:  # dissonant first, the harmony came to it
        return _ANTICIPATION
    if first:  # prepared: dissonant since the last change of membership
        return _status(None, _PREPARED, len(member) - member[::-1].index(True), "", "")
    if not all(_same_harmony(chords[0], c) for c in chords[1:]):
        return _HELD_INTO_NEXT
    return _free_status(din)


# the statuses that do not depend on the note (frozen: shared, as _CHORD_TONE is), and a maker for the rest
_ANTICIPATION = NoteStatus("anticipation", dissonant_from=0)
_HELD_INTO_NEXT = NoteStatus(None, (), 0, "held into the next chord, to which it does not belong either",
                             "an anticipation (the chord it is held into does not contain it)")
_status = record_maker(NoteStatus)  # NoteStatus(...) without its frozen __init__: see grammar.records


def _free_status(din: int | None) -> NoteStatus:
    """A non-chord tone that began dissonant: its classes by the interval into it (one status per way in).

    After a leap or from silence, a step out either way (an appoggiatura; unaccented, an
    incomplete neighbour); after a step, passing on, a neighbour back, or an escape tone.
    """
    return _FREE_STATUS[None if din is None or abs(din) > 2 else din > 0]


_FREE_STATUS = {way: NoteStatus(None, _free_prospects_by_way(way), dissonant_from=0) for way in (None, True, False)}


def _departure_ok(p: Prospect, dout: int, dep_member: bool) -> bool:
    """Whether leaving by ``dout`` (signed semitones) completes ``p``; ``dep_member``: the note left to is a chord
    member. The checker's test, note by note; the decoder's mask over every pitch is :func:`_departures_from`."""
    return dout in p.moves and (dep_member or not p.chord_tone)


@lru_cache(maxsize=None)
def _move_table(moves: tuple[int, ...]) -> np.ndarray:
    """bool[255], entry ``d + 127`` true when ``d`` is one of ``moves``: a departure test over all
    128 pitches from ``x`` is then the slice ``[127 - x : 255 - x]`` (no per-pitch comparison)."""
    table = np.zeros(255, bool)
    table[[d + 127 for d in moves if -127 <= d <= 127]] = True
    table.flags.writeable = False
    return table


def _departures_from(p: Prospect, x: int, dep_member: np.ndarray) -> np.ndarray:
    """``_departure_ok(p, arange(128) - x, dep_member)`` by table (the decoder's per-token mask)."""
    ok = _move_table(p.moves)[127 - x:255 - x]
    return ok & dep_member if p.chord_tone else ok


def _why_not(status: NoteStatus, din: int | None, dout: int | None, dep_member: bool) -> tuple[str, str]:
    """(what went wrong, the nearest class) for a pending note left by ``dout`` (None: for a rest)."""
    if status.reason:
        return status.reason, status.closest
    kinds = [p.kind for p in status.prospects]
    prepared = "suspension" in kinds
    if dout is None:
        return "left for a rest, unresolved", "a suspension" if prepared else "a passing tone"
    way = f"a {'step' if abs(dout) <= 2 else 'leap'} {'up' if dout > 0 else 'down'}"
    if prepared:
        near = "a suspension" if dout < 0 else "a retardation"
        if abs(dout) <= 2:
            return f"prepared, then left by {way} to a non-chord tone", near
        return f"prepared, then left by {way}", near
    if din is None:
        return f"entered from silence, left by {way}", "an appoggiatura"
    if abs(din) > 2:
        return f"approached by leap, left by {way}", "an appoggiatura"
    if (dout > 0) == (din > 0):
        return f"approached by step, left by {way} in the same direction", "a passing tone"
    return f"approached by step, left by {way} to a non-chord tone", "an escape tone"


# --------------------------------------------------------------------------------------- labels
@dataclass(frozen=True)
class NoteClass:
    """The class of one note: voice, rows ``start``..``stop`` (exclusive), pitch, and its label."""

    voice: int
    start: int  # first row
    stop: int  # row where the voice leaves it (len(sonorities) when it lasts to the end)
    pitch: int
    kind: str  # one of KINDS, UNCLASSIFIED, or "pending" for a non-chord tone still sounding at the end
    label: str  # e.g. "suspension 4-3", "passing (accented, chromatic)", "chord tone"
    dissonant_from: int | None = None  # first row where it is not a chord member
    accented: bool = False
    chromatic: bool = False
    reason: str = ""  # unclassified: what went wrong
    closest: str = ""  # unclassified: the class it came nearest
    details: dict = field(default_factory=dict, compare=False)

    @property
    def classified(self) -> bool:
        return self.kind in KINDS

    @property
    def is_nct(self) -> bool:
        return self.kind != "chord tone"


_note_class = record_maker(NoteClass)  # NoteClass(...) without its frozen __init__: see grammar.records

_FIGURE = {0: "8", 1: "9", 2: "9", 3: "3", 4: "3", 5: "4", 6: "4", 7: "5", 8: "6", 9: "6", 10: "7", 11: "7"}


def _figure(upper: int, lower: int) -> str:
    """Figured-bass number of an interval above the bass (9 for seconds, 8 for unisons)."""
    return _FIGURE[(upper - lower) % 12]


def _suspension_figures(s: SonorityArray, voice: int, pitch: int, d: int, e: int, resolution: int) -> str:
    """``"4-3"`` for an upper voice over the bass; ``"2-3 (bass)"`` for a bass against the voice it clashes with."""
    p = s.pitch
    if voice != 3:
        b0, b1 = int(p[d, 3]), int(p[e, 3])
        if b0 == REST:
            return ""
        b1 = b0 if b1 == REST else b1
        return f"{_figure(pitch, b0)}-{_figure(resolution, b1)}"
    # the bass: the interval to the upper voice it is dissonant against
    for w in (2, 1, 0):
        u = int(p[d, w])
        if u != REST and (u - pitch) % 12 in (1, 2, 5, 10, 11):
            u1 = int(p[e, w]) if p[e, w] != REST else u
            first = _figure(u, pitch)
            return f"{'2' if first == '9' else first}-{_figure(u1, resolution)} (bass)"  # a bass suspension is a 2-3
    return "(bass)"


def _label(kind: str, s: SonorityArray, voice: int, pitch: int, stop: int, d: int | None, din: int | None,
           accented: bool, chromatic: bool, chain: bool, resolution_bits: int) -> str:
    if kind in ("suspension", "retardation"):
        nxt = int(s.pitch[stop, voice])
        ornamented = abs(nxt - pitch) > 2
        resolution = nxt
        if ornamented:  # the step below that the ornament turns back up to: the chord's member, else a tone
            resolution = pitch - 1 if resolution_bits >> ((pitch - 1) % 12) & 1 else pitch - 2
        fig = _suspension_figures(s, voice, pitch, d, stop, resolution)
        extra = [x for x in ("chain" if chain else "", "ornamented resolution" if ornamented else "",
                             "unaccented" if not accented else "") if x]
        return " ".join(x for x in (kind, fig) if x) + (f" ({', '.join(extra)})" if extra else "")
    quals = []
    if kind == "neighbour":
        quals.append("upper" if din is not None and din > 0 else "lower")
    if kind in ("passing", "neighbour", "escape tone") and accented:
        quals.append("accented")
    if kind in ("passing", "neighbour", "appoggiatura", "incomplete neighbour", "escape tone") and chromatic:
        quals.append("chromatic")
    return kind + (f" ({', '.join(quals)})" if quals else "")


_FIVE = np.arange(5)  # voice numbers 0..4, to find where each voice's runs begin


def classify_notes(s: SonorityArray, ctx: Context, voices: Sequence[int] = (0, 1, 2, 3),
                   chord_tones: bool = True, labels: bool = True) -> list[NoteClass]:
    """Every note of ``voices``, in voice then time order, with its class.

    A non-chord tone still sounding at the last row is ``"pending"`` (its departure is
    not written); a note left for a rest or by a move no class allows is
    ``UNCLASSIFIED`` with ``reason`` and ``closest``. ``chord_tones=False`` leaves out the
    notes that are chord members throughout (most notes of a chorale), for callers
    that judge only the others; the classes of the rest are the same either way.
    ``labels=False`` gives every note its ``kind`` as its label (the suspension figures
    and qualities are not worked out), for callers that read only the kinds.

    The notes that are chord tones are found for all rows of a voice at once (their
    class needs nothing but membership); only the others go through
    :func:`_prospects_of` one by one.
    """
    n = len(s)
    out: list[NoteClass] = []
    if n == 0:
        return out
    chords, _ = chords_for(s, ctx)
    bits = _member_bits(chords)
    member = _member_of(s, bits)
    acc = accents(s, ctx)
    acc_at = acc.tolist()
    pitch = s.pitch.astype(np.int64)
    # the runs of one pitch of all four voices at once, voice after voice: (4N,) voice-major
    flat = pitch.T.ravel()
    new_run = np.empty(flat.size, bool)
    np.not_equal(flat[1:], flat[:-1], out=new_run[1:])
    new_run[::n] = True  # each voice starts a run
    starts = new_run.nonzero()[0]
    stops = np.empty_like(starts)
    stops[:-1] = starts[1:]
    stops[-1] = flat.size
    run_voice = starts // n
    outside = np.zeros(flat.size + 1, np.int64)  # rows off the chord so far
    np.cumsum(~member.T.ravel(), out=outside[1:])
    all_member = (outside[stops] - outside[starts]) == 0  # per run: a chord tone (or a rest)
    run_pitch = flat[starts]
    pitched = run_pitch != REST
    todo = pitched & ~all_member if not chord_tones else pitched  # runs to class
    starts, stops = starts - run_voice * n, stops - run_voice * n  # rows within the voice
    # from here on one note at a time: Python lists (numpy's per-call cost is paid once per array, not per note)
    run_pitch_at, pitched_at = run_pitch.tolist(), pitched.tolist()
    starts_at, stops_at, all_member_at = starts.tolist(), stops.tolist(), all_member.tolist()
    todo_at = todo.nonzero()[0].tolist()  # runs to class, voice after voice
    bounds = run_voice.searchsorted(_FIVE).tolist()  # runs of voice v: bounds[v]..bounds[v + 1]
    member_of = member.T.tolist()  # per voice, per row
    keys = ctx.keys
    for v in voices:
        lo, hi = bounds[v], bounds[v + 1]
        member_v = member_of[v]
        done_run, done_kind = -2, ""  # the last run classed below, and its class
        for i in todo_at[bisect_left(todo_at, lo):bisect_left(todo_at, hi)]:
            a, e, x, ct = starts_at[i], stops_at[i], run_pitch_at[i], all_member_at[i]
            chromatic = not _bits_of(keys[a].scale) >> (x % 12) & 1  # outside the local key's scale
            if ct:  # what _prospects_of settles at once: a chord tone, never accented
                out.append(NoteClass(v, a, e, x, "chord tone", "chord tone", None, False, chromatic))
                done_run, done_kind = i, "chord tone"
                continue
            # the class of the run before: a rest (""), a chord tone, or a note classed here
            prev_kind = done_kind if done_run == i - 1 else ("" if i == lo or not pitched_at[i - 1] else "chord tone")
            before = run_pitch_at[i - 1] if i > lo else REST
            din = x - before if before != REST else None
            status = _prospects_of(member_v[a:e], chords[a:e], din)
            d = status.dissonant_from
            if status.settled is not None:
                kind = status.settled
                accented = d is not None and e < n and acc_at[a + d] > acc_at[e]
                label = kind
                reason = closest = ""
            elif e >= n:
                kind, label, accented, reason, closest = "pending", "pending non-chord tone", False, "", ""
            else:
                y = run_pitch_at[i + 1]  # the run after, in this voice (e < n)
                rows_d = a + (d or 0)
                accented = acc_at[rows_d] > acc_at[e]
                if y == REST:
                    match = None
                    dout = None
                    dep_member = False
                else:
                    dout = y - x
                    dep_member = member_v[e]
                    match = next((p for p in status.prospects
                                  if _departure_ok(p, dout, dep_member)), None)
                if match is None:
                    kind, label = UNCLASSIFIED, UNCLASSIFIED
                    reason, closest = _why_not(status, din, dout, dep_member)
                else:
                    kind = match.kind
                    if kind == "appoggiatura" and not accented:
                        kind = "incomplete neighbour"
                    reason = closest = ""
                    label = _label(kind, s, v, x, e, rows_d, din, accented, chromatic,
                                   prev_kind == "suspension" and kind == "suspension", int(bits[e])) \
                        if labels else kind
            out.append(_note_class(v, a, e, x, kind, label, None if d is None else a + d, accented, chromatic,
                                   reason, closest, {}))
            done_run, done_kind = i, kind
    return out


def sounding_classes(s: SonorityArray, ctx: Context, notes: list[NoteClass] | None = None,
                     what: str = "label") -> np.ndarray:
    """(N, 4) object array: at each row and voice, "" for a rest, "chord tone" where the note sounding
    there belongs to the chord at that row, else the note's ``label`` (or its ``kind``)."""
    notes = classify_notes(s, ctx) if notes is None else notes
    chords, _ = chords_for(s, ctx)
    member = membership(s, ctx, chords)
    out = np.full(s.pitch.shape, "", dtype=object)
    for nc in notes:
        rows = np.arange(nc.start, nc.stop)
        out[rows, nc.voice] = np.where(member[rows, nc.voice], "chord tone", getattr(nc, what))
    return out


def class_at(s: SonorityArray, ctx: Context, row: int, voice: int) -> NoteClass | None:
    """The class of the note sounding in ``voice`` at ``row`` (None at a rest)."""
    for nc in classify_notes(s, ctx, voices=(voice,)):
        if nc.start <= row < nc.stop:
            return nc
    return None


# --------------------------------------------------------------------------------------- decoding
def _note_before_last(s: SonorityArray, voice: int) -> tuple[int, int] | None:
    """(start, pitch) of the note in ``voice`` that ends at the row before the last, or None (a rest)."""
    n = len(s)
    if n < 2:
        return None
    col = s.pitch[:, voice]
    x = int(col[n - 2])
    if x == REST:
        return None
    a = n - 2
    while a > 0 and int(col[a - 1]) == x:
        a -= 1
    return a, x


def departure_mask(state: DecodeState, voice: int, chords: Sequence[ChordSpec | None] | None = None
                   ) -> tuple[np.ndarray, NoteStatus | None]:
    """Which pitches ``voice`` may take at the last row so that the note it leaves there has a class.

    Returns (bool[128], status of the note before): holding the note is always allowed
    (it is not left yet); every other pitch must complete one of its prospects. Chords
    come from the context (``chords`` overrides them, e.g. inferred for the trial row).
    """
    s = state.sonorities
    found = _note_before_last(s, voice)
    if found is None:
        return all_allowed(), None
    a, x = found
    last = len(s) - 1
    if chords is None:
        chords, _ = chords_for(s, state.ctx)
    bits = _member_bits(chords)
    rows = np.arange(a, last)
    member = ((bits[rows] >> (x % 12)) & 1).astype(bool)
    before = int(s.pitch[a - 1, voice]) if a > 0 else REST
    status = _prospects_of(member, chords[a:last], x - before if before != REST else None)
    if status.settled is not None:
        return all_allowed(), status
    dep_member = ((bits[last] >> PITCH_PC) & 1).astype(bool)
    mask = np.zeros(128, bool)
    for p in status.prospects:
        mask |= _departures_from(p, x, dep_member)
    mask[x] = True
    return mask, status


def note_prospects(state: DecodeState, voice: int, pitch: int, next_chord: ChordSpec | None = None
                   ) -> NoteStatus:
    """What writing ``pitch`` in ``voice`` at the last row commits the voice to.

    Returns the status of the note that ``pitch`` starts (or continues, when it equals
    the voice's previous pitch): ``settled`` for a chord tone, an anticipation or a pedal;
    else the open classes with the moves each needs next (:class:`Prospect`). With
    ``next_chord`` (the chord after the one sounding at the last row) the status also
    offers the classes completed by holding the note into it: an anticipation for a
    non-chord tone of which it is a member, a pedal for a prepared one. A status with no
    prospect (``dead``) fits no class whatever comes next. Chords come from the
    context (plan chords: the decoder's case).
    """
    s = state.sonorities
    trial = state.with_pitch(voice, pitch)
    chords, _ = chords_for(trial.sonorities, trial.ctx)
    t = s.pitch[:, voice]
    last = len(s) - 1
    a = last
    while a > 0 and int(t[a - 1]) == pitch:
        a -= 1
    bits = _member_bits(chords)
    member = ((bits[a:last + 1] >> (pitch % 12)) & 1).astype(bool)
    before = int(t[a - 1]) if a > 0 else REST
    status = _prospects_of(member, chords[a:last + 1], pitch - before if before != REST else None)
    if status.settled is not None or next_chord is None:
        return status
    if pitch % 12 in next_chord.members:
        first = bool(member[0])
        kind = "pedal" if first else "anticipation"
        hold = Prospect(kind, hold_into_next_chord=True)
        return NoteStatus(None, status.prospects + (hold,), status.dissonant_from)
    return status
