"""The decoder's shortcuts and look-aheads: same music where they must not change it, never an empty mask.

* the sure-hold shortcut (``_sure_token`` + ``PlanMasks.hold_ok``) and the per-step memo of
  masks are pure speed: greedy (and, for the memo, seeded sampling) gives the same tokens
  with them switched off;
* the soft restrictions on the step before an onset (the soprano off the octave of the
  dominant's bass before a PAC, a way on for each upper voice, room for the bass below the
  tenor) only narrow a mask and never empty it;
* the look-aheads cut the work spent re-decoding after dead ends.
"""
from __future__ import annotations

import numpy as np
import pytest
from hybrid_fakes import FakeSession, cadence_plan

from partimento.grammar import load
from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.grammar.rules import hard_rules
from partimento.hybrid import decode as decode_module
from partimento.hybrid.api import report_for
from partimento.hybrid.decode import Sampling, decode
from partimento.hybrid.masks import PITCH_PC, GridState, PlanMasks
from partimento.neural.encoding import HOLD, PITCH_OFFSET, REST

FIGURES = ("I", "vi", "ii6", "V7", "I", "IV", "V", "I")


class HoldingSession(FakeSession):
    """A fake model as sure of its holds as the trained one (p(HOLD) about 0.99)."""

    def next_logits(self) -> np.ndarray:
        z = super().next_logits()
        z[HOLD] += 8.0
        return z


def _plans():
    chorale = load("chorale")
    return [cadence_plan(figures=FIGURES), cadence_plan(key="a", figures=("i", "iv", "V", "i", "VI", "iio6", "V", "i")),
            chorale.sample(key="G", bars=4, seed=3), chorale.sample(key="d", bars=4, seed=8)]


def _replay(plan, tokens):
    """Yield (t, v, grid before (t, v) is written) along a decoded piece."""
    pm = PlanMasks(plan)
    g = GridState.empty(plan.steps)
    for t in range(plan.steps):
        for v in range(4):
            yield pm, t, v, g
            tok = int(tokens[t, v])
            prev = g.previous(t, v)
            if tok == HOLD:
                g.pitch[t, v], g.attack[t, v] = prev, False
                g.start[t, v] = g.start[t - 1, v] if t > 0 else -1
                g.nct[t, v] = g.nct[t - 1, v] if t > 0 else False
            elif tok == REST:
                g.pitch[t, v], g.attack[t, v], g.start[t, v], g.nct[t, v] = -1, False, t, False
            else:
                p = tok - PITCH_OFFSET
                g.pitch[t, v], g.attack[t, v], g.start[t, v], g.nct[t, v] = p, True, t, pm.is_nct(t, v, p)
            g.decided[t, v] = True


@pytest.mark.parametrize("index", range(4))
def test_hold_ok_is_the_token_masks_hold_wherever_it_answers(index):
    plan = _plans()[index]
    d = decode(HoldingSession(plan.steps, index), plan, hard_rules("strict"), seed=index)
    answered = 0
    for pm, t, v, g in _replay(plan, d.tokens):
        quick = pm.hold_ok(t, v, g)
        if quick is not None:
            answered += 1
            assert quick == bool(pm.token_mask(t, v, g).mask[HOLD]), (t, v)
    assert answered > plan.steps  # most positions are answered without the full mask


def test_the_sure_hold_shortcut_changes_no_greedy_token(monkeypatch):
    """Until a dead end: there the shortcut's positions count as open alternatives unseen,
    and re-decoding samples, so the search may go another (equally legal) way."""
    greedy = Sampling(strategy="greedy")
    cases = [(p, i) for p in _plans() for i in range(3)]
    fast = [decode(HoldingSession(p.steps, i), p, hard_rules("strict"), seed=0, sampling=greedy) for p, i in cases]
    assert all(d.stats["sure_tokens"] > d.tokens.shape[0] for d in fast)
    monkeypatch.setattr(decode_module._Decoder, "_sure_token", lambda self, t, v, probs, pos: -1)
    slow = [decode(HoldingSession(p.steps, i), p, hard_rules("strict"), seed=0, sampling=greedy) for p, i in cases]
    assert all(d.stats["sure_tokens"] == 0 for d in slow)
    straight = [(a, b) for a, b in zip(fast, slow) if a.stats["retries"] == b.stats["retries"] == 0]
    assert len(straight) >= 3
    assert all(np.array_equal(a.tokens, b.tokens) for a, b in straight)


