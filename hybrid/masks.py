"""Plan layers: what the plan (not a rule) says about the next token, each with its reason.

A token mask is ``bool[VOCAB_SIZE]`` over (HOLD, REST, attack of MIDI 0..127). The
:class:`~partimento.hybrid.constraint.Constraint` ANDs the plan layers below with one
layer per hard rule (the rule's own ``allowed`` face: voice geometry, parallels,
tendency tones, ...) and the look-ahead layers of :mod:`.lookahead`. A plan layer knows
only the plan: chords, inversions, cadences, fermatas, and the grid written so far. It
never re-states a rule: a pitch out of range, say, is the ``range`` rule's business, so
the plan layers allow chord tones in every octave and the rule layer cuts them.

Each layer answers with a mask (or ``None``: no say at this position) and explains any
token it removes with :meth:`PlanLayer.why` ("F is not a chord tone of V7 at an
onset"). The layers are a list the constraint is given (:func:`default_plan_layers`),
so a richer non-chord-tone vocabulary (suspensions, appoggiaturas, ... as rules with two
faces) replaces :class:`ChordTone` and :class:`Harmony` by passing another list.

Layers (ids as the trace names them):

* ``plan:no-chord`` — no chord planned here: the voices rest;
* ``plan:fermata`` — a fermata chord is held to its end;
* ``plan:chord-tone`` — at a chord onset every voice sounds a chord tone (struck or held),
  or an upper voice holds a prepared note over as a suspension, only where its resolution
  can still be written (:func:`suspension_resolutions`); no other upper voice sounds the
  pitch class a suspension waits to resolve to;
* ``plan:bass`` — the bass sounds the inversion's pitch class (inside the chord it may
  also take a passing or neighbour note);
* ``plan:pac-soprano`` — the soprano takes the tonic at a perfect authentic cadence;
* ``plan:coverage`` — root, third and seventh (of a seventh chord) are all present once
  the sonority is complete: an upper voice may not leave too few voices for the ones
  still missing (the constraint may drop a seventh the rules leave no way on, see
  ``ChordTable.required``);
* ``plan:harmony`` — inside a chord a voice strikes a chord tone or a passing or
  neighbour note (diatonic, a step from the chord tone it leaves, on a pitch class no
  other voice sounds, with a chord tone a step away to resolve to);
* ``plan:resolution`` — a non-chord tone moves by step to a chord tone (it may be held
  one more sixteenth inside the chord); a suspension falls a step to a chord tone, held at
  most :data:`SUSPENSION_STEPS` sixteenths into its chord and always before the chord ends.

``plan:coverage`` counts a suspended voice by the chord tone it resolves to (the 4 of a
4-3 stands for the 3), as :func:`partimento.hybrid.result.onset_misses` does for adherence.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.grammar.plan import Plan
from partimento.grammar.rules.masks import PITCH_PC
from partimento.grammar.theory import VOICES, ChordSpec, KeyInfo, key_info, pc_name
from partimento.neural.encoding import HOLD, PITCH_OFFSET, REST, VOCAB_SIZE

from .grid import SILENT, GridState, forced_sounding

__all__ = ["PITCH_PC", "SUSPENSION_STEPS", "resolution_pitches", "room_to_suspend", "suspension_resolutions",
           "pending_resolutions", "ChordTable", "PlanTables", "Here", "PlanLayer", "NoChord", "Fermata", "ChordTone", "Bass",
           "PacSoprano", "Coverage", "Harmony", "Resolution", "default_plan_layers", "token_name", "all_tokens"]

_ALL_TOKENS = np.ones(VOCAB_SIZE, bool)


def all_tokens() -> np.ndarray:
    """A fresh all-True token mask (bool[VOCAB_SIZE]): a copy of a kept one, since ``np.ones`` goes
    through numpy's Python layer and the decoder and its preferences ask for thousands per piece."""
    return _ALL_TOKENS.copy()
_BASS = 3
_STEPS = (-2, -1, 1, 2)  # melodic steps in semitones


def token_name(token: int, key: KeyInfo | None = None) -> str:
    """HOLD, REST or the pitch's name ("F#4")."""
    if token == HOLD:
        return "hold"
    if token == REST:
        return "rest"
    from partimento.grammar.rules.spelling import note_name

    return note_name(token - PITCH_OFFSET, key) if key is not None else f"MIDI {token - PITCH_OFFSET}"


