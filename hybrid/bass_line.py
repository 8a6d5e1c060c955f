"""The bass as a line: choose the inversions a plan leaves open, for the whole line at once.

A plan chord with ``inversion_open`` names the harmony and leaves its bass to the realizer
(:class:`~partimento.grammar.plan.ChordEvent`). :func:`plan_bass_line` fixes every open
chord before decoding, by dynamic programming (Viterbi) over the chords: a state is the
bass note at the chord's onset (a MIDI pitch in the bass range on the pitch class the
inversion puts there) with how the line arrived at it; a path costs the sum of

* **move** per chord change: ``-ln P`` of the kind of the bass's move at Bach's chord
  changes given how it arrived (after a step: a step on 37%, a leap back 25%, a step back
  only 10%; after a leap: a leap or a step back), times the size of the move given its kind
  and direction (a step by semitone or whole tone; a leap up mostly a fourth or third, a
  leap down a third or fifth; sixths, octaves and sevenths dear), with a calibration per
  signed size (``size_bias``: the cheapest line is not a sample, so the costs alone leave
  the line short of Bach's rising semitones and long in thirds), and no move the melodic
  rules forbid (:func:`partimento.grammar.rules.melodic.legal_moves`: augmented
  intervals, sevenths, leaps past the octave);
* **inversion** per chord: ``-ln P`` of root position / first / third inversion in Bach;
  a six-four chord only as a passing (step in, step on in the same direction: priced
  between a first inversion and Bach's six-fours overall) or a pedal or cadential one (the
  bass held into or out of it: Bach's six-four frequency);
* **structure**: root position for both chords of a perfect authentic cadence, a cost for
  an inverted chord at any other phrase end, a seventh in the bass that falls by step
  (or is held) into the next chord unless that keeps the root (the rule of
  :func:`partimento.grammar.bass_line.bass_step_ok`, here on pitches, read from the
  chords' own specs so that music21 is not asked about every inverted figure), a
  bass leading tone that rises to its tonic, a cost for each root-to-root leap after the
  second in a row (no phrase of root-to-root leaps), and a small pull to the middle of
  the bass range;
* **outer voices**, when the soprano is known (harmonizing a melody): no parallel or
  hidden fifths and octaves with it, no doubled leading tone, a cost for doubling the
  bass of a first-inversion chord in the soprano, and ``-ln P`` of Bach's soprano-bass
  motion at chord changes (contrary motion cheapest: under a rising soprano the bass
  walks down, a descending tetrachord where the harmonies allow it).

Forbidden moves cost :data:`FORBIDDEN` rather than infinity, so a plan whose fixed chords
leave no clean line still gets the line with the fewest faults. The probabilities are
Bach's, measured on the When-in-Rome analyses of the train and valid chorales by
``benchmarks/bass_line_bach.py`` (which also measures what the planner does). The result
is deterministic: the same plan and soprano give the same inversions.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from partimento.grammar.errors import PartimentoError
from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.grammar.plan import ChordEvent, Plan
from partimento.grammar.rules.chords import leading_tone_of
from partimento.grammar.rules.melodic import legal_moves
from partimento.grammar.theory import VOICE_RANGES, ChordSpec, invert_figure, key_info

__all__ = ["BACH_SIZES", "BACH_SIZE_BIAS", "SIZE_CLASSES", "BassWeights", "BACH_WEIGHTS", "FORBIDDEN",
           "plan_bass_line", "bass_line", "soprano_from_tokens", "inversion_options", "size_class"]

FORBIDDEN = 1000.0  # cost of a move the rules forbid (finite: the least faulty line is still found)

#: Bach's bass at chord changes (When-in-Rome analyses, 107 train/valid chorales, 5,588 changes;
#: ``benchmarks/bass_line_bach.py`` re-measures), the next move by how the bass arrived at the
#: chord before: held or repeated, a step or a leap on (in the direction it came) or back.
BACH_CONTINUATION = {
    "start": {"same": 0.123, "step": 0.389, "leap": 0.488},
    "same": {"same": 0.071, "step": 0.420, "leap": 0.509},
    "step": {"same": 0.150, "step on": 0.373, "step back": 0.095, "leap on": 0.135, "leap back": 0.247},
    "leap": {"same": 0.119, "step on": 0.099, "step back": 0.219, "leap on": 0.178, "leap back": 0.385},
}
#: ... the size of its moves given their kind and direction (``bass_line_bach.py``, "sizes": 104 train/valid
#: chorales, 5,395 changes): a step by semitones, a leap by class. Bach's bass rises by a fourth more often
#: than by a third and falls by a fifth twice as often as by a fourth; his steps are half semitones.
BACH_SIZES = {
    "step up": {1: 0.491, 2: 0.509},
    "step down": {1: 0.457, 2: 0.543},
    "leap up": {"third": 0.331, "fourth": 0.42, "tritone": 0.003, "fifth": 0.101, "sixth": 0.054,
                "seventh": 0.042, "octave": 0.034, "wider": 0.016},
    "leap down": {"third": 0.497, "fourth": 0.135, "tritone": 0.024, "fifth": 0.262, "sixth": 0.026,
                  "seventh": 0.009, "octave": 0.045, "wider": 0.002},
}
#: Calibration of the sizes for the Viterbi line (see ``BassWeights.size_bias``): nats by move class.
BACH_SIZE_BIAS = {"held": 0.4, "1 up": -0.45, "2 up": 0.09, "1 down": -0.38, "2 down": 0.15, "third up": 0.77,
                  "third down": 0.78, "fourth up": 0.99, "fourth down": -0.23, "fifth up": -0.17, "fifth down": 0.22,
                  "other up": -0.61, "other down": -1.54}
#: ... inversion of the analysed chords at their onsets (root, 6, 6/4, 4/2-type third inversion).
BACH_INVERSIONS = (0.595, 0.333, 0.037, 0.034)
#: ... soprano-bass motion at chord changes.
BACH_MOTION = {"contrary": 0.371, "oblique": 0.359, "similar": 0.270}


def _nats(table: dict) -> dict:
    return {k: -math.log(v) for k, v in table.items()}


@dataclass(frozen=True)
class BassWeights:
    """Costs (nats) of the line planner; the defaults are ``-ln`` of Bach's frequencies above."""

    continuation: dict[str, dict[str, float]] = field(
        default_factory=lambda: {k: _nats(v) for k, v in BACH_CONTINUATION.items()})
    size: dict[str, dict] = field(default_factory=lambda: {k: _nats(v) for k, v in BACH_SIZES.items()})
    inversion: tuple[float, ...] = tuple(-math.log(p) for p in BACH_INVERSIONS)
    six_four_passing: float = 2.0  # a passing 6/4: dearer than a 6 (1.1), cheaper than Bach's 6/4s overall (3.3)
    six_four_held: float = -math.log(BACH_INVERSIONS[2])  # a pedal or cadential 6/4 (bass held in or out)
    motion: dict[str, float] = field(default_factory=lambda: _nats(BACH_MOTION))
    phrase_end_inverted: float = 1.5  # an inverted chord at a fermata or phrase end (cadences close on roots)
    root_leap_run: float = 1.0  # each root-to-root leap after the second in a row
    leading_tone_astray: float = 2.0  # a bass leading tone that does not rise to the tonic it leads to
    doubled_bass_of_six: float = 0.7  # the soprano doubles the bass of a first-inversion chord
    # Added to a root position the line chooses. The costs above alone give 66% root position
    # over 30 composed chorale plans (open chords 58%, and the grammar's fixed chords, mostly
    # cadences, 88%); 0.4 brings the whole plan to Bach's 59.5% at analysed onsets (60%),
    # ``benchmarks/results/bass_line_bach.json`` re-measures. Calibrated on plans, not on scores.
    root_calibration: float = 0.4
    # Added to a move at a chord change by its kind: held, step up, step down, leap up, leap down.
    # With the costs above alone the planned lines of 40 chorale plans kept the bass at 24% of
    # chord changes, rose by step at 32% and fell by step at 12% (Bach: 12, 24, 15%; leaps up and
    # down 13 / 19% against his 21 / 27%); these, found by matching the shares (seven rounds of
    # bias += 0.7 ln(ours / Bach's), centred), bring every kind within a point of Bach's
    # (``benchmarks/bass_line_bach.py`` prints both). Calibrated on plans, not on scores.
    direction: tuple[float, float, float, float, float] = (0.9, 0.2, -0.3, -0.25, -0.55)
    # Added to a move at a chord change by its class (:data:`SIZE_CLASSES`), on top of ``direction``.
    # With the sizes above alone the planned lines of 60 chorale plans (seeds 1000-1059) rose by a
    # semitone at 3% of chord changes (Bach 11.7%), by a third or fourth at 30% (Bach 16%) and never
    # leapt a sixth or more (Bach 6%); these, fitted by ``benchmarks/bass_line_calibrate.py --rounds 20
    # --rate 0.3`` (the closest round; 0.8% total variation from Bach's 13 shares), match the shares.
    size_bias: dict[str, float] = field(default_factory=lambda: dict(BACH_SIZE_BIAS))
    # A diminished triad over its root (vii°, ii° in minor): its fifth is a tritone above the bass
    # and its root the leading tone, which a seventh resolving onto it would double (V7/V -> vii°
    # left the seventh nowhere to go). Textbooks write it as a 6; so do the planned lines.
    diminished_root: float = 4.0  # 3.0 before the size calibration, which left 2 of 37 on their root (the test)
    register: float = 0.05  # per semitone from the middle of the bass range
    centre: int = 50  # D3


