"""Constraint masks for the decoder: the plan's and the rules' say over the next token.

A token mask is ``bool[VOCAB_SIZE]`` over (HOLD, REST, attack of MIDI 0..127). It is the
AND of three kinds of constraint, cheapest first:

* **plan masks** (:class:`PlanMasks`), precomputed per chord and voice: chord tones of
  the plan chord at its onset, the inversion's pitch class in the bass, root and third
  present once the sonority is complete (a pitch-class look-ahead over the voices still
  to write), non-chord tones only as passing or neighbour notes (approached by step,
  left by step to a chord tone), fermata chords held, the soprano on the tonic at a
  perfect authentic cadence; on the step before an onset, soft look-aheads that give way
  rather than leave a voice no token: each upper voice keeps a legal move into the next
  chord within its neighbours' notes, the tenor leaves the bass room below it, and the
  soprano leaves the octave of the dominant's bass before a PAC;
* **voice geometry**, a single pitch interval per token: range, no crossing, no overlap
  with the previous sonority, spacing of an octave between adjacent upper voices;
* **rule masks** (:class:`RuleMasks`): every hard rule's decoder face
  ``Rule.allowed(state, voice)`` on a short window of the prefix. A held note is judged
  like the same pitch re-struck, so HOLD is allowed iff the rule allows the held pitch.

Everything in the per-token path works on small numpy integer/boolean arrays; music21
is touched once per chord (through :func:`partimento.grammar.theory.chord_spec`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.grammar.plan import Plan
from partimento.grammar.rules.base import Context, DecodeState, Rule, SonorityArray
from partimento.grammar.rules.masks import ALL, last_two
from partimento.grammar.rules.melodic import legal_moves
from partimento.grammar.theory import VOICE_RANGES, VOICES, ChordSpec, KeyInfo, key_info
from partimento.neural.encoding import HOLD, PITCH_OFFSET, REST, VOCAB_SIZE

__all__ = ["GridState", "ChordMasks", "PlanMasks", "RuleMasks", "MaskResult", "PITCH_PC", "GEOMETRY_RULES"]

SILENT = -1  # sounding pitch of a silent or undecided voice
PITCH_PC = np.arange(128) % 12  # pitch class of every MIDI number
_RANGES = np.array([VOICE_RANGES[v] for v in VOICES], dtype=np.int64)  # (4, 2) inclusive
_RANGE_ROWS = [tuple(r) for r in _RANGES.tolist()]
_SPACING = 12  # semitones allowed between adjacent upper voices (S-A, A-T)
_BASS = 3


@dataclass
class GridState:
    """The decoding prefix on the sixteenth grid, as the masks read it.

    Rows are steps, columns voices S, A, T, B. ``pitch`` is the pitch sounding after
    the voice's token at that step (SILENT where undecided or resting); ``attack`` is
    True where the token struck a note; ``nct`` marks a sounding non-chord tone;
    ``start`` is the step where the sounding note was struck.
    """

    pitch: np.ndarray  # (T, 4) int16
    attack: np.ndarray  # (T, 4) bool
    nct: np.ndarray  # (T, 4) bool
    start: np.ndarray  # (T, 4) int32
    decided: np.ndarray  # (T, 4) bool, the token at (t, v) has been chosen

    @classmethod
    def empty(cls, steps: int) -> "GridState":
        return cls(np.full((steps, 4), SILENT, np.int16), np.zeros((steps, 4), bool),
                   np.zeros((steps, 4), bool), np.full((steps, 4), -1, np.int32),
                   np.zeros((steps, 4), bool))

    def clear_from(self, step: int, voice: int) -> None:
        """Forget the tokens at (step, voice) and after (decoding order S, A, T, B)."""
        for arr, fill in ((self.pitch, SILENT), (self.attack, False), (self.nct, False),
                          (self.start, -1), (self.decided, False)):
            arr[step, voice:] = fill
            arr[step + 1:] = fill

    def previous(self, step: int, voice: int) -> int:
        """Pitch ``voice`` sounds just before ``step`` (SILENT at the start)."""
        return int(self.pitch[step - 1, voice]) if step > 0 else SILENT


@dataclass
class ChordMasks:
    """What one plan chord allows each voice, precomputed once per chord event."""

    spec: ChordSpec
    key: KeyInfo
    tones: np.ndarray  # (4, 128) bool: chord tones in range; the bass row holds only the inversion's pc
    tones_any: np.ndarray  # (4, 128) bool: any chord tone in range (bass re-attacks stay on its pc)
    nct: np.ndarray  # (4, 128) bool: diatonic non-chord tones in range
    pcs: np.ndarray  # (12,) bool chord pitch classes
    required: tuple[int, ...]  # pitch classes the upper voices must supply (root, third minus bass)
    tendency_ok: np.ndarray | None = None  # (4, 128) bool: False for a seventh / leading tone the next chord cannot resolve
    bass_next_ok: np.ndarray | None = None  # (128,) bool: bass pitches with a legal melodic step to the next chord's bass
    # set by PlanMasks once the two above are known: every pitch mask of this chord ANDs them
    allow_rows: list | None = None  # [voice][pitch] bool (lists): tendency_ok, and bass_next_ok for the bass
    tones_ok: np.ndarray | None = None  # tones & allow
    tones_any_ok: np.ndarray | None = None  # tones_any & allow


@dataclass
class MaskResult:
    """A token mask and, when it is empty, who emptied it."""

    mask: np.ndarray  # bool[VOCAB_SIZE]
    blocked_by: list[str]  # constraint names that removed the last candidates (diagnostics)


class PlanMasks:
    """Plan and voice-geometry constraints for every (step, voice) of one plan.

    ``forced`` (optional, (T, 4) tokens or -1) fixes tokens the user gave (a melody, the
    outside of an infill span); forced voices still count for the look-ahead and the
    geometry of the voices around them.
    """

    def __init__(self, plan: Plan, forced: np.ndarray | None = None) -> None:
        self.plan = plan
        self.steps = plan.steps
        self.chord_index = np.asarray(plan.chord_per_step(), dtype=np.int32)  # (T,)
        self.onset = np.zeros(self.steps, bool)
        self.fermata_hold = np.zeros(self.steps, bool)  # inside a fermata chord after its onset
        self.pac_soprano = np.full(self.steps, -1, np.int16)  # required soprano pc at a PAC onset
        self.chords: list[ChordMasks] = [self._chord_masks(c.spec) for c in plan.chords]
        for i, c in enumerate(plan.chords):
            a = int(round(c.onset * STEPS_PER_QUARTER))
            b = min(int(round(c.end * STEPS_PER_QUARTER)), self.steps)
            if 0 <= a < self.steps:
                self.onset[a] = True
                if c.cadence == "PAC":
                    self.pac_soprano[a] = c.spec.root
                    self.chords[i].tones[0] &= PITCH_PC == c.spec.root
            if c.fermata:
                self.fermata_hold[a + 1:b] = True
        # the soprano pitch class barred on the step before a PAC onset (see _cadence_approach)
        self.approach_barred = _cadence_approach(plan, self.steps, self.onset, self.pac_soprano)
        for i, cm in enumerate(self.chords):  # tendency tones must find their resolution in the next chord
            if i + 1 < len(self.chords):
                cm.tendency_ok = _tendency_ok(cm, self.chords[i + 1])
        self.forced = forced if forced is not None else np.full((self.steps, 4), -1, np.int64)
        self.forced_pitch = _forced_sounding(self.forced)
        for i in range(len(self.chords) - 2, -1, -1):  # and the bass a singable way on to the last chord
            a = int(round(plan.chords[i + 1].onset * STEPS_PER_QUARTER))
            given = int(self.forced_pitch[a, _BASS]) if 0 <= a < self.steps and self.forced[a, _BASS] >= 0 else None
            self.chords[i].bass_next_ok = _bass_next_ok(self.chords[i], self.chords[i + 1], given)
        self.next_onset_chord = np.full(self.steps, -1, np.int32)  # chord index at the next onset after each step
        nxt = -1
        for t in range(self.steps - 1, -1, -1):
            self.next_onset_chord[t] = nxt
            if self.onset[t]:
                nxt = int(self.chord_index[t])
        self._next_onset_step = np.full(self.steps, self.steps, np.int32)  # first onset after each step
        for t in range(self.steps - 2, -1, -1):
            self._next_onset_step[t] = t + 1 if self.onset[t + 1] else self._next_onset_step[t + 1]
        self._resolvable_rows: dict[tuple, list[bool]] = {}
        self._floors: dict[tuple, int] = {}  # (next chord, bass pitch, given bass) -> tenor floor
        self._ways_on: dict[tuple, np.ndarray] = {}  # see _continuation
        self._next_onset_list, self._chord_list = self._next_onset_step.tolist(), self.chord_index.tolist()
        for cm in self.chords:
            allow = np.ones((4, 128), bool) if cm.tendency_ok is None else cm.tendency_ok.copy()
            if cm.bass_next_ok is not None:
                allow[_BASS] &= cm.bass_next_ok
            cm.allow_rows, cm.tones_ok, cm.tones_any_ok = allow.tolist(), cm.tones & allow, cm.tones_any & allow
        # plain-list copies for the per-token geometry (indexing lists beats numpy scalars)
        self._forced_rows = self.forced_pitch.tolist()
        self._next_onset_rows = self.next_onset_chord.tolist()
        self._top_tone = [np.maximum.accumulate(np.where(cm.tones, np.arange(128), -1), axis=1).tolist()
                          for cm in self.chords]  # [chord][voice][p]: highest chord tone <= p, or -1

    def static_conflicts(self) -> list[tuple[int, int, str, str]]:
        """Plan chords whose bass note cannot be written at all: (chord index, voice, rule, why).

        The bass has one pitch class per chord, so a seventh in the bass that the next
        chord gives no step down to (``V2`` to a root-position tonic, say) makes the plan
        unrealizable before any note is chosen; so does a bass line with no singable
        path through the chords' bass notes in range (see :func:`_bass_next_ok`).
        """
        out = []
        for i, cm in enumerate(self.chords):
            if cm.tendency_ok is None or i + 1 >= len(self.chords):
                continue
            nxt = self.plan.chords[i + 1]
            if not (cm.tones[_BASS] & cm.tendency_ok[_BASS]).any():
                out.append((i, _BASS, "seventh-resolution",
                            f"the seventh of {self.plan.chords[i].figure} is in the bass and must fall by step, "
                            f"but the next chord {nxt.figure} has no bass note a step below it"))
            elif cm.bass_next_ok is not None and not (cm.tones[_BASS] & cm.tendency_ok[_BASS] & cm.bass_next_ok).any():
                a = int(round(self.plan.chords[i].onset * STEPS_PER_QUARTER))
                if 0 <= a < self.steps and self.forced[a, _BASS] < 0:
                    out.append((i, _BASS, "large-leap",
                                f"no bass note of {self.plan.chords[i].figure} in range leads on to {nxt.figure} "
                                f"and the chords after it without a seventh, a leap past the octave or an "
                                f"augmented interval"))
        return out

    @staticmethod
    def _chord_masks(spec: ChordSpec) -> ChordMasks:
        k = key_info(spec.key)
        pcs = np.zeros(12, bool)
        pcs[list(spec.members)] = True
        scale = np.zeros(12, bool)
        scale[list(k.scale)] = True
        tones = np.zeros((4, 128), bool)
        tones_any = np.zeros((4, 128), bool)
        nct = np.zeros((4, 128), bool)
        for v in range(4):
            lo, hi = _RANGES[v]
            inrange = np.zeros(128, bool)
            inrange[lo:hi + 1] = True
            tones_any[v] = inrange & pcs[PITCH_PC]
            tones[v] = tones_any[v] if v != _BASS else inrange & (PITCH_PC == spec.bass)
            if v == _BASS:  # bass re-attacks inside a chord keep the inversion's pitch class
                tones_any[v] = tones[v]
            nct[v] = inrange & scale[PITCH_PC] & ~pcs[PITCH_PC]
        required = tuple(sorted(pc for pc in spec.required if pc != spec.bass))
        return ChordMasks(spec, k, tones, tones_any, nct, pcs, required)

    # ------------------------------------------------------------------ geometry
    def interval(self, t: int, v: int, g: GridState) -> tuple[int, int]:
        """Inclusive pitch interval for ``voice`` at ``t``: range, crossing, spacing, overlap."""
        lo, hi = _RANGE_ROWS[v]
        row, decided, given = g.pitch[t].tolist(), g.decided[t].tolist(), self._forced_rows[t]
        for u in range(4):
            p = row[u] if decided[u] else given[u]
            if u == v or p < 0:
                continue
            if u < v:
                hi = min(hi, p)  # no crossing
                if u == v - 1 and v <= 2:
                    lo = max(lo, p - _SPACING)
            else:
                lo = max(lo, p)
                if u == v + 1 and u <= 2:
                    hi = min(hi, p + _SPACING)
        if t > 0:  # no overlap with the neighbours' previous notes
            before = g.pitch[t - 1].tolist()
            if v > 0 and before[v - 1] >= 0:
                hi = min(hi, before[v - 1])
            if v < 3 and before[v + 1] >= 0:
                lo = max(lo, before[v + 1])
        if v >= 1 and decided[v - 1]:  # leave the voice above room for the next chord (squeeze)
            u = v - 1
            top = row[u - 1] if u >= 1 and decided[u - 1] else _RANGE_ROWS[u][1]
            nxt = self._next_onset_rows[t]
            if nxt >= 0 and top >= 0:
                highest = self._top_tone[nxt][u][top]  # the next chord's highest tone for u up to top
                if highest >= 0 and highest >= lo:
                    hi = min(hi, highest)
        if t + 1 < self.steps:  # nor with the given (forced) next notes of the neighbours
            after = self._forced_rows[t + 1]
            if v > 0 and after[v - 1] >= 0:
                hi = min(hi, after[v - 1])
            if v < 3 and after[v + 1] >= 0:
                lo = max(lo, after[v + 1])
        return lo, hi

    # ------------------------------------------------------------------ plan
    def token_mask(self, t: int, v: int, g: GridState) -> MaskResult:
        """Plan and geometry mask for the token of ``voice`` at step ``t``."""
        mask = np.zeros(VOCAB_SIZE, bool)
        ci = self._chord_list[t]
        if ci < 0:  # no chord planned here: silence
            mask[REST] = True
            return MaskResult(mask, [])
        cm = self.chords[ci]
        prev = g.previous(t, v)
        prev_nct = bool(g.nct[t - 1, v]) if t > 0 else False
        lo, hi = self.interval(t, v, g)
        if lo > hi:
            return MaskResult(mask, ["voice-geometry"])
        if self.fermata_hold[t]:  # a fermata chord is held to its end
            mask[HOLD] = self._hold_ok(t, v, g, lo, hi)
            return MaskResult(mask, [] if mask[HOLD] else ["fermata"])
        pitches = mask[PITCH_OFFSET:]  # a view: the pitch part of the mask, filled in place
        allow = cm.allow_rows[v]  # tendency tones resolvable in the next chord, the bass on its way
        if self.onset[t]:
            pitches[lo:hi + 1] = cm.tones_ok[v, lo:hi + 1]
            if v == 0 and self.pac_soprano[t] >= 0:
                pitches &= PITCH_PC == self.pac_soprano[t]
            if v != _BASS and cm.required:
                pitches &= self._coverage(t, v, g, cm)[PITCH_PC]
            if prev_nct:  # a non-chord tone before the onset resolves by step into it
                step_ok = np.zeros(128, bool)
                for d in (-2, -1, 1, 2):
                    if 0 <= prev + d < 128:
                        step_ok[prev + d] = True
                pitches &= step_ok
            hold_ok = prev >= 0 and not prev_nct and bool(pitches[prev])
        elif prev_nct:  # a non-chord tone leaves by step to a chord tone
            hold_ok = self._hold_ok(t, v, g, lo, hi)
            for d in (-2, -1, 1, 2):
                p = prev + d
                if lo <= p <= hi and cm.tones_any_ok[v, p]:
                    pitches[p] = True
        else:
            hold_ok = self._hold_ok(t, v, g, lo, hi)
            pitches[lo:hi + 1] = cm.tones_any_ok[v, lo:hi + 1]
            if prev >= 0:  # passing or neighbour notes: by step from a chord tone, never doubled
                taken = {x % 12 for u, (x, d) in enumerate(zip(g.pitch[t].tolist(), g.decided[t].tolist()))
                         if u != v and d and x >= 0}
                resolvable = self._resolvable(t, v)
                for d in (-2, -1, 1, 2):
                    p = prev + d
                    if lo <= p <= hi and cm.nct[v, p] and p % 12 not in taken and resolvable[p] and allow[p]:
                        pitches[p] = True
        if self._before_onset(t, v):  # the last step before an onset
            way_on = self._continuation(t, v, g)  # a way on into the next chord
            if v == 2:  # and room for the bass below the tenor
                way_on[:self._tenor_floor(t, g)] = False
            kept = pitches & way_on
            if kept.any() or (hold_ok and way_on[prev]):  # else leave it: a neighbour may move instead
                pitches[:] = kept
                hold_ok = hold_ok and bool(way_on[prev])
        barred = self.approach_barred[t] if v == 0 else -1
        if barred >= 0:  # into a PAC: off the pitch class that makes octaves with the bass
            kept = pitches & (PITCH_PC != barred)
            if kept.any() or (hold_ok and prev % 12 != barred):  # else the bass must move instead: leave it
                pitches[:] = kept
                hold_ok = hold_ok and prev % 12 != barred
        mask[HOLD] = hold_ok
        blocked = [] if np.count_nonzero(mask) else [self._why_empty(t)]
        return MaskResult(mask, blocked)

    def hold_ok(self, t: int, v: int, g: GridState) -> bool | None:
        """``token_mask(t, v, g).mask[HOLD]`` without the rest of the mask; None at an onset.

        Most tokens inside a chord are holds the model is sure of, so the decoder asks
        this first and builds the whole mask only when the hold is refused.
        """
        if self.onset[t] or self._chord_list[t] < 0 or self._before_onset(t, v):
            return None  # (the PAC approach bar lies before an onset too)
        lo, hi = self.interval(t, v, g)
        return lo <= hi and self._hold_ok(t, v, g, lo, hi)

    def _before_onset(self, t: int, v: int) -> bool:
        """An upper voice on the step before an onset, where the soft look-aheads steer it."""
        return v < _BASS and t + 1 < self.steps and bool(self.onset[t + 1])

    def _hold_ok(self, t: int, v: int, g: GridState, lo: int, hi: int) -> bool:
        """Whether ``voice`` may hold its note at non-onset step ``t`` inside the interval [lo, hi]."""
        prev = g.previous(t, v)
        if prev < 0 or not lo <= prev <= hi:
            return False
        if self.fermata_hold[t]:
            return True
        if not self.chords[self._chord_list[t]].allow_rows[v][prev]:
            return False
        if g.nct[t - 1, v]:  # a non-chord tone is held at most one more sixteenth, then resolves
            return t - int(g.start[t - 1, v]) < 2 and self._resolvable(t, v)[prev]
        return True

    def _continuation(self, t: int, v: int, g: GridState) -> np.ndarray:
        """bool[128]: pitches from which upper ``voice``, on the step before an onset, can go on.

        Going on means a melodic move the hard rules accept (no augmented interval, no
        seventh or leap past the octave) to a note of the next chord that its
        neighbours leave room for: no higher than the note the voice above sounds now
        and no lower than the one below sounds (voice overlap), which is where most
        dead ends at an onset come from. Neighbours not yet written on this step are
        assumed to hold their notes, so the caller drops the restriction if it leaves
        nothing. Cached per (chord, voice, neighbours, given note).
        """
        n = t + 1

        def sounding(u: int) -> int:
            return int(g.pitch[t, u]) if g.decided[t, u] else g.previous(t, u)

        above = sounding(v - 1) if v > 0 else -1
        below = sounding(v + 1)
        given = int(self.forced_pitch[n, v]) if self.forced[n, v] >= 0 else -2
        key = (self._chord_list[n], v, above, below, given)
        row = self._ways_on.get(key)
        if row is None:
            cm = self.chords[key[0]]
            targets = np.zeros(128, bool)
            if given >= 0:
                targets[given] = True
            elif given == -2:
                targets[:] = cm.tones_ok[v]
            if above >= 0:
                targets[above + 1:] = False
            if below >= 0:
                targets[:below] = False
            q = np.flatnonzero(targets)
            if not len(q):
                row = np.ones(128, bool)  # nothing to aim at: leave it to the decoder
            else:
                row = legal_moves(cm.key.name)[:, q].any(axis=1)
            self._ways_on[key] = row
        return row.copy()

    def _tenor_floor(self, t: int, g: GridState) -> int:
        """Lowest tenor pitch on the step before an onset that leaves the bass a legal note there.

        The bass may not rise above the tenor's previous note (voice overlap), and from
        the note it sounds now it can reach only some of the next chord's bass notes (no
        augmented interval, no seventh or leap past the octave; see :func:`_bass_targets`).
        A tenor below all of them leaves the bass nothing at the onset, a dead end the
        decoder would otherwise find only there and pay for with a restart. The bass is
        assumed to hold its note to the onset (it is written after the tenor).
        """
        b = int(g.pitch[t, _BASS]) if g.decided[t, _BASS] else g.previous(t, _BASS)
        n = t + 1
        if b < 0 or self.forced[n, _BASS] >= 0 and self.forced_pitch[n, _BASS] < 0:
            return 0
        key = (self._chord_list[n], b, int(self.forced_pitch[n, _BASS]) if self.forced[n, _BASS] >= 0 else -1)
        floor = self._floors.get(key)
        if floor is None:
            targets = _bass_targets(self.chords[key[0]], key[2] if key[2] >= 0 else None)
            ok = targets & legal_moves(self.chords[key[0]].key.name)[b]
            floor = self._floors[key] = int(np.argmax(ok)) if ok.any() else 0
        return floor

    def is_nct(self, t: int, v: int, pitch: int) -> bool:
        """Whether ``pitch`` struck by ``voice`` at ``t`` is a non-chord tone of the plan chord."""
        ci = int(self.chord_index[t])
        return ci >= 0 and not self.chords[ci].pcs[pitch % 12]

    def _why_empty(self, t: int) -> str:
        if self.onset[t]:
            return "plan-chord-tones"
        return "plan-non-chord-tones"

    def _resolvable(self, t: int, v: int) -> list[bool]:
        """Per pitch: a non-chord tone there at ``t`` can step to a chord tone of this chord or the next onset's.

        It depends only on the chord here, the next onset's chord and whether a step of
        this chord is left, so rows are cached on that key.
        """
        nxt = self._next_onset_list[t]
        here = self._chord_list[t]
        there = self._chord_list[nxt] if nxt < self.steps else -1
        key = (here, there, nxt > t + 1, v)
        row = self._resolvable_rows.get(key)
        if row is None:
            lo, hi = _RANGES[v]
            targets = np.zeros(128, bool)
            if nxt > t + 1:  # a step left inside this chord: resolve to one of its tones
                targets |= self.chords[here].tones_any[v]
            if there >= 0:  # or into the next chord's onset
                targets |= self.chords[there].tones[v]
            targets[:lo] = targets[hi + 1:] = False
            res = np.zeros(128, bool)
            res[2:] |= targets[:-2]
            res[1:] |= targets[:-1]
            res[:-1] |= targets[1:]
            res[:-2] |= targets[2:]
            row = self._resolvable_rows[key] = res.tolist()
        return row

    def _coverage(self, t: int, v: int, g: GridState, cm: ChordMasks) -> np.ndarray:
        """bool[12]: pitch classes ``voice`` may take so that root and third can still appear."""
        have: set[int] = set()
        free = 0
        row, decided, given = g.pitch[t].tolist(), g.decided[t].tolist(), self._forced_rows[t]
        for u in range(3):  # upper voices; the bass brings the inversion's pc itself
            if u == v:
                continue
            if decided[u] and row[u] >= 0:
                have.add(row[u] % 12)
            elif self.forced[t, u] >= 0 and given[u] >= 0:
                have.add(given[u] % 12)
            elif not decided[u]:
                free += 1
        missing = [pc for pc in cm.required if pc not in have]
        ok = np.zeros(12, bool)
        if len(missing) <= free:
            ok[:] = True
        elif len(missing) == free + 1:
            ok[missing] = True
        return ok


def _cadence_approach(plan: Plan, steps: int, onset: np.ndarray, pac_soprano: np.ndarray) -> np.ndarray:
    """Per step: the soprano pitch class barred there because a PAC onset follows (-1: none).

    A perfect authentic cadence fixes both outer voices of its tonic (the root in the
    soprano and the bass), so a soprano that sounds, just before it, the same perfect
    interval class above the dominant's bass (its root doubled at the octave, in the
    usual V–I) can only go on in parallel or contrary octaves (or fifths). Seen only at
    the onset, that dead end costs the decoder a restart of the whole dominant.
    """
    barred = np.full(steps, -1, np.int16)
    index = plan.chord_per_step()
    for a in np.flatnonzero((pac_soprano >= 0) & onset).tolist():
        if a == 0 or index[a - 1] < 0 or index[a] < 0:
            continue
        here, there = plan.chords[index[a - 1]].spec, plan.chords[index[a]].spec
        ic = (int(pac_soprano[a]) - there.bass) % 12
        if ic in (0, 7) and here.bass != there.bass:
            barred[a - 1] = (here.bass + ic) % 12
    return barred


def _tendency_ok(cm: ChordMasks, nxt: ChordMasks) -> np.ndarray:
    """Which pitches of chord ``cm`` leave a resolution in ``nxt`` (seventh down by step, soprano leading tone up).

    Mirrors the checker's seventh-resolution and leading-tone-resolution rules, one chord
    ahead, so the decoder does not walk into a seventh or leading tone that the next
    plan chord cannot resolve.
    """
    ok = np.ones((4, 128), bool)
    spec, nspec = cm.spec, nxt.spec
    if spec.seventh is not None and spec.root != nspec.root:
        for v in range(4):
            for p in np.flatnonzero(PITCH_PC == spec.seventh):
                down = [q for q in (p - 1, p - 2) if 0 <= q < 128]
                stay = p % 12 in nspec.members and nxt.tones[v, p]
                ok[v, p] = stay or any(nxt.tones[v, q] for q in down)
    if spec.function == "dominant" and spec.third is not None and (spec.third - spec.root) % 12 == 4 \
            and nspec.root == (spec.third + 1) % 12:
        for p in np.flatnonzero(PITCH_PC == spec.third):
            ok[0, p] = p + 1 < 128 and bool(nxt.tones[0, p + 1])
    return ok


def _bass_next_ok(cm: ChordMasks, nxt: ChordMasks, given: int | None = None) -> np.ndarray:
    """Bass pitches of chord ``cm`` from which the next chord's bass note is reachable.

    Reachable means by a melodic interval the checker's large-leap and
    melodic-augmented-interval rules accept (the same interval table, in the next
    chord's key), landing on a bass note the next chord's tendency tones allow and
    from which, in turn, the chord after it is reachable (``nxt.bass_next_ok``, so
    chords are processed last to first). Without that chain a bass note two chords
    ahead that no path reaches (F to B in C major, say, where only F3 down to B2 is
    legal and in range) is found only at that chord, after a long backtrack. A bass
    note ``given`` at the next onset (infill; -1 a given rest) is the only target, as is.
    """
    q = np.flatnonzero(_bass_targets(nxt, given))
    ok = np.ones(128, bool)
    if not len(q):
        return ok  # nothing reachable either way: the static check reports it
    sources = np.flatnonzero(cm.tones_any[_BASS] | cm.nct[_BASS])
    ok[sources] = legal_moves(nxt.key.name)[np.ix_(sources, q)].any(axis=1)
    return ok


def _bass_targets(nxt: ChordMasks, given: int | None = None) -> np.ndarray:
    """bool[128]: bass notes the decoder may take at the onset of chord ``nxt`` (``given``: the one it must)."""
    if given is not None:
        targets = np.zeros(128, bool)
        targets[given] = given >= 0
        return targets
    targets = nxt.tones[_BASS] & (nxt.tendency_ok[_BASS] if nxt.tendency_ok is not None else True)
    if nxt.bass_next_ok is not None:
        targets = targets & nxt.bass_next_ok
    return targets


def _forced_sounding(forced: np.ndarray) -> np.ndarray:
    """Pitches the forced tokens sound at each step (-1 where not forced or silent)."""
    out = np.full(forced.shape, -1, np.int64)
    for v in range(forced.shape[1]):
        cur = -1
        for t in range(forced.shape[0]):
            tok = int(forced[t, v])
            if tok < 0:
                cur = -1
            elif tok == REST:
                cur = -1
            elif tok >= PITCH_OFFSET:
                cur = tok - PITCH_OFFSET
            out[t, v] = cur
    return out


class RuleMasks:
    """The hard rules' decoder faces over a short window of the decoding prefix.

    Sonorities are the steps where some voice strikes a note (plus the one being
    written). Rules see the last ``window`` of them with keys and plan chords, so the
    per-token cost does not grow with the length of the piece.
    """

    def __init__(self, rules: Sequence[Rule], plan: Plan, window: int = 4) -> None:
        self.rules = list(rules)
        self.window = window
        self._asked_all = range(len(self.rules))  # rule indices pitch_mask asks, without / with geometry applied
        self._asked_after_geometry = [i for i, r in enumerate(self.rules) if r.id not in GEOMETRY_RULES]
        metre = plan.metre_obj
        steps = plan.steps
        offsets = np.arange(steps) / STEPS_PER_QUARTER
        mb = [metre.measure_beat(o, plan.pickup) for o in offsets]
        self.offset = offsets.astype(np.float64)
        self.measure = np.array([m for m, _ in mb], np.int32)
        self.beat = np.array([b for _, b in mb], np.float64)
        idx = plan.chord_per_step()
        self.spec = [plan.chords[i].spec if i >= 0 else None for i in idx]
        self.key = [key_info(plan.chords[i].key) if i >= 0 else key_info(plan.key) for i in idx]
        fer = np.zeros(steps, bool)
        for c in plan.chords:
            if c.fermata:
                a = int(round(c.onset * STEPS_PER_QUARTER))
                fer[a:min(steps, int(round(c.end * STEPS_PER_QUARTER)))] = True
        self.fermata = fer
        self.row_steps: list[int] = []  # steps that are sonorities, in order (committed rows)
        self._cached_step = -1  # step whose window is cached (previous rows do not change within a step)
        self._cached: DecodeState | None = None

    def reset_from(self, t: int, g: GridState) -> None:
        """Drop committed rows at or after ``t`` (after a rewind); keep ``t`` if it still has an attack."""
        while self.row_steps and self.row_steps[-1] >= t:
            self.row_steps.pop()
        if g.attack[t].any():
            self.row_steps.append(t)
        self._cached_step = -1
        self._cached = None

    def invalidate(self) -> None:
        """Forget the cached window (a look-ahead wrote and erased notes it was built from)."""
        self._cached_step = -1
        self._cached = None

    def commit(self, t: int) -> None:
        """Record that step ``t`` is a sonority (some voice struck a note)."""
        if not self.row_steps or self.row_steps[-1] != t:
            self.row_steps.append(t)

    def state(self, t: int, g: GridState, visible: np.ndarray | None = None) -> DecodeState:
        """The window ending at step ``t`` (the sonority being written).

        Within one step only the last row changes, so the window is built once per step
        and its last row refreshed from ``g`` on later calls.
        """
        if visible is None and self._cached_step == t and self._cached is not None:
            son = self._cached.sonorities
            row = g.pitch[t].astype(np.int16)
            row[~g.decided[t]] = SILENT
            son.pitch[-1] = row
            son.attack[-1] = g.attack[t]
            return self._cached
        prev = [s for s in self.row_steps[-self.window:] if s < t][-(self.window - 1):]
        steps = prev + [t]
        pitch = g.pitch[steps].astype(np.int16)
        attack = g.attack[steps].copy()
        dec = g.decided[steps]
        pitch[~dec] = SILENT
        if visible is not None:  # only these notes are seen (judging given material on its own)
            hide = ~visible[steps]
            pitch[hide] = SILENT
            attack[hide] = False
        off = self.offset[steps]
        dur = np.diff(np.append(off, off[-1] + 1 / STEPS_PER_QUARTER))
        son = SonorityArray(pitch, attack, off, dur, self.measure[steps], self.beat[steps], self.fermata[steps])
        ctx = Context(keys=[self.key[s] for s in steps], chords=[self.spec[s] for s in steps])
        state = DecodeState(son, ctx)
        if visible is None:
            self._cached_step, self._cached = t, state
        return state

    def culprits(self, state: DecodeState, v: int, candidates: np.ndarray, names: Sequence[str]) -> set[int]:
        """Voices the named rules blame when ``voice`` takes each candidate pitch (for backjumping)."""
        last = state.index
        out: set[int] = set()
        wanted = set(names)
        for p in candidates[:8]:
            trial = state.with_pitch(v, int(p))
            for r in self.rules:
                if r.id not in wanted:
                    continue
                for viol in r.check(trial.sonorities, trial.ctx):
                    if viol.index == last:
                        out.update(VOICES.index(name) for name in viol.voices)
        return out

    def pitch_mask(self, state: DecodeState, v: int, geometry_applied: bool = False
                   ) -> tuple[np.ndarray, list[np.ndarray]]:
        """AND of every rule's ``allowed`` and the per-rule masks (for diagnostics).

        ``geometry_applied``: the candidates already passed :meth:`PlanMasks.interval`,
        which enforces exactly the range, crossing, spacing and overlap rules (same
        ranges, same pairs, at least as strict), so those rules are not asked again.
        """
        out = np.ones(128, bool)
        each = [ALL] * len(self.rules)
        state.last_rows = last_two(state)  # every rule reads the same two rows: convert them once
        try:
            for i in (self._asked_after_geometry if geometry_applied else self._asked_all):
                m = self.rules[i].allowed(state, v)
                if m is not ALL:  # the shared all-True mask changes nothing
                    m = np.asarray(m, bool)
                    out &= m
                    each[i] = m
        finally:
            state.last_rows = None
        return out, each

    def names(self) -> list[str]:
        return [r.id for r in self.rules]


#: checker rules that :meth:`PlanMasks.interval` enforces itself (see ``pitch_mask``)
GEOMETRY_RULES = frozenset({"range", "voice-crossing", "voice-overlap", "spacing"})