@dataclass
class ChordTable:
    """One plan chord as the layers read it, built once per chord event."""

    index: int
    spec: ChordSpec
    key: KeyInfo
    figure: str
    onset: int  # first step
    end: int  # step after the last
    pac: bool  # a perfect authentic cadence lands here
    members: np.ndarray  # (12,) bool chord pitch classes
    scale: np.ndarray  # (12,) bool pitch classes of the local key's scale
    required: tuple[int, ...]  # pitch classes the upper voices must supply (root, third, seventh; not the bass's;
    # the constraint drops a seventh no upper voice could resolve)
    static: np.ndarray  # (4, 128) bool: pitches every rule allows the voice here on its own (range, key, ...)

    def onset_tones(self, v: int) -> np.ndarray:
        """bool[128]: what the plan layers let ``voice`` strike at this chord's onset (before coverage)."""
        pcs = self.members.copy()
        if v == _BASS:
            pcs[:] = False
            pcs[self.spec.bass] = True
        if v == 0 and self.pac:
            pcs &= np.arange(12) == self.spec.root
        return pcs[PITCH_PC] & self.static[v]

    def inner_tones(self, v: int) -> np.ndarray:
        """bool[128]: chord tones ``voice`` may strike inside the chord (the bass: its inversion's pitch class)."""
        if v == _BASS:
            return (PITCH_PC == self.spec.bass) & self.static[v]
        return self.members[PITCH_PC] & self.static[v]


class PlanTables:
    """Per-step plan facts and one :class:`ChordTable` per chord.

    ``static`` (optional, one (4, 128) bool array per chord) is what every hard rule
    allows each voice at that chord on its own (the constraint asks the rules); it
    bounds the pitches the layers aim at (a passing note's resolution, say), never the
    token masks themselves, which the rule layers bound.
    """

    def __init__(self, plan: Plan, forced: np.ndarray | None = None, static: list[np.ndarray] | None = None) -> None:
        self.plan = plan
        self.steps = plan.steps
        self.chord_index = np.asarray(plan.chord_per_step(), dtype=np.int32)  # (T,)
        self.onset = np.zeros(self.steps, bool)
        self.fermata_hold = np.zeros(self.steps, bool)  # inside a fermata chord after its onset
        self.chords: list[ChordTable] = []
        for i, c in enumerate(plan.chords):
            a = int(round(c.onset * STEPS_PER_QUARTER))
            b = min(int(round(c.end * STEPS_PER_QUARTER)), self.steps)
            spec = c.spec
            k = key_info(spec.key)
            members = np.zeros(12, bool)
            members[list(spec.members)] = True
            scale = np.zeros(12, bool)
            scale[list(k.scale)] = True
            required = tuple(sorted(pc for pc in spec.required if pc != spec.bass))
            st = static[i] if static is not None else np.ones((4, 128), bool)
            self.chords.append(ChordTable(i, spec, k, c.figure, a, b, c.cadence == "PAC", members, scale, required, st))
            if 0 <= a < self.steps:
                self.onset[a] = True
            if c.fermata:
                self.fermata_hold[a + 1:b] = True
        self.forced = forced if forced is not None else np.full((self.steps, 4), -1, np.int64)
        self.forced_pitch = forced_sounding(self.forced)
        self.next_onset = np.full(self.steps, self.steps, np.int32)  # first onset step after each step
        for t in range(self.steps - 2, -1, -1):
            self.next_onset[t] = t + 1 if self.onset[t + 1] else self.next_onset[t + 1]
        self._chord_list = self.chord_index.tolist()
        self._next_list = self.next_onset.tolist()
        self._resolvable_rows: dict[tuple, np.ndarray] = {}

    def chord_at(self, t: int) -> ChordTable | None:
        ci = self._chord_list[t]
        return self.chords[ci] if ci >= 0 else None

    def next_chord(self, t: int) -> ChordTable | None:
        """The chord whose onset is the first after step ``t`` (None: none follows)."""
        n = self._next_list[t]
        return self.chords[self._chord_list[n]] if n < self.steps and self._chord_list[n] >= 0 else None

    def is_nct(self, t: int, pitch: int) -> bool:
        """Whether ``pitch`` struck at ``t`` is a non-chord tone of the plan chord."""
        ch = self.chord_at(t)
        return ch is not None and not ch.members[pitch % 12]

    def given_pc(self, t: int, u: int) -> int:
        """Pitch class a given (forced) voice ``u`` stands for at ``t`` (-1: silent or not given).

        A given suspension (a note held over the onset, not in the chord, whose given
        resolution falls a step to a chord tone before the chord ends) stands for its
        resolution, as a decoded one does in :class:`Coverage` and adherence.
        """
        p = int(self.forced_pitch[t, u])
        if p < 0 or self.forced[t, u] < 0:
            return -1
        ch = self.chord_at(t)
        if ch is None or self.forced[t, u] != HOLD or ch.members[p % 12]:
            return p % 12
        for s in range(t + 1, min(ch.end, self.steps)):
            tok = int(self.forced[s, u])
            if tok == HOLD:
                continue
            if tok >= PITCH_OFFSET and 0 < p - (tok - PITCH_OFFSET) <= 2 and ch.members[(tok - PITCH_OFFSET) % 12]:
                return (tok - PITCH_OFFSET) % 12
            break
        return p % 12

    def resolvable(self, t: int, v: int) -> np.ndarray:
        """bool[128]: a non-chord tone there at ``t`` has a chord tone a step away (this chord's, or the next onset's)."""
        n = self._next_list[t]
        here = self._chord_list[t]
        there = self._chord_list[n] if n < self.steps else -1
        key = (here, there, n > t + 1, v)
        row = self._resolvable_rows.get(key)
        if row is None:
            targets = np.zeros(128, bool)
            if n > t + 1:  # a step left inside this chord: resolve to one of its tones
                targets |= self.chords[here].inner_tones(v)
            if there >= 0:  # or into the next chord's onset
                targets |= self.chords[there].onset_tones(v)
            row = np.zeros(128, bool)
            for d in _STEPS:
                if d > 0:
                    row[:-d] |= targets[d:]
                else:
                    row[-d:] |= targets[:d]
            self._resolvable_rows[key] = row
        return row