BACH_WEIGHTS = BassWeights()

# How the line arrived at a note: 0 start, 1 held/repeated, 2 step up, 3 step down, then leaps up
# (4..7) and down (8..11), each with the number of root-to-root leaps in a row it ends (0..3, capped).
_START, _SAME, _UP, _DOWN, _LEAP_UP, _LEAP_DOWN = 0, 1, 2, 3, 4, 8
_RUN_CAP = 3
_ARRIVALS = 12
_DIRECTION = np.array([0, 0, 1, -1] + [1] * 4 + [-1] * 4)  # (A,) how each arrival moved
_SIZE = np.array([0, 1, 2, 2] + [3] * 8)  # (A,) 0 start, 1 same, 2 step, 3 leap
_RUN = np.array([0] * 4 + [0, 1, 2, 3] * 2)  # (A,) root-to-root leaps in a row
_NEXT = ("same", "step on", "step back", "leap on", "leap back")
_BASS_LO, _BASS_HI = VOICE_RANGES["bass"]
_WIDE = 24  # moves priced by signed semitones up to two octaves (the bass range is narrower)
#: The classes of bass moves at chord changes that ``size_bias`` calibrates (see :func:`size_class`).
SIZE_CLASSES = ("held", "1 up", "2 up", "1 down", "2 down", "third up", "third down", "fourth up", "fourth down",
                "fifth up", "fifth down", "other up", "other down")


