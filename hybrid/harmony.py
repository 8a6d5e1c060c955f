"""Harmonize a melody like a musician: keys, chords and inversions chosen over the whole tune at once.

The search walks the melody slot by slot (a beat, or half a beat where the melody moves
in eighths; see :func:`~partimento.hybrid.harmony_model.slots_of`). A state is a local
key (the home key or a closely related one) and a chord in it, inversion included. A
path is scored with Bach's statistics (:mod:`partimento.hybrid.harmony_model`): how
chords follow one another or are held, how well each chord explains the melody note on
the slot and the notes inside it, where keys change (cheap after a fermata, dear inside a
phrase, and entered through a chord the old key shares: a pivot), and which chords stand
on fermatas. Viterbi finds the best path. On top of the statistics:

* **the whole melody**: the melody network (:mod:`partimento.hybrid.melody_net`, five
  bidirectional GRUs trained on the train chorales' sopranos with different seeds, their
  probabilities averaged) reads the tune in both
  directions and adds, per slot, its log-probabilities of each state's bass, root and
  local key; counting neighbours alone cannot hear where a phrase is heading. On the
  first 6 valid chorales it raised per-beat agreement with Bach from 41% to 50% (bass)
  and 52% to 63% (root), and the cadence key from 50% to 61%
  (``benchmarks/results/harmonize_vs_bach_valid_first6{,_ear}.json``). Its bass head is
  weighed :data:`NET_BASS` = 0.25: at full weight it counts root position a second time
  beside the root head, and over the 35 valid sopranos the harmonies stood in root position
  on 72% of beats (Bach 67%) with the bass stepping on 50% of its moves; at 0.25, 67% and
  53%, the bass interval histogram's overlap with Bach's .83 -> .86, for 2 points of
  per-beat bass agreement with Bach (51.6% -> 49.4%; the sweep:
  ``benchmarks/results/harmonize_net_bass_sweep_valid.json``). The ensemble of five that
  replaced the single network is surer where its members agree; with it the bass head is
  weighed 0.5: over the 35 valid sopranos per-beat agreement with Bach 49.4% -> 51.1%
  (bass) and 57.5% -> 59.0% (root), root position 68.9%, bass interval overlap .89
  (``benchmarks/results/harmonize_net_ensemble_valid.json``; at 1.0 root position reached
  71.6%, against the 72% limit). With the melody context weighed 0.75 (:data:`CONTEXT_WEIGHT`,
  was 0.5) and half the seeded noise (:data:`NOISE` 0.25), the bass head is weighed 0.75:
  over the 35 valid sopranos and seeds 0-2 the first plans' per-beat bass agreement with Bach
  51.5% -> 52.8%, root 60.6% -> 60.9%, the plans' root-position beats 66.7% -> 67.2%
  (``benchmarks/results/harmonize_search_weights_valid.json``, every row tried);
* **notes left for a rest**: a melody note followed by silence is in the chords under it
  (no non-chord-tone class ends in silence);

* **cadences**: each phrase end (:mod:`partimento.hybrid.phrases`) must land on a
  cadence in that phrase's local key, on a root-position tonic (PAC, IAC, plagal) or
  dominant (HC, Phrygian after iv6 in minor) or on vi / VI after V (deceptive);
  the last chord is the home tonic;
* **the outer voices**: a chord change that no inner voices can rescue under the given
  melody (parallel fifths or octaves with the bass, hidden ones under a leaping
  soprano, a soprano leading tone or seventh the melody does not resolve, a bass seventh
  with no step down) is penalized; a hidden fifth or octave under a leaping soprano is
  penalized lightly where the bass can move against the soprano, and as unrealizable where
  its only contrary move is a seventh (``iv6`` to ``V`` under a soprano falling into the
  fifth: on valid, 4 of the 19 plans the decoder refused);
* **chromatic notes steer**: they are scored like any note, so a raised fourth in the
  melody finds V/V, or the dominant key where it is that key's leading tone.

A seeded Gumbel perturbation of the per-slot scores makes different seeds propose
different (still fitting) harmonies. :func:`propose_plans` yields plan after plan: after
a plan that could not be realized, the next one avoids the chords around the spot that
failed. The same search, with all four voices observed, reads the harmony of an
existing score (:func:`analyse_grid`, used by infill).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

import numpy as np

from partimento.grammar.errors import PlanError
from partimento.grammar.metre import STEPS_PER_QUARTER, parse_metre
from partimento.grammar.plan import ChordEvent, Phrase, Plan
from partimento.grammar.theory import ChordSpec, chord_spec, key_info

from .harmony_model import RELATED_KEYS, SLOT_KINDS, HarmonyModel, Slot, load_model, related_key_names, slots_of
from .melody import Melody
from .phrases import PhraseEnd, phrase_ends

__all__ = ["StateSpace", "Harmonization", "propose_plan", "propose_plans", "analyse_grid", "cadence_label", "home_key"]

VOICE_WEIGHTS = (1.0, 0.8, 0.8, 1.2)  # weight of each observed voice's onset note (the bass names the inversion)
INNER_WEIGHT = 0.5  # weight of the notes attacked inside a slot
CONTEXT_WEIGHT = 0.75  # weight of the melody notes on the slots before and after
TRANSITION_WEIGHT = 1.0  # weight of the chord-transition log-probabilities against the melody's fit
KIND_WEIGHT = 1.0  # weight of which chords stand on downbeats, other beats, half beats
NOISE = 0.25  # scale of the seeded Gumbel noise on per-slot scores
NOT_A_CADENCE = -10.0  # a phrase end on a chord that makes no cadence
NOT_THE_SOUNDING_BASS = -8.0  # analysis of a grid: a chord on a beat whose bass is not the bass note sounding there
UNRESOLVABLE = -10.0  # a chord that leaves out a melody note the melody leaves for a rest (no class could resolve it)
NOT_HOME_AT_END = -10.0  # a last chord outside the home key
AVOID = -8.0  # a chord near a spot where an earlier plan could not be realized
HIDDEN_ONLY_WAY = -8.0  # a leaping soprano into a perfect interval where the bass's only way against it is a seventh
HIDDEN_AVOIDABLE = -2.0  # ... where the bass can move against the soprano (by a step to a sixth)
NET_BASS = 0.75  # weight of the melody network's bass log-probability (chosen on valid: module docstring)
NET_ROOT = 1.0  # ... of its chord-root log-probability
NET_KEY = 1.0  # ... of its local-key log-probability
KEY_CANDIDATES = 3  # keys of the melody's profile ranking that are harmonized to choose the home key
KEY_PRIOR = 4.0  # weight of the profile's key score against the harmonization's score per bar


@dataclass(frozen=True)
class StateSpace:
    """Every (local key, chord) the search may choose for one home key, as arrays over states."""

    home: str
    keys: tuple[str, ...]  # related keys, home first
    key_of: np.ndarray  # (N,) index into keys
    fig_of: np.ndarray  # (N,) index into the mode's vocabulary
    tonic: np.ndarray  # (N,) tonic pitch class of the state's key
    minor: np.ndarray  # (N,) bool
    specs: tuple[ChordSpec, ...]
    members: np.ndarray  # (N, 12) bool
    bass: np.ndarray  # (N,)
    root: np.ndarray  # (N,)
    seventh: np.ndarray  # (N,) -1 when none
    leading: np.ndarray  # (N,) leading tone the chord contains, -1 when none
    cadence_goal: np.ndarray  # (N,) 1 tonic, 2 dominant, 3 submediant (root position), 0 no cadence
    dominant: np.ndarray  # (N,) bool, V / V7 / vii° of its key (resolves to its tonic)
    pivot: np.ndarray  # (N, K) bool, the chord's pitch classes lie in key k's scale

    @property
    def size(self) -> int:
        return int(self.key_of.shape[0])


@lru_cache(maxsize=16)
def _space(home: str, model: HarmonyModel) -> StateSpace:
    from partimento.grammar.rules.chords import leading_tone_of

    keys = related_key_names(home)
    rows = []
    for ki, name in enumerate(keys):
        k = key_info(name)
        for fi, fig in enumerate(model.vocab[k.mode]):
            try:
                spec = chord_spec(fig, name)
            except PlanError:
                continue
            rows.append((ki, fi, k, spec))
    N = len(rows)
    members = np.zeros((N, 12), bool)
    goal = np.zeros(N, np.int64)
    dominant = np.zeros(N, bool)
    pivot = np.zeros((N, len(keys)), bool)
    scales = [set(key_info(n).scale) for n in keys]
    for i, (ki, fi, k, spec) in enumerate(rows):
        members[i, list(spec.members)] = True
        head = spec.figure
        root_pos = spec.bass == spec.root and "/" not in head
        if root_pos and (spec.root - k.tonic) % 12 == 0 and head in ("I", "i"):
            goal[i] = 1
        elif root_pos and (spec.root - k.tonic) % 12 == 7 and head in ("V", "V7"):
            goal[i] = 2
        elif root_pos and head in ("vi", "VI"):
            goal[i] = 3
        dominant[i] = "/" not in head and head.startswith(("V", "viio", "viiø")) and not head.startswith("VI")
        for kj, sc in enumerate(scales):
            pivot[i, kj] = set(spec.members) <= sc
    lts = [leading_tone_of(r[3], r[2]) for r in rows]
    return StateSpace(
        home, keys, np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
        np.array([r[2].tonic for r in rows]), np.array([r[2].is_minor for r in rows]), tuple(r[3] for r in rows),
        members, np.array([r[3].bass for r in rows]), np.array([r[3].root for r in rows]),
        np.array([r[3].seventh if r[3].seventh is not None else -1 for r in rows]),
        np.array([lt if lt is not None else -1 for lt in lts]), goal, dominant, pivot)


@lru_cache(maxsize=64)
def _transitions(home: str, model: HarmonyModel, kind: int, phrase_start: bool, into_fermata: bool) -> np.ndarray:
    """(N, N) log-scores of moving from state i (previous slot) to state j (this slot)."""
    sp = _space(home, model)
    ctx = "phrase_start" if phrase_start else "inside"
    kname = SLOT_KINDS[kind]
    home_mode = key_info(home).mode
    N = sp.size
    out = np.zeros((N, N))  # pairs across the modes lie in different keys: replaced below (np.empty could hold NaNs)
    same_key = sp.key_of[:, None] == sp.key_of[None, :]
    for m, mode in enumerate(("major", "minor")):
        lm = model.log[mode]
        table = lm["cadence"] if into_fermata else lm["change"]
        sel = np.flatnonzero(sp.minor == bool(m))
        f = sp.fig_of[sel]
        block = table[f[:, None], f[None, :]]  # rows: source fig, cols: target fig (same mode)
        out[np.ix_(sel, sel)] = block
    out += model.move[kname] + model.key_stay[ctx]
    diag = np.arange(N)
    out[diag, diag] = model.stay[kname] + model.key_stay[ctx]
    # key changes
    rel = np.asarray(model.key_relation[home_mode])[sp.key_of]  # (N,) by target key
    entry = np.array([model.log["minor" if sp.minor[j] else "major"]["entry"][sp.fig_of[j]] for j in range(N)])
    piv_yes, piv_no = model.pivot[ctx]
    pivot = np.where(sp.pivot[:, sp.key_of], piv_yes, piv_no)  # (N, N): source chord lies in the target key
    change = model.key_change[ctx] + model.move[kname] + rel[None, :] + entry[None, :] + pivot
    out = np.where(same_key, out, change)
    return out


class _OuterVoices:
    """What the strict rules make of a chord change under a given melody step, as penalties.

    The soprano is fixed and the bass has one pitch class per chord, so some changes are
    unrealizable whatever the inner voices do (see the module docstring).
    """

    def __init__(self, sp: StateSpace) -> None:
        self.sp = sp
        change = sp.root[:, None] != sp.root[None, :]
        step_down = np.isin((sp.bass[:, None] - sp.bass[None, :]) % 12, (1, 2))
        self.static = np.where((sp.seventh[:, None] == sp.bass[:, None]) & change & ~step_down, -8.0, 0.0)
        self.change = change
        self.bass_moves = sp.bass[:, None] != sp.bass[None, :]
        self.up = (sp.bass[None, :] - sp.bass[:, None]) % 12  # (N, N) semitones from chord a's bass up to chord b's
        self.to_tonic = sp.root[None, :] == (sp.leading[:, None] + 1) % 12
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def penalty(self, sa: int, sb: int) -> np.ndarray:
        """(N, N) penalties for chord a (soprano ``sa`` at its end) to chord b (soprano ``sb``)."""
        hit = self._cache.get((sa, sb))
        if hit is not None:
            return hit
        sp = self.sp
        pen = self.static.copy()
        if sa >= 0 and sb >= 0:
            ia = ((sa - sp.bass) % 12)[:, None]
            ib = ((sb - sp.bass) % 12)[None, :]
            perfect_b = np.isin(ib, (0, 7))
            if sa != sb:
                pen += np.where((ia == ib) & perfect_b & self.bass_moves, -6.0, 0.0)
            if abs(sb - sa) > 2:  # a leaping soprano into a perfect interval: the bass must move against it
                into = perfect_b & self.bass_moves & (ia != ib)
                against = (-self.up) % 12 if sb > sa else self.up  # (N, N) semitones of the bass's contrary move
                pen += np.where(into, np.where(np.isin(against, (10, 11)), HIDDEN_ONLY_WAY, HIDDEN_AVOIDABLE), 0.0)
            if sb != sa + 1:
                pen += np.where((sp.leading[:, None] == sa % 12) & self.to_tonic, -6.0, 0.0)
            if sa - sb not in (1, 2):
                held_ok = (sb == sa) & sp.members[:, sb % 12][None, :]
                pen += np.where((sp.seventh[:, None] == sa % 12) & self.change & ~held_ok, -6.0, 0.0)
        self._cache[(sa, sb)] = pen
        return pen


@dataclass
class Harmonization:
    """A path through the states: one state per slot, with the slots and the phrase ends it was made for."""

    space: StateSpace
    slots: list[Slot]
    path: list[int]  # state per slot
    phrase_end_slots: list[int]  # slot index of each phrase's cadence chord
    held: np.ndarray  # (S,) bool, the slot keeps the chord before it (a held cadence note, after the last note)
    phrase_start: np.ndarray  # (S,) bool, a new phrase starts here
    score: float


class _Search:
    """Scores for one melody (or one score's voices) over the state space, and the Viterbi over them."""

    def __init__(self, model: HarmonyModel, home: str, pitch: np.ndarray, attack: np.ndarray, voices: tuple[int, ...],
                 metre: str, pickup: float, ends: list[PhraseEnd], seed: int, outer: bool,
                 split_by: tuple[int, ...] = (0,), net=None) -> None:
        self.model = model
        self.sp = _space(home, model)
        self.home = home
        T = pitch.shape[0]
        q = STEPS_PER_QUARTER
        m = parse_metre(metre)
        half = attack[:, list(split_by)].any(axis=1)  # a slot splits where these voices move in eighths
        self.slots = slots_of(T, m, int(round(pickup * q)), half)
        starts = np.array([s.start for s in self.slots])
        S, N = len(self.slots), self.sp.size
        self.held = np.zeros(S, bool)  # keeps the chord of the slot before (a held cadence note, the end)
        self.end_slot = []
        for e in ends:
            j = int(np.searchsorted(starts, e.step, side="right")) - 1
            self.end_slot.append(j)
            self.held |= (starts > e.step) & (starts < e.stop)
        self.held |= starts > ends[-1].step
        self.phrase_start = np.zeros(S, bool)
        for j in self.end_slot[:-1]:
            k = j + 1
            while k < S and self.held[k]:
                k += 1
            if k < S:
                self.phrase_start[k] = True
        self.emit = self._emissions(pitch, attack, voices)
        if net is not None:
            self.emit += self._ear(net, pitch[:, 0], attack[:, 0])
        rng = np.random.default_rng(seed)
        self.emit += NOISE * rng.gumbel(size=(S, N))
        self.pitch, self.outer = pitch, outer
        self.outer_voices = _OuterVoices(self.sp) if outer else None

    def _emissions(self, pitch: np.ndarray, attack: np.ndarray, voices: tuple[int, ...]) -> np.ndarray:
        sp, model = self.sp, self.model
        S, N = len(self.slots), sp.size
        emit = np.zeros((S, N))
        modes = [(np.flatnonzero(~sp.minor), model.log["major"]), (np.flatnonzero(sp.minor), model.log["minor"])]
        for s, sl in enumerate(self.slots):
            for sel, lm in modes:
                f, tonic = sp.fig_of[sel], sp.tonic[sel]
                total = np.zeros(len(sel))
                for v in voices:
                    p = int(pitch[sl.start, v])
                    if p >= 0:
                        total += VOICE_WEIGHTS[v] * lm["onset"][v, f, (p - tonic) % 12]
                    for t in range(sl.start + 1, sl.stop):
                        if attack[t, v] and pitch[t, v] >= 0:
                            total += INNER_WEIGHT * lm["inner"][v, f, (int(pitch[t, v]) - tonic) % 12]
                if 0 in voices:  # the melody around the slot: where it comes from and goes to
                    for d, table in ((1, "next"), (-1, "prev")):
                        if 0 <= s + d < S and pitch[self.slots[s + d].start, 0] >= 0:
                            total += CONTEXT_WEIGHT * lm[table][f, (int(pitch[self.slots[s + d].start, 0]) - tonic) % 12]
                total += KIND_WEIGHT * lm["kind"][sl.kind, f]
                emit[s, sel] = total
            if 3 in voices and sl.kind < 2 and pitch[sl.start, 3] >= 0:  # the bass on a beat names the inversion
                # (a suspension above can make the notes look like another chord: F over E-flat G B-flat is IV, not I6)
                emit[s] += np.where(sp.bass == int(pitch[sl.start, 3]) % 12, 0.0, NOT_THE_SOUNDING_BASS)
        if 0 in voices:
            emit += self._before_rests(pitch[:, 0], attack[:, 0])
        for sel, lm in modes:
            f = sp.fig_of[sel]
            emit[0, sel] += lm["start"][f]
            for j in self.end_slot:
                emit[j, sel] += lm["final" if j == self.end_slot[-1] else "fermata"][f]
        for j in self.end_slot:
            emit[j] += np.where(sp.cadence_goal > 0, 0.0, NOT_A_CADENCE)
        emit[self.end_slot[-1]] += np.where((sp.key_of == 0) & (sp.cadence_goal == 1), 0.0, NOT_HOME_AT_END)
        emit[0] += np.where(sp.key_of == 0, 0.0, NOT_HOME_AT_END / 2)
        return emit

    def _before_rests(self, melody: np.ndarray, struck: np.ndarray) -> np.ndarray:
        """(S, N) :data:`UNRESOLVABLE` for chords that leave out a melody note sounding in the slot
        that the melody leaves for a rest or the end: a non-chord tone there is none of the classes
        (each resolves or moves on to a note), so the harmony must take it in."""
        sp = self.sp
        T = melody.shape[0]
        out = np.zeros((len(self.slots), sp.size))
        nxt = np.append(melody[1:], -1)  # (T,) the pitch one step later (-1: a rest or the end)
        last = (melody >= 0) & (nxt < 0)  # (T,) the last step of a note left for a rest
        if not last.any():
            return out
        note_end = np.full(T, -1, np.int64)  # (T,) the last step of the note sounding at t, where that note ends in a rest
        for t in range(T - 1, -1, -1):
            if last[t]:
                note_end[t] = t
            elif melody[t] >= 0 and t + 1 < T and not struck[t + 1] and melody[t + 1] == melody[t] and note_end[t + 1] >= 0:
                note_end[t] = note_end[t + 1]
        for s, sl in enumerate(self.slots):
            pcs = {int(melody[t]) % 12 for t in range(sl.start, sl.stop) if note_end[t] >= 0}
            for pc in pcs:
                out[s] += np.where(sp.members[:, pc], 0.0, UNRESOLVABLE)
        return out

    def _ear(self, net, soprano: np.ndarray, struck: np.ndarray) -> np.ndarray:
        """(S, N) the melody network's log-probabilities of each state's bass, root and local key."""
        from .melody_net import predict, slot_features

        sp = self.sp
        tonic = key_info(self.home).tonic
        lp = predict(net, slot_features(soprano, struck, self.slots, self.end_slot, self.home))
        return (NET_BASS * lp["bass"][:, (sp.bass - tonic) % 12] + NET_ROOT * lp["root"][:, (sp.root - tonic) % 12]
                + NET_KEY * lp["key"][:, sp.key_of])

    def best(self, avoid: np.ndarray | None = None) -> Harmonization:
        """The Viterbi path; ``avoid`` (S, N) adds penalties (chords that failed before)."""
        S, N = self.emit.shape
        emit = self.emit if avoid is None else self.emit + avoid
        score = emit[0].copy()
        back = np.zeros((S, N), np.int64)
        ends = set(self.end_slot)
        for s in range(1, S):
            if self.held[s]:
                back[s] = np.arange(N)
                score = score + emit[s]
                continue
            sl = self.slots[s]
            trans = _transitions(self.home, self.model, sl.kind, bool(self.phrase_start[s]), s in ends)
            total = score[:, None] + TRANSITION_WEIGHT * trans
            if self.outer_voices is not None:
                total = total + self.outer_voices.penalty(int(self.pitch[sl.start - 1, 0]), int(self.pitch[sl.start, 0]))
            if s in ends:
                total = total + self._cadence_pairs(s)
            back[s] = np.argmax(total, axis=0)
            score = total[back[s], np.arange(N)] + emit[s]
        path = [int(np.argmax(score))]
        best = float(score[path[0]])
        for s in range(S - 1, 0, -1):
            path.append(int(back[s, path[-1]]))
        path.reverse()
        return Harmonization(self.sp, self.slots, path, list(self.end_slot), self.held, self.phrase_start, best)

    def _cadence_pairs(self, s: int) -> np.ndarray:
        """(N, N): 0 where chord i then j makes a cadence in j's key, else NOT_A_CADENCE (PAC/IAC/PC/HC/DC)."""
        sp = self.sp
        same_key = sp.key_of[:, None] == sp.key_of[None, :]
        held = np.eye(sp.size, dtype=bool)
        goal = sp.cadence_goal[None, :]
        predominant_or_dominant = np.array([s_.function in ("dominant", "predominant") for s_ in sp.specs])
        ok = (goal == 2) | held  # a half cadence may follow anything; a held chord keeps its cadence
        ok |= (goal == 1) & same_key & (sp.dominant[:, None] | predominant_or_dominant[:, None])
        ok |= (goal == 3) & same_key & sp.dominant[:, None]
        return np.where(ok, 0.0, NOT_A_CADENCE)


def _plan_from(h: Harmonization, home: str, metre: str, pickup: float, bars: int, steps: int,
               soprano: np.ndarray | None, fermata_steps: list[int], grammar: str, seed: int) -> Plan:
    q = STEPS_PER_QUARTER
    sp = h.space
    ferm_slots = set()
    starts = [s.start for s in h.slots]
    for f in fermata_steps:
        ferm_slots.add(int(np.searchsorted(starts, f, side="right")) - 1)
    end_set = set(h.phrase_end_slots)
    events: list[ChordEvent] = []
    ev_state: list[int] = []
    phrase = 0
    for j, (sl, st) in enumerate(zip(h.slots, h.path)):
        if h.phrase_start[j]:
            phrase += 1
        new = not events or st != ev_state[-1] or j in ferm_slots or j in end_set or bool(h.phrase_start[j])
        if new and not h.held[j]:
            spec = sp.specs[st]
            events.append(ChordEvent(onset=sl.start / q, duration=(sl.stop - sl.start) / q, figure=spec.figure,
                                     key=spec.key, fermata=j in ferm_slots, phrase=phrase))
            ev_state.append(st)
        else:
            events[-1].duration = sl.stop / q - events[-1].onset
    for e in events:  # chords tile the piece
        e.duration = round(e.duration, 6)
    phrases: list[Phrase] = []
    for p in range(phrase + 1):
        idx = [i for i, e in enumerate(events) if e.phrase == p]
        last = events[idx[-1]]
        prev = events[idx[-2]] if len(idx) > 1 else None
        sop = int(soprano[int(round(last.onset * q))]) if soprano is not None else -1
        last.cadence = cadence_label(prev, last, sop)
        phrases.append(Phrase(events[idx[0]].onset, last.end, last.key, last.cadence))
    plan = Plan(key=home, metre=metre, bars=bars, pickup=pickup, chords=events, phrases=phrases,
                grammar=grammar, seed=seed)
    return plan.validate()


def cadence_label(prev: ChordEvent | None, last: ChordEvent, soprano: int = -1) -> str | None:
    """The cadence a phrase's last two chords make in the last chord's key (None: no cadence).

    Root-position V(7) to a root-position tonic with the tonic in the soprano is a PAC;
    other dominants to the tonic, or the tonic in the soprano missing, an IAC; IV/iv to
    the tonic a plagal cadence (PC); ending on V a half cadence (HC, the Phrygian iv6-V
    included); V to vi/VI a deceptive one (DC).
    """
    spec = last.spec
    k = key_info(last.key)
    p = prev.spec if prev is not None and prev.key == last.key else None
    rel = (spec.root - k.tonic) % 12
    root_pos = spec.bass == spec.root
    fig = last.figure
    if "/" in fig:
        return "HC"
    if rel == 0 and spec.third is not None and fig.upper().startswith("I") and not fig.upper().startswith("IV"):
        if p is not None and p.function == "dominant" and (p.root - k.tonic) % 12 in (7, 11) and "/" not in p.figure:
            if root_pos and p.figure in ("V", "V7") and soprano >= 0 and soprano % 12 == k.tonic:
                return "PAC"
            return "IAC"
        if p is not None and (p.root - k.tonic) % 12 == 5:
            return "PC"
        return "IAC"
    if rel == 7 and spec.function == "dominant":
        return "HC"
    if rel in (8, 9) and p is not None and p.function == "dominant" and "/" not in p.figure:
        return "DC"
    return None


def _melody_search(mel: Melody, seed: int, model: HarmonyModel, key: str) -> _Search:
    pitch = np.full((mel.steps, 4), -1, np.int64)
    attack = np.zeros((mel.steps, 4), bool)
    pitch[:, 0] = mel.pitch
    attack[:, 0] = mel.tokens >= 2
    from .melody_net import load_net

    return _Search(model, key, pitch, attack, (0,), mel.metre, mel.pickup, phrase_ends(mel), seed, outer=True,
                   net=load_net())


def home_key(mel: Melody, *, seed: int = 0, model: HarmonyModel | None = None) -> str:
    """The melody's key: the given one, else the likeliest of the keys it admits as harmonized.

    Each of the :data:`KEY_CANDIDATES` keys the melody's profile ranks first is harmonized,
    and the one whose best harmonization scores highest (plus :data:`KEY_PRIOR` times its
    profile score) wins: a melody is in the key whose harmony explains it best.
    """
    if mel.key_source == "given" or not mel.key_ranking:
        return mel.key
    model = model or load_model()
    best, best_score = mel.key, -np.inf
    for key, prior in mel.key_ranking[:KEY_CANDIDATES]:
        score = _melody_search(mel, seed, model, key).best().score / max(1, mel.bars) + KEY_PRIOR * prior
        if score > best_score:
            best, best_score = key, score
    return best


def propose_plans(mel: Melody, *, grammar: str = "harmony", seed: int = 0,
                  model: HarmonyModel | None = None) -> Iterator[tuple[Plan, "PlanFeedback"]]:
    """Plans for ``mel``, best first: each comes with a feedback object; call ``feedback.failed_at(step)``
    when the plan could not be realized there, and the next plan avoids the chords around that step."""
    model = model or load_model()
    search = _melody_search(mel, seed, model, mel.key)
    avoid = np.zeros_like(search.emit)
    seen: set[tuple[int, ...]] = set()
    while True:
        h = search.best(avoid)
        key = tuple(h.path)
        if key in seen:  # the penalties no longer change the path: push harder where it failed
            avoid *= 2.0
            h = search.best(avoid)
            key = tuple(h.path)
            if key in seen:
                return
        seen.add(key)
        plan = _plan_from(h, mel.key, mel.metre, mel.pickup, mel.bars, mel.steps, mel.pitch, mel.fermata_steps,
                          f"{grammar} (melody harmonization)", seed)
        fb = PlanFeedback(h, avoid)
        yield plan, fb


@dataclass
class PlanFeedback:
    """Tells the search where a plan failed, so that the next plan avoids the chords around it."""

    harmonization: Harmonization
    avoid: np.ndarray  # (S, N), shared with the search

    def failed_at(self, step: int | None, voice: str | None = None) -> None:
        """The plan could not be realized at grid ``step`` (None: somewhere), ``voice`` named by the error.

        The chords of the slots around the step are avoided next time. Where the bass was
        the voice that found no note, every chord with the same bass pitch class in that
        slot is avoided too: the up-front refusal ("no bass note of iv6 can go on into V")
        is about the bass's pitch class, and the next-best plan otherwise tends to bring it
        back under another figure (iv6, IV6, iv65 over one bass note: three plans spent).
        """
        h = self.harmonization
        starts = np.array([s.start for s in h.slots])
        if step is None:
            js = range(len(h.slots))
        else:
            j = int(np.searchsorted(starts, step, side="right")) - 1
            js = range(max(0, j - 2), min(len(h.slots), j + 2))
            if voice == "bass" and j >= 0:  # the failed chord itself is avoided with its neighbours below
                bass = h.space.bass
                same = bass == bass[h.path[j]]
                same[h.path[j]] = False
                self.avoid[j, same] += AVOID
        for j in js:
            self.avoid[j, h.path[j]] += AVOID


def propose_plan(mel: Melody, grammar: str = "harmony", seed: int = 0) -> Plan:
    """The best plan for ``mel`` (see the module docstring)."""
    plan, _ = next(propose_plans(mel, grammar=grammar, seed=seed))
    return plan


def analyse_grid(pitch: np.ndarray, attack: np.ndarray, key: str, metre: str, pickup: float, bars: int,
                 fermata_steps: list[int], *, seed: int = 0, model: HarmonyModel | None = None,
                 grammar: str = "analysis") -> Plan:
    """The harmony of an existing four-voice grid (pitch, attack: (T, 4)) as a plan, by the same search.

    All four voices are observed; phrases end at the fermatas (and at the end).
    """
    model = model or load_model()
    T = pitch.shape[0]
    sop_att = np.flatnonzero(attack[:, 0])
    any_att = np.flatnonzero(attack.any(axis=1))
    ends = []
    for f in sorted(fermata_steps):
        stop = f + 1
        while stop < T and not attack[stop].any():
            stop += 1
        ends.append(PhraseEnd(f, stop, "fermata"))
    last = int(sop_att[-1]) if len(sop_att) else int(any_att[-1])
    if not ends or ends[-1].step < last:
        ends.append(PhraseEnd(last, T, "end"))
    search = _Search(model, key, pitch, attack, (0, 1, 2, 3), metre, pickup, ends, seed, outer=False, split_by=(0, 3))
    h = search.best()
    return _plan_from(h, key, metre, pickup, bars, T, pitch[:, 0], list(fermata_steps), grammar, seed)