#: Longest a suspension is held into its chord before it resolves (16th steps: a quarter note).
SUSPENSION_STEPS = 4


def resolution_pitches(ch: ChordTable, p: int, static: np.ndarray) -> list[int]:
    """MIDI pitches a suspension of ``p`` resolves to in chord ``ch``: a step down to a chord tone.

    A half step down, or a whole step down to a tone of the local scale (so never a
    diminished third that only sounds like a step); ``static`` (bool[128], what the
    rules allow the voice there on its own) must allow it. The resolution the
    ``unprepared-dissonance`` rule's class ``suspension`` accepts (:mod:`partimento.grammar.rules.nct`:
    a step down to a chord member) narrowed to what the decoder writes.
    """
    out = []
    for d in (1, 2):
        r = p - d
        if 0 <= r < 128 and ch.members[r % 12] and (d == 1 or ch.scale[r % 12]) and static[r]:
            out.append(r)
    return out


def _suspended(tables: "PlanTables", grid: GridState, t: int, u: int) -> bool:
    """Voice ``u`` sounds, at ``t`` (or just before, where not written yet), a suspension not yet resolved."""
    s = t if grid.decided[t, u] else t - 1
    if s < 0 or grid.pitch[s, u] < 0 or not grid.nct[s, u]:
        return False
    ch = tables.chord_at(t)
    return ch is not None and int(grid.start[s, u]) < ch.onset <= s


def pending_resolutions(tables: "PlanTables", grid: GridState, t: int, v: int) -> set[int]:
    """Pitch classes the suspensions of the other upper voices sounding at ``t`` will resolve to.

    No other upper voice sounds them while the suspension waits (Bach's practice: the
    note of resolution is not heard against the suspension above the bass, and a leading
    tone so doubled would leave the resolution no way).
    """
    ch = tables.chord_at(t)
    out: set[int] = set()
    if ch is None:
        return out
    for u in range(_BASS):
        if u != v and _suspended(tables, grid, t, u):
            s = t if grid.decided[t, u] else t - 1
            out.update(r % 12 for r in resolution_pitches(ch, int(grid.pitch[s, u]), ch.static[u]))
    return out