def _interval_class(d: int) -> str:
    a = abs(d)
    if a == 0:
        return "same"
    if a <= 2:
        return "step"
    if a <= 4:
        return "third"
    if a == 5:
        return "fourth"
    if a == 6:
        return "tritone"
    if a == 7:
        return "fifth"
    if a <= 9:
        return "sixth"
    if a <= 11:
        return "seventh"
    if a == 12:
        return "octave"
    return "wider"


def size_class(d: int) -> str:
    """The move's class in :data:`SIZE_CLASSES`: held, a step by its semitones or a leap by its class, signed."""
    if d == 0:
        return "held"
    way = "up" if d > 0 else "down"
    if abs(d) <= 2:
        return f"{abs(d)} {way}"
    name = _interval_class(d)
    return f"{name if name in ('third', 'fourth', 'fifth') else 'other'} {way}"


def _move_tables(w: BassWeights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """((4, 5) cost of the next move's kind by the arrival's size, (2 * _WIDE + 1,) cost of a move's size
    given its kind and direction by signed semitones (index d + _WIDE) with its calibration, (5,) cost by
    direction: held, step up, step down, leap up, leap down)."""
    cont = np.zeros((4, len(_NEXT)))
    for size, name in enumerate(("start", "same", "step", "leap")):
        table = w.continuation[name]
        for j, nxt in enumerate(_NEXT):
            cont[size, j] = table.get(nxt, table.get(nxt.split()[0], 0.0))  # after start/same: no direction
    sizes = np.zeros(2 * _WIDE + 1)
    for d in range(-_WIDE, _WIDE + 1):
        if d:
            kind = f"{'step' if abs(d) <= 2 else 'leap'} {'up' if d > 0 else 'down'}"
            table = w.size[kind]
            sizes[d + _WIDE] = table[abs(d)] if abs(d) <= 2 else table[_interval_class(d)]
        sizes[d + _WIDE] += w.size_bias.get(size_class(d), 0.0)
    return cont, sizes, np.asarray(w.direction, float)


@dataclass(frozen=True)
class _Option:
    figure: str
    spec: ChordSpec
    inversion: int


def inversion_options(event: ChordEvent) -> list[tuple[str, ChordSpec]]:
    """(figure, spec) of each inversion the chord may take: all of an open chord's, else its own.

    The specs of the other inversions are the written chord's with another bass (its
    members in the order root, third, fifth, seventh), so music21 reads one figure per
    chord, not four.
    """
    base = event.spec
    if not event.inversion_open:
        return [(event.figure, base)]
    position = (base.root, base.third, base.fifth, base.seventh)
    out: list[tuple[str, ChordSpec]] = []
    seen = set()
    for i in range(4):
        try:
            fig = invert_figure(event.figure, i)
        except PartimentoError:
            continue
        if fig in seen:
            continue
        seen.add(fig)
        if fig == event.figure:
            out.append((fig, base))
        elif position[i] is not None:
            out.append((fig, replace(base, figure=fig, bass=position[i], inversion=i)))
    return out


def soprano_from_tokens(tokens: np.ndarray) -> np.ndarray:
    """Sounding soprano MIDI pitch per step from forced tokens (-1 unknown or silent).

    Tokens as the decoder's (HOLD 0, REST 1, attack of MIDI p = 2 + p, -1 not given).
    """
    from partimento.neural.encoding import HOLD, PITCH_OFFSET

    out = np.full(len(tokens), -1, np.int64)
    cur = -1
    for t, tok in enumerate(np.asarray(tokens).tolist()):
        if tok >= PITCH_OFFSET:
            cur = tok - PITCH_OFFSET
        elif tok != HOLD:
            cur = -1
        out[t] = cur
    return out


class _Chord:
    """One plan chord's states: every (inversion, bass pitch) the line may use there."""

    def __init__(self, event: ChordEvent) -> None:
        self.event = event
        self.options = [_Option(f, s, s.inversion) for f, s in inversion_options(event)]
        pairs = [(o, p) for o, opt in enumerate(self.options) for p in range(_BASS_LO, _BASS_HI + 1)
                 if p % 12 == opt.spec.bass]
        self.option = np.array([o for o, _ in pairs], np.int64)  # (m,)
        self.pitch = np.array([p for _, p in pairs], np.int64)  # (m,)
        self.inversion = np.array([self.options[o].inversion for o, _ in pairs], np.int64)
        self.root_position = self.inversion == 0
        self.six_four = np.array([self.options[o].inversion == 2 and not self.options[o].figure.startswith("Cad")
                                  and self.options[o].spec.seventh is None for o, _ in pairs], bool)
        # a diminished triad (vii°, ii° in minor) over its own root: the textbook writes it as a 6
        self.diminished_root = np.array([self.options[o].inversion == 0 and _diminished_triad(self.options[o].spec)
                                         for o, _ in pairs], bool)
        self.key = key_info(event.key)


def _diminished_triad(spec: ChordSpec) -> bool:
    if spec.seventh is not None or spec.third is None or spec.fifth is None:
        return False
    return (spec.third - spec.root) % 12 == 3 and (spec.fifth - spec.root) % 12 == 6


def _state_costs(ch: _Chord, w: BassWeights, pac_root: bool, phrase_end: bool, s_on: int) -> np.ndarray:
    """(m,) cost of each (inversion, pitch) of a chord on its own."""
    inv = np.minimum(ch.inversion, len(w.inversion) - 1)
    cost = np.asarray(w.inversion, float)[inv] + np.where(inv == 0, w.root_calibration, 0.0)
    cost = np.where(ch.six_four, 0.0, cost)  # a six-four is priced with its context (transitions)
    cost = cost + np.where(ch.diminished_root, w.diminished_root, 0.0)
    cost = cost + w.register * np.abs(ch.pitch - w.centre)
    if pac_root:
        cost = cost + np.where(ch.root_position, 0.0, FORBIDDEN)
    elif phrase_end:
        cost = cost + np.where(ch.root_position, 0.0, w.phrase_end_inverted)
    if s_on >= 0:
        for k, o in enumerate(ch.option):
            spec = ch.options[o].spec
            lt = leading_tone_of(spec, ch.key)
            if lt is not None and s_on % 12 == lt and ch.pitch[k] % 12 == lt:
                cost[k] += FORBIDDEN  # doubled leading tone
            elif ch.inversion[k] == 1 and s_on % 12 == ch.pitch[k] % 12:
                cost[k] += w.doubled_bass_of_six
    return cost


def _moves(d: np.ndarray, root_to_root: np.ndarray, prev: np.ndarray,
           tables: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(cost, arrival kind) of moving the bass by ``d`` after arriving by ``prev`` (all broadcast).

    The cost is Bach's: how likely the next move's kind is after the way the line came
    (a step on, a leap back ...), times how likely the move's size is given its kind and direction.
    """
    cont, sizes, by_direction = tables
    a = np.abs(d)
    direction = np.sign(d)
    back = direction == -_DIRECTION[prev]
    nxt = np.where(d == 0, 0, np.where(a <= 2, np.where(back, 2, 1), np.where(back, 4, 3)))
    cost = cont[_SIZE[prev], nxt] + sizes[np.clip(d, -_WIDE, _WIDE) + _WIDE]
    cost = cost + by_direction[np.where(d == 0, 0, np.where(a <= 2, 1, 3) + (d < 0))]
    run = np.where(root_to_root & (a > 2), np.minimum(_RUN[prev] + 1, _RUN_CAP), 0)
    kind = np.where(d == 0, _SAME, np.where(a <= 2, np.where(d > 0, _UP, _DOWN),
                                            np.where(d > 0, _LEAP_UP, _LEAP_DOWN) + run))
    return cost, kind


def _six_four_cost(arrival: np.ndarray, d: np.ndarray, w: BassWeights) -> np.ndarray:
    """A six-four is passing (step in and on, one direction) or pedal/cadential (bass held in or out); else forbidden."""
    up = (d > 0) & (d <= 2)
    down = (d < 0) & (d >= -2)
    passing = ((arrival == _UP) & up) | ((arrival == _DOWN) & down)
    held = (arrival == _SAME) | (d == 0)
    return np.where(passing, w.six_four_passing, np.where(held, w.six_four_held, FORBIDDEN))


def _transition(a: _Chord, b: _Chord, w: BassWeights, s_before: int, s_on: int) -> tuple[np.ndarray, np.ndarray]:
    """((m_a, m_b) cost, (m_a, m_b) bool root-to-root) of moving from each state of ``a`` to each of ``b``,
    besides the move's own (see :func:`_moves`)."""
    pa, pb = a.pitch[:, None], b.pitch[None, :]
    d = pb - pa  # (m_a, m_b)
    cost = np.where(legal_moves(b.key.name)[pa, pb], 0.0, FORBIDDEN)
    # a seventh in the bass falls by step or is held (unless the next chord keeps the root)
    for o, opt in enumerate(a.options):
        if opt.spec.seventh is None or opt.spec.seventh != opt.spec.bass:
            continue
        rows = a.option == o
        for q, nxt in enumerate(b.options):
            if nxt.spec.root == opt.spec.root:
                continue
            cols = b.option == q
            ok = np.isin(d[np.ix_(rows, cols)], (0, -1, -2))
            cost[np.ix_(rows, cols)] += np.where(ok, 0.0, FORBIDDEN)
        # the bass leading tone rises to its tonic
    for o, opt in enumerate(a.options):
        lt = leading_tone_of(opt.spec, a.key)
        if lt is None:
            continue
        rows = (a.option == o) & (a.pitch % 12 == lt)
        if not rows.any():
            continue
        for q, nxt in enumerate(b.options):
            if nxt.spec.root != (lt + 1) % 12:
                continue
            cols = b.option == q
            sub = d[np.ix_(rows, cols)]
            cost[np.ix_(rows, cols)] += np.where(sub == 1, 0.0, w.leading_tone_astray)
    if s_before >= 0 and s_on >= 0:
        ds = s_on - s_before
        moved_b = d != 0
        before = (s_before - pa) % 12
        after = (s_on - pb) % 12
        perfect = np.isin(after, (0, 7))
        parallel = (ds != 0) & moved_b & perfect & (before == after)
        similar = (np.sign(d) == np.sign(ds)) & moved_b & (ds != 0)
        hidden = similar & perfect & (before != after) & (abs(ds) > 2)
        cost = cost + np.where(parallel | hidden, FORBIDDEN, 0.0)
        motion = np.where((ds == 0) | ~moved_b, "oblique", np.where(similar, "similar", "contrary"))
        cost = cost + np.vectorize(w.motion.__getitem__)(motion)
    root_to_root = a.root_position[:, None] & b.root_position[None, :]
    return cost, root_to_root


def _soprano_at(plan: Plan, soprano: np.ndarray | None) -> tuple[list[int], list[int]]:
    """Soprano pitch at each chord's onset and just before it (-1 unknown)."""
    on, before = [], []
    for c in plan.chords:
        t = int(round(c.onset * STEPS_PER_QUARTER))
        if soprano is None or not 0 <= t < len(soprano):
            on.append(-1)
            before.append(-1)
            continue
        on.append(int(soprano[t]))
        before.append(int(soprano[t - 1]) if t > 0 else -1)
    return on, before


def plan_bass_line(plan: Plan, soprano: np.ndarray | None = None, weights: BassWeights = BACH_WEIGHTS) -> Plan:
    """A copy of ``plan`` with every open inversion fixed for the best bass line (see the module docstring).

    ``soprano``: the sounding soprano MIDI pitch per sixteenth step (-1 unknown), when the
    melody is given (:func:`soprano_from_tokens` reads it from forced tokens). A plan with
    no open chord is returned as it is.
    """
    if not any(c.inversion_open for c in plan.chords):
        return plan
    return bass_line(plan, soprano, weights)[0]


def bass_line(plan: Plan, soprano: np.ndarray | None = None, weights: BassWeights = BACH_WEIGHTS
              ) -> tuple[Plan, list[int], float]:
    """(the plan with open inversions fixed, the planned bass MIDI pitch at each chord onset, the line's cost).

    The pitches are the planner's model of the line (the decoder chooses its own octave);
    a cost of :data:`FORBIDDEN` or more means no line keeps every hard condition.
    """
    if not plan.chords:
        return plan, [], 0.0
    chords = [_Chord(c) for c in plan.chords]
    s_on, s_before = _soprano_at(plan, soprano)
    n = len(chords)
    ends = _phrase_ends(plan)
    pac = _pac_roots(plan)
    tables = _move_tables(weights)
    # Viterbi over (state, arrival); cost[k] is (m_k, A)
    first = _state_costs(chords[0], weights, 0 in pac, 0 in ends, s_on[0])
    total = np.full((len(first), _ARRIVALS), np.inf)
    total[:, _START] = first
    back: list[np.ndarray] = []
    for k in range(1, n):
        a, b = chords[k - 1], chords[k]
        trans, r2r = _transition(a, b, weights, s_before[k], s_on[k])  # (m_a, m_b)
        own = _state_costs(b, weights, k in pac, k in ends, s_on[k])  # (m_b,)
        d = (b.pitch[None, :] - a.pitch[:, None])[:, None, :]  # (m_a, 1, m_b)
        arr = np.arange(_ARRIVALS)[None, :, None]  # (1, A, 1)
        move, arrival = _moves(d, r2r[:, None, :], arr, tables)  # (m_a, A, m_b) each
        # (m_a, A, m_b): from state i having arrived by `arr`, to state j of b
        step = total[:, :, None] + trans[:, None, :] + move
        # a six-four at `a` must be passing, pedal or cadential: judged now that its departure is known
        step = step + np.where(a.six_four[:, None, None], _six_four_cost(arr, d, weights), 0.0)
        step = step + np.where(_RUN[arrival] == _RUN_CAP, weights.root_leap_run, 0.0)
        flat = step.reshape(-1, step.shape[2])  # (m_a * A, m_b): predecessor (i, arr) -> j
        kinds = arrival.reshape(flat.shape)
        cand = np.where(kinds[None] == np.arange(_ARRIVALS)[:, None, None], flat[None], np.inf)  # (A, m_a*A, m_b)
        best = np.argmin(cand, axis=1)  # (A, m_b)
        new = np.take_along_axis(cand, best[:, None, :], axis=1)[:, 0, :].T + own[:, None]  # (m_b, A)
        back.append(best.T)  # (m_b, A): flat predecessor index i * A + arr
        total = new
    # the last chord's six-four has no departure: it must have arrived held
    last = chords[-1]
    end = np.where(np.arange(_ARRIVALS) == _SAME, weights.six_four_held, FORBIDDEN)  # no departure: held in
    total = total + np.where(last.six_four[:, None], end[None, :], 0.0)
    j, arr = np.unravel_index(int(np.argmin(total)), total.shape)
    cost = float(total[j, arr])
    picks = [int(j)]
    for best in reversed(back):
        j, arr = divmod(int(best[j, arr]), _ARRIVALS)
        picks.append(j)
    picks.reverse()
    out = copy.copy(plan)  # keeps the lazily built derivation as it is
    out.chords = [replace(ch.event, figure=ch.options[int(ch.option[j])].figure, inversion_open=False)
                  if ch.event.inversion_open else ch.event for ch, j in zip(chords, picks)]
    return out, [int(ch.pitch[j]) for ch, j in zip(chords, picks)], cost


def _phrase_ends(plan: Plan) -> set[int]:
    """Indices of chords that close a phrase (a fermata, a cadence label, or the last chord)."""
    out = {i for i, c in enumerate(plan.chords) if c.fermata or c.cadence is not None}
    if plan.chords:
        out.add(len(plan.chords) - 1)
    return out


def _pac_roots(plan: Plan) -> set[int]:
    """Indices of the two chords of each perfect authentic cadence (both in root position)."""
    out: set[int] = set()
    for i, c in enumerate(plan.chords):
        if c.cadence == "PAC":
            out.add(i)
            if i > 0:
                out.add(i - 1)
    return out
