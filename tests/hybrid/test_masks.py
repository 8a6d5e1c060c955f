"""Plan masks: chord tones at onsets, the inversion's bass, coverage, passing notes, fermatas."""
from __future__ import annotations

import numpy as np
from hybrid_fakes import cadence_plan

from partimento.grammar.plan import ChordEvent, Plan
from partimento.hybrid.masks import GridState, PlanMasks
from partimento.neural.encoding import HOLD, PITCH_OFFSET


def pitches_of(mask: np.ndarray) -> set[int]:
    return {int(p) for p in np.flatnonzero(mask[PITCH_OFFSET:])}


def write(g: GridState, t: int, v: int, pitch: int, attack: bool = True, nct: bool = False) -> None:
    g.pitch[t, v] = pitch
    g.attack[t, v] = attack
    g.decided[t, v] = True
    g.nct[t, v] = nct
    g.start[t, v] = t if attack else g.start[t - 1, v]


def test_onset_allows_only_chord_tones_and_the_inversions_bass():
    plan = cadence_plan(figures=("V6", "I"))  # V6 in C: bass B
    pm = PlanMasks(plan)
    g = GridState.empty(plan.steps)
    sop = pitches_of(pm.token_mask(0, 0, g).mask)
    assert sop and all(p % 12 in (7, 11, 2) for p in sop)
    for v in range(3):
        write(g, 0, v, {0: 74, 1: 67, 2: 62}[v])
    bass = pitches_of(pm.token_mask(0, 3, g).mask)
    assert bass and all(p % 12 == 11 for p in bass)
    assert not pm.token_mask(0, 0, GridState.empty(plan.steps)).mask[HOLD]  # nothing to hold at the start


def test_root_and_third_must_be_present_when_the_last_upper_voice_is_written():
    plan = cadence_plan(figures=("I", "V"))
    pm = PlanMasks(plan)
    g = GridState.empty(plan.steps)
    write(g, 0, 0, 67)  # G
    write(g, 0, 1, 67)  # G: the tenor must supply E (C comes from the bass)
    tenor = pitches_of(pm.token_mask(0, 2, g).mask)
    assert tenor and all(p % 12 == 4 for p in tenor)


def test_no_crossing_and_spacing_within_an_octave():
    plan = cadence_plan(figures=("I", "V"))
    pm = PlanMasks(plan)
    g = GridState.empty(plan.steps)
    write(g, 0, 0, 76)
    alto = pitches_of(pm.token_mask(0, 1, g).mask)
    assert alto and max(alto) <= 76 and min(alto) >= 64


def test_passing_notes_step_in_and_must_step_out_to_a_chord_tone():
    plan = cadence_plan(figures=("I", "V"), beats=2.0)  # I lasts 8 steps
    pm = PlanMasks(plan)
    g = GridState.empty(plan.steps)
    for v, p in enumerate((72, 67, 64, 48)):
        write(g, 0, v, p)
    inside = pitches_of(pm.token_mask(1, 0, g).mask)
    assert {71, 74} <= inside  # B and D: a step from C, diatonic, resolvable
    assert 69 not in inside  # A is a leap from C: not a passing note
    assert pm.token_mask(1, 0, g).mask[HOLD]
    write(g, 1, 0, 74, nct=True)
    after = pitches_of(pm.token_mask(2, 0, g).mask)
    assert after == {72, 76}  # D leaves by step to a chord tone: back to C (neighbour) or on to E (passing)


def test_fermata_chords_are_held_and_a_pac_puts_the_tonic_in_the_soprano():
    plan = cadence_plan(figures=("V", "I"), fermata_last=True)
    pm = PlanMasks(plan)
    g = GridState.empty(plan.steps)
    for v, p in enumerate((74, 67, 59, 43)):
        write(g, 0, v, p)
    for t in range(1, 4):
        for v in range(4):
            write(g, t, v, int(g.pitch[t - 1, v]), attack=False)
    sop = pitches_of(pm.token_mask(4, 0, g).mask)  # the final I carries the PAC
    assert sop and all(p % 12 == 0 for p in sop)
    for v, p in enumerate((72, 67, 64, 48)):
        write(g, 4, v, p)
    held = pm.token_mask(5, 1, g).mask
    assert held[HOLD] and not held[PITCH_OFFSET:].any()


def test_a_seventh_in_the_bass_without_a_step_down_is_a_static_conflict():
    plan = Plan(key="C", bars=1, chords=[ChordEvent(0, 2, "V42", "C"), ChordEvent(2, 2, "I", "C")]).validate()
    conflicts = PlanMasks(plan).static_conflicts()
    assert conflicts and conflicts[0][:3] == (0, 3, "seventh-resolution")
    ok = Plan(key="C", bars=1, chords=[ChordEvent(0, 2, "V42", "C"), ChordEvent(2, 2, "I6", "C")]).validate()
    assert PlanMasks(ok).static_conflicts() == []


def test_the_interval_is_at_least_as_strict_as_the_checkers_geometry_rules():
    """Why the decoder may skip range, crossing, spacing and overlap: its interval implies them."""
    from hybrid_fakes import FakeSession

    from partimento.grammar.rules import hard_rules
    from partimento.hybrid.decode import decode
    from partimento.hybrid.masks import GEOMETRY_RULES, RuleMasks

    plan = cadence_plan(figures=("I", "vi", "ii6", "V7", "I", "IV", "V", "I"))
    rules = [r for r in hard_rules("strict") if r.id in GEOMETRY_RULES]
    assert len(rules) == len(GEOMETRY_RULES)
    for seed in range(3):
        d = decode(FakeSession(plan.steps, seed), plan, hard_rules("strict"), seed=seed)
        pm, rm = PlanMasks(plan), RuleMasks(rules, plan)
        g = GridState.empty(plan.steps)
        for t in range(plan.steps):
            for v in range(4):
                lo, hi = pm.interval(t, v, g)
                state = rm.state(t, g)
                for r in rules:
                    allowed = r.allowed(state, v)
                    assert lo > hi or allowed[lo:hi + 1].all(), (r.id, t, v, lo, hi)
                write(g, t, v, int(d.pitch[t, v]), bool(d.attack[t, v]))
                if d.attack[t, v]:
                    rm.commit(t)