def room_to_suspend(tables: "PlanTables", ch: ChordTable, v: int) -> bool:
    """Chord ``ch`` leaves ``voice`` room to hold a suspension over its onset and resolve it.

    The chord lasts an eighth at least, holds no fermata, and the voice is not given from
    its onset until the resolution is due. :func:`suspension_resolutions` and the reach
    look-ahead (which has no grid) both ask it.
    """
    t = ch.onset
    if ch.end - t < 2 or tables.fermata_hold[t + 1]:
        return False
    last = min(ch.end, t + SUSPENSION_STEPS + 1)  # the resolution comes by here
    return not np.count_nonzero(tables.forced[t:last, v] >= 0)


def suspension_resolutions(tables: "PlanTables", grid: GridState, t: int, v: int) -> list[int]:
    """MIDI pitches a HOLD of voice ``v`` at ``t`` commits it to resolve to ([]: the hold is no suspension).

    At a chord onset: a suspension *starts* when an upper voice holds, into the new chord,
    a note that was a chord tone until now (prepared) and is not a member of the new
    chord, where (the look-ahead that keeps it from starting with no way out) a chord
    tone lies a step below (:func:`resolution_pitches`), the chord lasts long enough to
    resolve (an eighth at least, no fermata), the voice is not given there, and no other
    upper voice sounds the resolution's pitch class (written already, or given there to
    be written later: infill's kept tenor on the leading tone under an alto that would
    resolve to it). Not in the bass (its pitch class is
    the plan's inversion). Inside the chord: the resolutions of the suspension still
    held. :class:`ChordTone`, :class:`Resolution` and :class:`Coverage` and the
    constraint's reach look-ahead read this one function.
    """
    ch = tables.chord_at(t)
    if ch is None or v == _BASS or t == 0:
        return []
    prev = int(grid.pitch[t - 1, v])
    if prev < 0 or ch.members[prev % 12]:
        return []
    if t == ch.onset:
        if grid.nct[t - 1, v] or not room_to_suspend(tables, ch, v):
            return []
        taken = pending_resolutions(tables, grid, t, v)
        for u, x in enumerate(grid.pitch[t, :_BASS].tolist()):  # the other upper voices: written, else given
            if u == v:
                continue
            pc = (x % 12 if x >= 0 else -1) if grid.decided[t, u] else tables.given_pc(t, u)
            if pc >= 0:
                taken.add(pc)
        return [r for r in resolution_pitches(ch, prev, ch.static[v]) if r % 12 not in taken]
    if grid.nct[t - 1, v] and int(grid.start[t - 1, v]) < ch.onset:  # held over from the chord before
        return resolution_pitches(ch, prev, ch.static[v])
    return []


class Here:
    """What the plan layers read about the position being written (built once per position)."""

    __slots__ = ("t", "v", "chord", "onset", "prev", "prev_nct", "grid", "tables")

    def __init__(self, tables: PlanTables, grid: GridState, t: int, v: int) -> None:
        self.t, self.v, self.grid, self.tables = t, v, grid, tables
        self.chord = tables.chord_at(t)
        self.onset = bool(tables.onset[t])
        self.prev = grid.previous(t, v)
        self.prev_nct = bool(grid.nct[t - 1, v]) if t > 0 and self.prev >= 0 else False

    @property
    def voice(self) -> str:
        return VOICES[self.v]

    def name(self, token: int) -> str:
        return token_name(token, self.chord.key if self.chord is not None else None)

    def sounding_name(self, token: int) -> str:
        """The pitch a token sounds (a hold: the held pitch)."""
        if token == HOLD:
            return f"the held {token_name(PITCH_OFFSET + self.prev, self.chord.key)}" if self.prev >= 0 else "a hold of nothing"
        return self.name(token)


def _attacks(pitches: np.ndarray, hold: bool, rest: bool = False) -> np.ndarray:
    mask = np.empty(VOCAB_SIZE, bool)
    mask[HOLD] = hold
    mask[REST] = rest
    mask[PITCH_OFFSET:] = pitches
    return mask


class PlanLayer:
    """A plan constraint with a reason: ``mask(here)`` -> bool[V] or None; ``why(here, token)`` -> str."""

    id: ClassVar[str] = "plan"

    def mask(self, here: Here) -> np.ndarray | None:  # pragma: no cover - interface
        raise NotImplementedError

    def why(self, here: Here, token: int) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def hold(self, here: Here) -> bool | None:
        """``mask(here)[HOLD]`` (None: no say), cheaper where a layer can answer for the hold alone."""
        m = self.mask(here)
        return None if m is None else bool(m[HOLD])