@pytest.mark.parametrize("index", range(4))
def test_the_step_memo_of_masks_changes_no_sampled_token(index, monkeypatch):
    plan = _plans()[index]
    memo = decode(FakeSession(plan.steps, index), plan, hard_rules("strict"), seed=index)
    monkeypatch.setattr(decode_module._Decoder, "_plan_mask_at", lambda self, t, v: self.pm.token_mask(t, v, self.g))
    monkeypatch.setattr(decode_module._Decoder, "_rules_at",
                        lambda self, t, v, geo: self.rm.pitch_mask(self.rm.state(t, self.g), v, geo))
    fresh = decode(FakeSession(plan.steps, index), plan, hard_rules("strict"), seed=index)
    assert np.array_equal(memo.tokens, fresh.tokens)


@pytest.mark.parametrize("index", range(4))
def test_soft_restrictions_before_an_onset_only_narrow_and_never_empty_the_mask(index):
    plan = _plans()[index]
    d = decode(FakeSession(plan.steps, index), plan, hard_rules("strict"), seed=index)
    loose = PlanMasks(plan)
    loose.approach_barred[:] = -1
    loose._continuation = lambda t, v, g: np.ones(128, bool)
    loose._tenor_floor = lambda t, g: 0
    narrowed = 0
    for pm, t, v, g in _replay(plan, d.tokens):
        if t + 1 >= plan.steps or not pm.onset[t + 1] or v == 3:
            continue
        strict, free = pm.token_mask(t, v, g).mask, loose.token_mask(t, v, g).mask
        assert not (strict & ~free).any(), (t, v)  # only narrows
        assert strict.any() == free.any(), (t, v)  # never empties
        narrowed += int((free & ~strict).any())
    assert narrowed > 0


def test_before_a_pac_the_soprano_leaves_the_octave_of_the_dominants_bass():
    plan = cadence_plan(figures=("I", "IV", "V", "I"), fermata_last=False)  # PAC on beat 4
    pm = PlanMasks(plan)
    a = int(round(plan.chords[-1].onset * STEPS_PER_QUARTER))
    assert pm.approach_barred[a - 1] == 7  # G over the G of V would go on in octaves to C over C
    assert (pm.approach_barred[: a - 1] == -1).all()
    g = GridState.empty(plan.steps)
    for t in range(a - 1):  # V voiced G4 D4 B3 G2 (the soprano on the bass's octave) and held
        for v, p in enumerate((67, 62, 59, 43)):
            g.pitch[t, v], g.decided[t, v], g.start[t, v] = p, True, a - 4
            g.attack[t, v] = t == a - 4
    mask = pm.token_mask(a - 1, 0, g).mask
    assert not mask[HOLD]  # holding G is barred ...
    assert mask[PITCH_OFFSET:].any() and not (mask[PITCH_OFFSET:] & (PITCH_PC == 7)).any()  # ... another note is not


def test_look_aheads_leave_the_output_rule_abiding_and_cut_re_decoding(monkeypatch):
    plan = load("chorale").sample(key="a", bars=8, seed=11)
    rules = hard_rules("strict")
    with_lookahead = [decode(HoldingSession(plan.steps, s), plan, rules, seed=s) for s in range(4)]
    for d in with_lookahead:
        assert report_for(d.pitch, d.attack, plan, "strict").errors == []
    monkeypatch.setattr(decode_module._Decoder, "_lookahead_ok", lambda self, t, v, token: True)
    loose = PlanMasks.token_mask

    def without_soft(self, t, v, g):
        saved = self.approach_barred.copy(), self.onset
        self.approach_barred[:] = -1
        try:
            return loose(self, t, v, g) if t + 1 >= self.steps or not self.onset[t + 1] else _no_way_on(self, t, v, g)
        finally:
            self.approach_barred[:] = saved[0]

    def _no_way_on(self, t, v, g):
        cont, floor = self._continuation, self._tenor_floor
        self._continuation, self._tenor_floor = (lambda t, v, g: np.ones(128, bool)), (lambda t, g: 0)
        try:
            return loose(self, t, v, g)
        finally:
            self._continuation, self._tenor_floor = cont, floor

    monkeypatch.setattr(PlanMasks, "token_mask", without_soft)
    without = []
    for s in range(4):
        try:
            without.append(decode(HoldingSession(plan.steps, s), plan, rules, seed=s))
        except Exception:  # noqa: BLE001 - an unsatisfiable run only strengthens the comparison
            without.append(None)
    redone = sum(d.stats["retries"] for d in with_lookahead)
    redone_without = sum(d.stats["retries"] if d is not None else 10**6 for d in without)
    assert redone <= redone_without
