"""Propose a plan for a melody: one chord per beat, chosen by a small dynamic program.

The score of a harmonization adds, per beat, how well the chord fits the melody (the
note sounding on the beat must be a chord tone; the rest of the beat's notes should
mostly be) and, per pair of neighbouring chords, how well they follow each other by
harmonic function (tonic -> predominant -> dominant -> tonic, applied dominants to
their targets), with cadences at the melody's fermatas and at the end. Viterbi finds
the best path; a seeded Gumbel perturbation of the per-beat scores makes different
seeds propose different (still fitting) harmonies. Repeated chords merge into one
longer chord event, and a fermata note keeps one chord for its whole length.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from partimento.grammar.analysis import label_cadence
from partimento.grammar.errors import PlanError
from partimento.grammar.metre import STEPS_PER_QUARTER, parse_metre
from partimento.grammar.plan import ChordEvent, Phrase, Plan
from partimento.grammar.theory import ChordSpec, chord_spec

from partimento.neural.encoding import PITCH_OFFSET

from .melody import Melody

__all__ = ["CHORD_VOCABULARY", "propose_plan"]

#: figures the harmonizer may choose, with a prior log-weight (root position and plain triads first)
CHORD_VOCABULARY: dict[str, dict[str, float]] = {
    "major": {"I": 0.4, "ii": 0.0, "iii": -0.6, "IV": 0.3, "V": 0.4, "vi": 0.0, "I6": 0.0, "ii6": 0.1,
              "IV6": -0.3, "V6": -0.1, "vi6": -0.8, "viio6": -0.3, "V7": 0.1, "V65": -0.2, "V43": -0.3,
              "V42": -0.4, "ii65": -0.2, "ii7": -0.4, "V/V": -0.5, "V7/V": -0.6, "V65/V": -0.7,
              "V/vi": -0.8, "V/ii": -0.9, "V7/IV": -0.9},
    "minor": {"i": 0.4, "iio6": 0.1, "III": -0.4, "iv": 0.3, "V": 0.4, "VI": 0.0, "i6": 0.0, "iv6": -0.3,
              "V6": -0.1, "viio6": -0.3, "viio7": -0.4, "V7": 0.1, "V65": -0.2, "V43": -0.3, "V42": -0.4,
              "iiø65": -0.3, "V/III": -0.8, "V7/iv": -0.9, "V/V": -0.7, "VII": -0.8},
}
_FUNCTION_STEP = {  # log-weight of moving from one function to the next
    ("tonic", "tonic"): 0.0, ("tonic", "predominant"): 0.3, ("tonic", "dominant"): 0.2,
    ("predominant", "predominant"): 0.0, ("predominant", "dominant"): 0.6, ("predominant", "tonic"): -0.6,
    ("dominant", "tonic"): 0.6, ("dominant", "dominant"): -0.1, ("dominant", "predominant"): -1.5,
}
_OFF_CHORD_ONSET = -8.0  # a melody note on the beat that is not a chord tone
_NOISE = 0.2  # scale of the seeded Gumbel noise on per-beat scores


@dataclass(frozen=True)
class _Chord:
    figure: str
    spec: ChordSpec
    pcs: frozenset
    prior: float
    applied_target_root: int | None  # root an applied dominant resolves to


@lru_cache(maxsize=64)
def _vocabulary(key: str) -> tuple[_Chord, ...]:
    mode = "minor" if key[0].islower() else "major"
    out = []
    for fig, prior in CHORD_VOCABULARY[mode].items():
        try:
            spec = chord_spec(fig, key)
        except PlanError:
            continue
        target = (spec.root + 5) % 12 if "/" in fig else None
        out.append(_Chord(fig, spec, spec.pcs, prior, target))
    return tuple(out)


def _transition(a: _Chord, b: _Chord) -> float:
    if a.figure == b.figure:
        return -0.1
    if a.applied_target_root is not None:
        return 0.8 if b.spec.root == a.applied_target_root and b.spec.function != "other" else -2.0
    w = _FUNCTION_STEP.get((a.spec.function, b.spec.function), -0.3)
    if a.spec.root == b.spec.root and a.spec.pcs != b.spec.pcs:
        w -= 0.5
    return w


class _OuterVoices:
    """What the strict rules make of a chord change under a given melody step, as penalties.

    The soprano is fixed and the bass has one pitch class per chord, so some changes are
    unrealizable whatever the inner voices do: parallel fifths or octaves between the
    outer voices, hidden ones under a leaping soprano, a soprano leading tone or seventh
    that the melody does not resolve, a seventh in the bass without a step down.
    """

    def __init__(self, vocab: tuple[_Chord, ...]) -> None:
        from partimento.grammar.rules.chords import leading_tone_of
        from partimento.grammar.theory import key_info

        self.bass = np.array([c.spec.bass for c in vocab])
        self.root = np.array([c.spec.root for c in vocab])
        self.seventh = np.array([c.spec.seventh if c.spec.seventh is not None else -1 for c in vocab])
        lts = [leading_tone_of(c.spec, key_info(c.spec.key)) for c in vocab]
        self.lt = np.array([lt if lt is not None else -1 for lt in lts])
        self.members = np.zeros((len(vocab), 12), bool)
        for j, c in enumerate(vocab):
            self.members[j, list(c.pcs)] = True
        change = self.root[:, None] != self.root[None, :]
        bass_step_down = np.isin((self.bass[:, None] - self.bass[None, :]) % 12, (1, 2))
        self.static = np.where((self.seventh[:, None] == self.bass[:, None]) & change & ~bass_step_down, -8.0, 0.0)
        self.change = change

    def penalty(self, sa: int, sb: int) -> np.ndarray:
        """(V, V) penalties for going from chord a (soprano ``sa`` at its end) to chord b (soprano ``sb``)."""
        pen = self.static.copy()
        if sa < 0 or sb < 0:
            return pen
        bass_moves = self.bass[:, None] != self.bass[None, :]
        ia = ((sa - self.bass) % 12)[:, None]
        ib = ((sb - self.bass) % 12)[None, :]
        perfect_b = np.isin(ib, (0, 7))
        if sa != sb:
            pen += np.where((ia == ib) & perfect_b & bass_moves, -6.0, 0.0)
        if abs(sb - sa) > 2:
            pen += np.where(perfect_b & bass_moves & (ia != ib), -2.0, 0.0)
        to_tonic = self.root[None, :] == (self.lt[:, None] + 1) % 12
        if sb != sa + 1:
            pen += np.where((self.lt[:, None] == sa % 12) & to_tonic, -6.0, 0.0)
        if sa - sb not in (1, 2):
            held_ok = (sb == sa) & self.members[:, sb % 12][None, :]
            pen += np.where((self.seventh[:, None] == sa % 12) & self.change & ~held_ok, -6.0, 0.0)
        return pen


def _slots(mel: Melody) -> list[tuple[int, int]]:
    """Beat-long spans (steps) aligned to the barlines; the pickup forms its own slots."""
    metre = parse_metre(mel.metre)
    beat = int(metre.beat_quarters * STEPS_PER_QUARTER)
    pickup = int(round(mel.pickup * STEPS_PER_QUARTER))
    bounds = set(range(pickup, mel.steps, beat)) | set(range(pickup, -1, -beat)) | {0}
    bounds = sorted(b for b in bounds if 0 <= b < mel.steps) + [mel.steps]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def propose_plan(mel: Melody, grammar: str = "harmony", seed: int = 0) -> Plan:
    """A plan whose chords fit ``mel`` (see the module docstring)."""
    vocab = _vocabulary(mel.key)
    slots = _slots(mel)
    S, V = len(slots), len(vocab)
    rng = np.random.default_rng(seed)
    pcs = np.zeros((V, 12), bool)
    for j, c in enumerate(vocab):
        pcs[j, list(c.pcs)] = True
    fermata_slot = np.zeros(S, bool)
    inside_fermata = np.zeros(S, bool)  # a slot that starts under a held fermata note
    fermata_notes = []
    for f in mel.fermata_steps:
        end = f + 1
        while end < mel.steps and mel.tokens[end] == 0 and mel.pitch[end] == mel.pitch[f]:
            end += 1
        fermata_notes.append((f, end))
    emit = np.zeros((S, V))
    for s, (a, b) in enumerate(slots):
        on = int(mel.pitch[a])
        if on >= 0:
            emit[s] += np.where(pcs[:, on % 12], 1.0, _OFF_CHORD_ONSET)
        seg = mel.pitch[a:b]
        seg = seg[seg >= 0]
        if len(seg):
            emit[s] += 0.8 * pcs[:, seg % 12].mean(axis=1)
        emit[s] += np.array([c.prior for c in vocab])
        for f, end in fermata_notes:
            if a <= f < b:
                fermata_slot[s] = True
            if f < a < end:
                inside_fermata[s] = True
    final_attack = int(np.flatnonzero(mel.tokens >= PITCH_OFFSET)[-1])  # the last melody note keeps one chord
    for s, (a, b) in enumerate(slots):
        if a > final_attack:
            inside_fermata[s] = True
    is_tonic_root = np.array([c.spec.function == "tonic" and c.spec.inversion == 0 and c.spec.root == c.spec.bass
                              and c.figure.upper().startswith("I") and "/" not in c.figure for c in vocab])
    is_dom_root = np.array([c.figure in ("V", "V7") for c in vocab])
    last = S - 1
    while last > 0 and inside_fermata[last]:
        last -= 1
    emit[last] += np.where(is_tonic_root, 4.0, -4.0)
    if last > 0:
        emit[last - 1] += np.where(is_dom_root, 1.5, 0.0)
    for s in np.flatnonzero(fermata_slot):
        if s != last:
            emit[s] += np.where(is_tonic_root | is_dom_root, 1.0, -0.5)
    if S:
        emit[0] += np.where(is_tonic_root, 2.0, 0.0)
    emit += _NOISE * rng.gumbel(size=emit.shape)
    trans = np.array([[_transition(a, b) for b in vocab] for a in vocab])  # (V, V)
    outer = _OuterVoices(vocab)
    # Viterbi; slots under a held fermata must keep the chord
    score = emit[0].copy()
    back = np.zeros((S, V), np.int64)
    for s in range(1, S):
        if inside_fermata[s]:
            back[s] = np.arange(V)
            continue
        a0 = slots[s][0]
        total = score[:, None] + trans + outer.penalty(int(mel.pitch[a0 - 1]), int(mel.pitch[a0])) + emit[s][None, :]
        back[s] = np.argmax(total, axis=0)
        score = total[back[s], np.arange(V)]
    path = [int(np.argmax(score))]
    for s in range(S - 1, 0, -1):
        path.append(int(back[s, path[-1]]))
    path.reverse()
    return _plan_from_path(mel, slots, [vocab[j] for j in path], fermata_slot, grammar, seed)


def _plan_from_path(mel: Melody, slots, chords: list[_Chord], fermata_slot, grammar: str, seed: int) -> Plan:
    q = STEPS_PER_QUARTER
    events: list[ChordEvent] = []
    for (a, b), c, ferm in zip(slots, chords, fermata_slot):
        if events and events[-1].figure == c.figure and not events[-1].fermata and not ferm:
            events[-1].duration = (b / q) - events[-1].onset
            continue
        if events and events[-1].fermata and events[-1].figure == c.figure and not ferm:
            events[-1].duration = (b / q) - events[-1].onset  # the fermata chord lasts its note
            continue
        events.append(ChordEvent(onset=a / q, duration=(b - a) / q, figure=c.figure, key=mel.key,
                                 fermata=bool(ferm)))
    phrases: list[Phrase] = []
    start = 0.0
    ends = [i for i, e in enumerate(events) if e.fermata]
    if not ends or ends[-1] != len(events) - 1:
        ends.append(len(events) - 1)
    for i in ends:
        prev = events[i - 1].figure if i > 0 else None
        cad = label_cadence(prev, events[i].figure)
        events[i].cadence = cad
        for e in events:
            if start <= e.onset <= events[i].onset:
                e.phrase = len(phrases)
        phrases.append(Phrase(start, events[i].end, mel.key, cad))
        start = events[i].end
    plan = Plan(key=mel.key, metre=mel.metre, bars=mel.bars, pickup=mel.pickup, chords=events, phrases=phrases,
                grammar=f"{grammar} (melody harmonization)", seed=seed)
    return plan.validate()