class NoChord(PlanLayer):
    id = "plan:no-chord"

    def mask(self, here: Here) -> np.ndarray | None:
        if here.chord is not None:
            return None
        m = np.zeros(VOCAB_SIZE, bool)
        m[REST] = True
        return m

    def why(self, here: Here, token: int) -> str:
        return "no chord is planned here: every voice rests"

    def hold(self, here: Here) -> bool | None:
        return None if here.chord is not None else False


class Fermata(PlanLayer):
    id = "plan:fermata"

    def mask(self, here: Here) -> np.ndarray | None:
        if here.chord is None or not here.tables.fermata_hold[here.t]:
            return None
        m = np.zeros(VOCAB_SIZE, bool)
        m[HOLD] = here.prev >= 0
        return m

    def why(self, here: Here, token: int) -> str:
        return f"the fermata chord {here.chord.figure} is held to its end"

    def hold(self, here: Here) -> bool | None:
        if here.chord is None or not here.tables.fermata_hold[here.t]:
            return None
        return here.prev >= 0


def _rest_reason(here: Here) -> str:
    return f"a voice sounds under every planned chord ({here.chord.figure})"


class ChordTone(PlanLayer):
    """At a chord onset: chord tones only, struck or held, or a prepared suspension held over.

    (A held non-chord tone is :class:`Resolution`'s; a suspension is :func:`suspension_resolutions`'.)
    """

    id = "plan:chord-tone"

    def mask(self, here: Here) -> np.ndarray | None:
        ch = here.chord
        if ch is None or not here.onset:
            return None
        pcs = ch.members.copy()
        if here.v != _BASS:  # not the pitch class a suspension above or below waits to resolve to
            pcs[list(pending_resolutions(here.tables, here.grid, here.t, here.v))] = False
        return _attacks(pcs[PITCH_PC], bool(self.hold(here)))

    def why(self, here: Here, token: int) -> str:
        if token == REST:
            return _rest_reason(here)
        if token == HOLD and here.prev < 0:
            return "nothing sounds to hold"
        if token == HOLD and here.prev_nct:
            return f"{here.sounding_name(token)} is a non-chord tone and cannot be held into {here.chord.figure}"
        if token == HOLD:
            return (f"{here.sounding_name(token)} is not a chord tone of {here.chord.figure} and cannot be held "
                    f"as a suspension here (no chord tone a step below it to resolve to, no time left in the chord, "
                    f"or another voice sounds the resolution)")
        p = token - PITCH_OFFSET
        if token >= PITCH_OFFSET and here.chord.members[p % 12]:
            return (f"{here.name(token)} is the note a suspension in another voice resolves to: "
                    f"not sounded against it")
        return f"{here.sounding_name(token)} is not a chord tone of {here.chord.figure} at an onset"

    def hold(self, here: Here) -> bool | None:
        if here.chord is None or not here.onset:
            return None
        if here.prev < 0:
            return False
        if here.chord.members[here.prev % 12]:
            return here.v == _BASS or here.prev % 12 not in pending_resolutions(here.tables, here.grid, here.t, here.v)
        return bool(suspension_resolutions(here.tables, here.grid, here.t, here.v))


class Bass(PlanLayer):
    """The bass sounds the inversion's pitch class (inside the chord, non-chord tones are :class:`Harmony`'s)."""

    id = "plan:bass"

    def mask(self, here: Here) -> np.ndarray | None:
        ch = here.chord
        if ch is None or here.v != _BASS:
            return None
        right = PITCH_PC == ch.spec.bass
        if here.onset:
            return _attacks(right, here.prev >= 0 and here.prev % 12 == ch.spec.bass)
        return _attacks(right | ~ch.members[PITCH_PC], True)

    def why(self, here: Here, token: int) -> str:
        ch = here.chord
        where = "at its onset" if here.onset else "inside the chord (or a passing or neighbour note)"
        return (f"the bass of {ch.figure} is its inversion's note {pc_name(ch.spec.bass)} {where}, "
                f"not {here.sounding_name(token)}")

    def hold(self, here: Here) -> bool | None:
        if here.chord is None or here.v != _BASS:
            return None
        return not here.onset or (here.prev >= 0 and here.prev % 12 == here.chord.spec.bass)


