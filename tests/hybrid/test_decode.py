"""The constrained decoder: plan adherence, rules, seeds, backtracking, unsatisfiable plans."""
from __future__ import annotations

import numpy as np
import pytest
from hybrid_fakes import FakeSession, cadence_plan

from partimento.grammar.errors import InputError, UnsatisfiableError
from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.grammar.plan import ChordEvent, Plan
from partimento.grammar.rules import hard_rules
from partimento.grammar.rules.base import Rule, Severity
from partimento.hybrid.api import report_for
from partimento.hybrid.decode import Sampling, decode
from partimento.neural.encoding import HOLD, PITCH_OFFSET, sounding_pitches

FIGURES = ("I", "vi", "ii6", "V7", "I", "IV", "V", "I")


def plan_adherence(pitch: np.ndarray, plan: Plan, attack: np.ndarray | None = None) -> list[str]:
    """Problems at chord onsets: foreign pitch classes, missing root/third, wrong bass (suspensions by their resolution)."""
    from partimento.hybrid.result import onset_misses

    if attack is None:
        attack = np.ones(pitch.shape, bool)  # every note struck: no suspensions
    return [f"{m['figure']} at {m['onset']}: {m['pitches']}" for m in onset_misses(pitch, attack, plan)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_output_follows_the_plan_and_the_hard_rules(seed):
    plan = cadence_plan(figures=FIGURES)
    d = decode(FakeSession(plan.steps, seed), plan, hard_rules("strict"), seed=seed)
    assert (d.tokens >= 0).all()
    assert np.array_equal(sounding_pitches(d.tokens), d.pitch)
    assert plan_adherence(d.pitch, plan, d.attack) == []
    report = report_for(d.pitch, d.attack, plan, "strict")
    assert report.errors == [], [str(v.to_dict()) for v in report.errors]


def test_same_seed_same_music_other_seed_other_music():
    plan = cadence_plan(figures=FIGURES)
    rules = hard_rules("strict")
    a = decode(FakeSession(plan.steps, 5), plan, rules, seed=3)
    b = decode(FakeSession(plan.steps, 5), plan, rules, seed=3)
    c = decode(FakeSession(plan.steps, 5), plan, rules, seed=4)
    assert np.array_equal(a.tokens, b.tokens)
    assert not np.array_equal(a.tokens, c.tokens)


def test_greedy_ignores_the_seed_until_it_must_re_decode():
    plan = cadence_plan(figures=FIGURES[:4])
    greedy = Sampling(strategy="greedy")
    a = decode(FakeSession(plan.steps, 2), plan, [], seed=0, sampling=greedy)
    b = decode(FakeSession(plan.steps, 2), plan, [], seed=9, sampling=greedy)
    assert a.stats["retries"] == b.stats["retries"] == 0
    assert np.array_equal(a.tokens, b.tokens)
    c = decode(FakeSession(plan.steps, 1), plan, hard_rules("strict"), seed=4, sampling=greedy)
    d = decode(FakeSession(plan.steps, 1), plan, hard_rules("strict"), seed=4, sampling=greedy)
    assert np.array_equal(c.tokens, d.tokens)


def test_beam_search_obeys_the_rules():
    plan = cadence_plan(figures=FIGURES)
    d = decode(FakeSession(plan.steps, 3), plan, hard_rules("strict"), seed=0, sampling=Sampling(strategy="beam", beam=2))
    assert plan_adherence(d.pitch, plan, d.attack) == []
    assert report_for(d.pitch, d.attack, plan, "strict").errors == []


def test_without_constraints_the_model_writes_what_it_likes():
    plan = cadence_plan(figures=FIGURES)
    d = decode(FakeSession(plan.steps, 0, uniform=True), plan, hard_rules("strict"), seed=0,
               sampling=Sampling(constraints=False))
    assert d.stats["rule_calls"] == 0
    assert plan_adherence(d.pitch, plan, d.attack) != []  # uniform logits, no masks: far from the plan


class ForbidAltoOnBeatTwo(Rule):
    """A test rule: the alto may not sound at all on beat 2."""

    id = "test-no-alto-on-beat-two"
    default_severity = Severity.ERROR

    def check(self, s, ctx):
        return [self.violation(s, i, [1], "alto on beat 2") for i in range(len(s))
                if s.beat[i] == 2.0 and s.pitch[i, 1] >= 0]

    def allowed(self, state, voice):
        if voice == 1 and state.sonorities.beat[-1] == 2.0:
            return np.zeros(128, bool)
        return np.ones(128, bool)


def test_an_impossible_spot_raises_unsatisfiable_with_its_location_and_rule():
    plan = cadence_plan(figures=FIGURES[:4])
    with pytest.raises(UnsatisfiableError) as e:
        decode(FakeSession(plan.steps, 0), plan, [ForbidAltoOnBeatTwo()], seed=0,
               sampling=Sampling(max_retries=200))
    err = e.value
    assert err.exit_code == 3
    assert (err.location.measure, err.location.beat, err.location.voice) == (1, 2.0, "alto")
    assert "test-no-alto-on-beat-two" in err.rules


class NoFallingSoprano(Rule):
    """A test rule that forces backtracking: the soprano never leaps down (it may fall by step,
    hold, strike again or rise), so a chord whose tones all lie a leap below is a dead end."""

    id = "test-no-falling-soprano"
    default_severity = Severity.ERROR

    def check(self, s, ctx):
        p = s.pitch[:, 0].astype(int)
        return [self.violation(s, i, [0], "the soprano leaps down") for i in range(1, len(s))
                if p[i] >= 0 and p[i - 1] >= 0 and p[i] < p[i - 1] - 2]

    def allowed(self, state, voice):
        m = np.ones(128, bool)
        if voice == 0 and len(state.sonorities) > 1 and state.sonorities.pitch[-2, 0] >= 0:
            m[:max(0, int(state.sonorities.pitch[-2, 0]) - 2)] = False
        return m


def test_a_static_conflict_is_refused_before_decoding():
    plan = Plan(key="C", bars=1, chords=[ChordEvent(0, 2, "V42", "C"), ChordEvent(2, 2, "I", "C")]).validate()
    session = FakeSession(plan.steps, 0)
    with pytest.raises(UnsatisfiableError) as e:
        decode(session, plan, hard_rules("strict"), seed=0)
    assert e.value.location.voice == "bass" and e.value.rules == ["seventh-resolution"]
    assert session.n == 0


def test_extra_rules_are_obeyed_and_dead_ends_rewind_the_session():
    plan = cadence_plan(figures=FIGURES)
    rules = hard_rules("strict") + [NoFallingSoprano()]
    retried = 0
    for seed in range(4):
        session = FakeSession(plan.steps, seed)
        d = decode(session, plan, rules, seed=seed)
        soprano = d.pitch[:, 0].astype(int)
        assert (np.diff(soprano) >= -2).all()
        assert session.tokens == d.tokens.reshape(-1).tolist()
        assert session.rewinds == d.stats["retries"]
        retried += d.stats["retries"] > 0
    assert retried  # some seed met a dead end and rewound


def test_forced_tokens_are_kept():
    plan = cadence_plan(figures=FIGURES[:4])
    forced = np.full((plan.steps, 4), -1, np.int64)
    melody = [72, 74, 76, 72]
    for i, p in enumerate(melody):
        forced[i * 4, 0] = PITCH_OFFSET + p
        forced[i * 4 + 1:i * 4 + 4, 0] = HOLD
    forced[16:, 0] = HOLD
    d = decode(FakeSession(plan.steps, 0), plan, hard_rules("strict"), seed=0, forced=forced)
    assert np.array_equal(d.tokens[:, 0], forced[:, 0])


def test_bad_sampling_options_are_input_errors():
    with pytest.raises(InputError):
        Sampling(top_p=0)
    with pytest.raises(InputError):
        Sampling(strategy="nucleus")
    with pytest.raises(InputError):
        Sampling(temperature=-1)


def _search_at_step_8():
    """A search over the cadence plan (a chord every 4 steps) with 32 positions written (holds): (search, session, constraint)."""
    from partimento.hybrid.constraint import Constraint
    from partimento.hybrid.search import Search

    plan = cadence_plan(figures=FIGURES)
    session = FakeSession(plan.steps, 0)
    constraint = Constraint(plan, hard_rules("strict"))
    search = Search(session, constraint, Sampling(), 0)
    for _ in range(32):
        search._push(HOLD)
    return search, session, constraint


def test_a_restart_from_a_chord_onset_keeps_the_choices_that_failed_there_out():
    from partimento.hybrid.search import _Frontier, _Node

    search, session, constraint = _search_at_step_8()
    nodes = [None] * (search.T * 4)
    tried = _Node()
    tried.legal = np.zeros(130, bool)
    tried.legal[[PITCH_OFFSET + 72, PITCH_OFFSET + 76]] = True
    tried.tried = [PITCH_OFFSET + 76]  # the soprano at the onset of step 4 tried E5 before: it stays out
    nodes[16] = tried
    b = search._backtrack(32, nodes, _Frontier(32, ["look-ahead:onset"]), retries=0, jumps=[])
    assert b == 16 and nodes[16] is tried and session.n == 16 and constraint.position == (4, 0)
    assert search._choose(tried, 16) == PITCH_OFFSET + 72  # the one token left
    tried.tried.append(PITCH_OFFSET + 72)  # every token tried: the onset is decoded afresh
    for _ in range(16):
        search._push(HOLD)
    assert search._backtrack(32, nodes, _Frontier(32, ["look-ahead:onset"]), retries=1, jumps=[]) == 16
    assert nodes[16] is None


def test_a_backjump_target_that_runs_out_passes_the_dead_end_s_other_culprits_on():
    """Conflict-directed backjumping: the latest blamed decision first, the others carried with it.

    Found in the infill benchmark (a 64-bar f♯ piece, bars 32–33, alto and bass rewritten): the
    bass's dead end at V7 blamed the alto (which had one legal note left) and the bass's own passing
    note a step before. With only the latest culprit kept, the exhausted alto sent the search back to
    chord onsets, where the model chose the same passing note every time, and the span was refused
    although its own notes are a legal answer.
    """
    from partimento.hybrid.search import _Frontier, _Node

    search, session, _ = _search_at_step_8()
    nodes: list = [None] * (search.T * 4)

    def node(open_: bool) -> _Node:
        n = _Node()
        n.legal = np.zeros(130, bool)
        n.legal[[PITCH_OFFSET + 60, PITCH_OFFSET + 62]] = True
        n.tried = [PITCH_OFFSET + 60] if open_ else [PITCH_OFFSET + 60, PITCH_OFFSET + 62]
        return n

    nodes[29], nodes[27], nodes[23] = node(True), node(True), node(True)
    nodes[30] = node(False)  # the latest culprit, run out
    b = search._backtrack(31, nodes, _Frontier(31, ["parallel-fifths"]), retries=0, jumps=[30, 27, 23])
    assert b == 27 and nodes[27].conflicts == [23]  # the latest open culprit; the earlier one goes with it
    assert nodes[29] is None and session.n == 27
    nodes[27].tried.append(PITCH_OFFSET + 62)  # it runs out in turn: on to the next culprit
    b = search._backtrack(27, nodes, _Frontier(31, ["parallel-fifths"]), retries=1, jumps=nodes[27].conflicts)
    assert b == 23 and session.n == 23
