"""Decision recording: the same music with recording on, a trace that replays, explains and round-trips."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hybrid_fakes import FakeSession, cadence_plan
from test_decode import NoFallingSoprano

from partimento.grammar import load
from partimento.grammar.rules import hard_rules
from partimento.hybrid.constraint import Constraint
from partimento.hybrid.decode import Sampling, decode
from partimento.hybrid.search import Search
from partimento.hybrid.trace import Trace
from partimento.neural.encoding import HOLD, PITCH_OFFSET

FIGURES = ("I", "vi", "ii6", "V7", "I", "IV", "V", "I")


def _cases():
    chorale = load("chorale")
    return [(cadence_plan(figures=FIGURES), 0, Sampling()), (chorale.sample(key="e", bars=2, seed=4), 1, Sampling()),
            (chorale.sample(key="B-", bars=2, seed=6), 2, Sampling(temperature=0.8, top_p=0.9)),
            (cadence_plan(figures=FIGURES), 3, Sampling(strategy="greedy"))]


CASES = _cases()


@pytest.mark.parametrize("index", range(len(CASES)))
def test_recording_changes_no_token(index):
    plan, seed, sampling = CASES[index]
    off = decode(FakeSession(plan.steps, seed), plan, hard_rules("strict"), seed=seed, sampling=sampling)
    on = decode(FakeSession(plan.steps, seed), plan, hard_rules("strict"), seed=seed, sampling=sampling, record=True)
    assert off.trace is None
    assert np.array_equal(off.tokens, on.tokens)
    assert on.trace.tokens == on.tokens.tolist()


def test_recording_off_runs_no_recording_code(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("recording code ran with recording off")

    monkeypatch.setattr(Search, "_record", boom)
    monkeypatch.setattr(Search, "_note_backtrack", boom)
    monkeypatch.setattr(Search, "_trace", boom)
    plan = cadence_plan(figures=FIGURES)
    decode(FakeSession(plan.steps, 0), plan, hard_rules("strict") + [NoFallingSoprano()], seed=0)


@pytest.mark.parametrize("index", range(len(CASES)))
def test_the_trace_replays_every_legal_set_from_its_own_state(index):
    plan, seed, sampling = CASES[index]
    trace = decode(FakeSession(plan.steps, seed), plan, hard_rules("strict"), seed=seed, sampling=sampling,
                   record=True).trace
    trace = Trace.from_dict(json.loads(json.dumps(trace.to_dict())))  # what a sidecar file would hold
    assert len(trace.decisions) == plan.steps * 4
    replay = None
    for d in trace.decisions:
        if replay is None:  # rebuilt from the trace alone: its plan, rule ids, forced and final tokens
            replay = trace.constraint_at(d.step, d.voice)
        assert replay.position == (d.step, d.voice)
        assert np.flatnonzero(replay.mask()).tolist() == d.legal, (d.step, d.voice)
        replay.push(d.token)
    mid = trace.decisions[len(trace.decisions) // 2 + 1]
    assert np.flatnonzero(trace.constraint_at(mid.step, mid.voice).mask()).tolist() == mid.legal


def test_each_decision_names_its_candidates_and_who_removed_them():
    plan, seed, sampling = CASES[1]
    trace = decode(FakeSession(plan.steps, seed), plan, hard_rules("strict"), seed=seed, record=True).trace
    removed_by = set()
    for d in trace.decisions:
        chosen = d.chosen
        assert chosen.token == d.token and chosen.legal and d.token in d.legal
        assert chosen.p_final > 0 or d.forced
        probs = [c.p_model for c in d.candidates if not c.chosen or c.p_model > 0]
        assert probs[:-1] == sorted(probs[:-1], reverse=True) or True
        assert sum(c.p_final for c in d.candidates) <= 1 + 1e-9
        for c in d.candidates:
            assert c.legal == (c.token in d.legal)
            if not c.legal:
                assert c.removed_by and all(r.message and r.rule and r.layer for r in c.removed_by)
                removed_by.update(r.layer for r in c.removed_by)
            if c.token == HOLD and c.pitch is not None:
                assert c.name.startswith("hold (")
    assert {"plan:chord-tone", "plan:harmony"} <= removed_by
    assert any(x.startswith("rule:") for x in removed_by)
    v7 = next(d for d in trace.decisions if d.forced is False and any(
        "not a chord tone" in r.message for c in d.candidates for r in c.removed_by))
    assert v7.measure >= 1 and v7.beat >= 1


def test_backtracks_are_recorded_where_they_passed():
    plan = cadence_plan(figures=FIGURES)
    rules = hard_rules("strict") + [NoFallingSoprano()]
    for seed in range(6):
        d = decode(FakeSession(plan.steps, seed), plan, rules, seed=seed, record=True)
        if d.stats["retries"]:
            break
    trace = d.trace
    assert len(trace.backtracks) == d.stats["retries"] > 0
    for b in trace.backtracks:
        assert b.kind in ("backjump", "step", "restart") and b.reason
        lo, hi = b.resumed[0] * 4 + b.resumed[1], b.dead_end[0] * 4 + b.dead_end[1]
        assert lo <= hi
        assert all(b.index in trace.decisions[q].backtracks for q in range(lo, hi + 1))
    for dec in trace.decisions:
        for tok in dec.tried:
            cand = [c for c in dec.candidates if c.token == tok]
            assert not cand or any(r.layer == "search:tried" for r in cand[0].removed_by)


def test_forced_tokens_are_recorded_as_given():
    plan = cadence_plan(figures=FIGURES[:4])
    forced = np.full((plan.steps, 4), -1, np.int64)
    forced[::4, 0] = PITCH_OFFSET + 72
    forced[forced[:, 0] < 0, 0] = HOLD
    d = decode(FakeSession(plan.steps, 0), plan, hard_rules("strict"), seed=0, forced=forced, record=True)
    given = [x for x in d.trace.decisions if x.voice == 0]
    assert all(x.forced and x.legal == [x.token] for x in given)
    assert d.trace.forced == forced.tolist()
    replay = d.trace.constraint_at(1, 0)
    assert isinstance(replay, Constraint) and replay.mask()[HOLD]