class PacSoprano(PlanLayer):
    id = "plan:pac-soprano"

    def mask(self, here: Here) -> np.ndarray | None:
        ch = here.chord
        if ch is None or here.v != 0 or not here.onset or not ch.pac:
            return None
        return _attacks(PITCH_PC == ch.spec.root, here.prev >= 0 and here.prev % 12 == ch.spec.root)

    def why(self, here: Here, token: int) -> str:
        return f"the soprano must take the tonic {pc_name(here.chord.spec.root)} at a perfect authentic cadence"

    def hold(self, here: Here) -> bool | None:
        if here.chord is None or here.v != 0 or not here.onset or not here.chord.pac:
            return None
        return here.prev >= 0 and here.prev % 12 == here.chord.spec.root


_DEGREE = {"root": "root", "third": "third", "seventh": "seventh"}


def _role(spec: ChordSpec, pc: int) -> str:
    for name in ("root", "third", "seventh"):
        if getattr(spec, name) == pc:
            return name
    return "tone"


class Coverage(PlanLayer):
    """Root, third and (in a seventh chord) seventh present once the sonority is complete.

    A pitch-class look-ahead over the upper voices still to write: with ``k`` required
    pitch classes missing and ``k`` voices free, the voice must take one of them.
    Voices given (forced) at this step count with their given notes.
    """

    id = "plan:coverage"

    def _missing(self, here: Here) -> tuple[list[int], int]:
        t, v, g, tables = here.t, here.v, here.grid, here.tables
        have: set[int] = set()
        free = 0
        row, decided = g.pitch[t].tolist(), g.decided[t].tolist()
        given = tables.forced_pitch[t]
        for u in range(3):  # upper voices; the bass brings the inversion's pc itself
            if u == v:
                continue
            if decided[u] and row[u] >= 0:
                if g.nct[t, u] and not g.attack[t, u]:  # a suspension counts by its resolution
                    have.update(r % 12 for r in resolution_pitches(here.chord, row[u], here.chord.static[u]))
                else:
                    have.add(row[u] % 12)
            elif tables.forced[t, u] >= 0 and given[u] >= 0:
                have.add(tables.given_pc(t, u))
            elif not decided[u] and tables.forced[t, u] < 0:
                free += 1
        return [pc for pc in here.chord.required if pc not in have], free

    def mask(self, here: Here) -> np.ndarray | None:
        ch = here.chord
        if ch is None or not here.onset or here.v == _BASS or not ch.required:
            return None
        missing, free = self._missing(here)
        if len(missing) <= free:
            return None
        ok = np.zeros(12, bool)
        if len(missing) == free + 1:
            ok[missing] = True
        held = here.prev >= 0 and (bool(ok[here.prev % 12]) or any(
            ok[r % 12] for r in suspension_resolutions(here.tables, here.grid, here.t, here.v)))
        return _attacks(ok[PITCH_PC], held)

    def why(self, here: Here, token: int) -> str:
        missing, free = self._missing(here)
        names = " and ".join(f"its {_role(here.chord.spec, pc)} {pc_name(pc)}" for pc in missing)
        left = f"only {free} other upper voice{'s' if free != 1 else ''} left" if free else "no other upper voice left"
        return f"{here.chord.figure} still needs {names}, with {left} to sound {'them' if len(missing) > 1 else 'it'}"


class Harmony(PlanLayer):
    """Inside a chord: a chord tone, or a passing or neighbour note (after a chord tone)."""

    id = "plan:harmony"

    def _nct_ok(self, here: Here) -> np.ndarray:
        """bool[128]: non-chord tones a passing or neighbour figure allows here."""
        ch, t, v, g, prev = here.chord, here.t, here.v, here.grid, here.prev
        ok = np.zeros(128, bool)
        if prev < 0 or here.prev_nct:
            return ok
        taken = {x % 12 for u, (x, d) in enumerate(zip(g.pitch[t].tolist(), g.decided[t].tolist()))
                 if u != v and d and x >= 0}
        resolvable = here.tables.resolvable(t, v)
        for d in _STEPS:
            p = prev + d
            if 0 <= p < 128 and ch.scale[p % 12] and not ch.members[p % 12] and p % 12 not in taken and resolvable[p]:
                ok[p] = True
        return ok

    def mask(self, here: Here) -> np.ndarray | None:
        ch = here.chord
        if ch is None or here.onset or here.tables.fermata_hold[here.t]:
            return None
        tones = ch.members.copy()
        if here.v != _BASS:  # not the pitch class a suspension in another voice waits to resolve to
            tones[list(pending_resolutions(here.tables, here.grid, here.t, here.v))] = False
        return _attacks(tones[PITCH_PC] | self._nct_ok(here), here.prev >= 0)

    def hold(self, here: Here) -> bool | None:
        if here.chord is None or here.onset or here.tables.fermata_hold[here.t]:
            return None
        return here.prev >= 0

    def why(self, here: Here, token: int) -> str:
        ch = here.chord
        if token == REST:
            return _rest_reason(here)
        if token == HOLD:
            return "nothing sounds to hold"
        p = token - PITCH_OFFSET
        what = f"{here.name(token)} is not a chord tone of {ch.figure}"
        if here.prev < 0:
            return f"{what}, and a non-chord tone needs a chord tone before it"
        if here.prev_nct:
            return f"{what}, and it follows a non-chord tone (one at a time)"
        if ch.members[p % 12]:
            return f"{here.name(token)} is the note a suspension in another voice resolves to: not sounded against it"
        if abs(p - here.prev) > 2:
            return f"{what} nor a passing or neighbour note (not a step from {here.name(PITCH_OFFSET + here.prev)})"
        if not ch.scale[p % 12]:
            return f"{what} nor a diatonic passing or neighbour note in {ch.key.name} {ch.key.mode}"
        if not here.tables.resolvable(here.t, here.v)[p]:
            return f"{what}, and no chord tone lies a step away to resolve to"
        return f"{what}, and another voice already sounds its pitch class"


class Resolution(PlanLayer):
    """A non-chord tone moves by step to a chord tone; inside the chord it may be held one more sixteenth.

    A suspension (held over from the chord before) resolves a step down to a chord tone
    (:func:`resolution_pitches`), held at most :data:`SUSPENSION_STEPS` sixteenths into
    its chord and always before the chord ends.
    """

    id = "plan:resolution"

    def mask(self, here: Here) -> np.ndarray | None:
        if here.chord is None or not here.prev_nct or here.tables.fermata_hold[here.t]:
            return None
        step = np.zeros(128, bool)
        if not here.onset and int(here.grid.start[here.t - 1, here.v]) < here.chord.onset:
            step[suspension_resolutions(here.tables, here.grid, here.t, here.v)] = True
        else:
            for d in _STEPS:
                if 0 <= here.prev + d < 128:
                    step[here.prev + d] = True
        return _attacks(step, bool(self.hold(here)))

    def hold(self, here: Here) -> bool | None:
        if here.chord is None or not here.prev_nct or here.tables.fermata_hold[here.t]:
            return None
        if here.onset:
            return False
        t, v, ch = here.t, here.v, here.chord
        if int(here.grid.start[t - 1, v]) < ch.onset:  # a suspension: held over from the chord before
            return t - ch.onset < SUSPENSION_STEPS and t + 1 < ch.end
        if not bool(here.tables.resolvable(t, v)[here.prev]):
            return False
        return t - int(here.grid.start[t - 1, v]) < 2

    def why(self, here: Here, token: int) -> str:
        nct = here.name(PITCH_OFFSET + here.prev)
        suspension = not here.onset and int(here.grid.start[here.t - 1, here.v]) < here.chord.onset
        if token == HOLD:
            if here.onset:
                return f"the non-chord tone {nct} must resolve by step into {here.chord.figure}"
            if suspension:
                return (f"the suspension {nct} must resolve now: at most {SUSPENSION_STEPS} sixteenths into "
                        f"{here.chord.figure}, and before it ends")
            return f"the non-chord tone {nct} is held at most one more sixteenth before it resolves"
        if suspension:
            return (f"the suspension {nct} resolves a step down to a chord tone of {here.chord.figure}, "
                    f"not to {here.sounding_name(token)}")
        return f"the non-chord tone {nct} must move by step to a chord tone, not to {here.sounding_name(token)}"


def default_plan_layers() -> list[PlanLayer]:
    """The plan layers in the order they are applied (cheapest, most decisive first)."""
    return [NoChord(), Fermata(), ChordTone(), Bass(), PacSoprano(), Resolution(), Harmony(), Coverage()]
