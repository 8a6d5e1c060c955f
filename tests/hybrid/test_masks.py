"""Plan layers: chord tones at onsets, the inversion's bass, coverage, passing notes, fermatas, the PAC soprano."""
from __future__ import annotations

import numpy as np
from hybrid_fakes import cadence_plan

from partimento.grammar.rules import hard_rules
from partimento.hybrid.constraint import Constraint
from partimento.neural.encoding import HOLD, PITCH_OFFSET, token_of


def pitches_of(mask: np.ndarray) -> set[int]:
    return {int(p) for p in np.flatnonzero(mask[PITCH_OFFSET:])}


def at(constraint: Constraint, *pitches_then_holds: int) -> Constraint:
    """Write attacks (MIDI numbers) and holds (None) in order."""
    for p in pitches_then_holds:
        constraint.push(HOLD if p is None else token_of(p, True))
    return constraint


def test_onset_allows_only_chord_tones_and_the_inversions_bass():
    plan = cadence_plan(figures=("V6", "I"))  # V6 in C: bass B
    c = Constraint(plan, hard_rules("strict"))
    sop = pitches_of(c.mask())
    assert sop and all(p % 12 in (7, 11, 2) for p in sop)
    assert not c.mask()[HOLD]  # nothing to hold at the start
    at(c, 74, 67, 62)
    bass = pitches_of(c.mask())
    assert bass and all(p % 12 == 11 for p in bass)
    assert any(r.layer == "plan:bass" and "inversion's note B" in r.message for r in c.why(token_of(43, True)))


def test_root_third_and_seventh_must_all_be_present():
    plan = cadence_plan(figures=("V7", "I"))  # G B D F: the bass takes G, the upper voices B and F
    c = at(Constraint(plan, []), 79)  # soprano G5: B and F still missing, two upper voices left
    alto = pitches_of(c.mask())
    assert alto and all(p % 12 in (11, 5) for p in alto)  # the alto must take one of them ...
    assert any(r.layer == "plan:coverage" and "seventh" in r.message for r in c.why(token_of(74, True)))
    at(c, 71)  # ... B4: the tenor must take F
    tenor = pitches_of(c.mask())
    assert tenor and all(p % 12 == 5 for p in tenor)


def test_crossing_and_spacing_come_from_the_rules():
    plan = cadence_plan(figures=("I", "V"))
    c = at(Constraint(plan, hard_rules("strict")), 76)
    alto = pitches_of(c.mask())
    assert alto and max(alto) <= 76 and min(alto) >= 64
    plan_only = at(Constraint(plan, []), 76)
    assert max(pitches_of(plan_only.mask())) > 76  # the plan layers alone know no geometry


def test_passing_notes_step_in_and_must_step_out_to_a_chord_tone():
    plan = cadence_plan(figures=("I", "V"), beats=2.0)  # I lasts 8 steps
    c = at(Constraint(plan, hard_rules("strict")), 72, 67, 64, 48)
    inside = pitches_of(c.mask())
    assert {71, 74} <= inside  # B and D: a step from C, diatonic, resolvable
    assert 69 not in inside  # A is a leap from C: not a passing note
    assert any(r.layer == "plan:harmony" and "not a step from C5" in r.message for r in c.why(token_of(69, True)))
    assert c.mask()[HOLD]
    at(c, 74, None, None, None)
    after = pitches_of(c.mask())
    assert after == {72, 76}  # D leaves by step to a chord tone: back to C (neighbour) or on to E (passing)
    assert c.mask()[HOLD]  # ... or is held one more sixteenth
    at(c, None, None, None, None)
    assert not c.mask()[HOLD]  # but not two
    assert any(r.layer == "plan:resolution" for r in c.why(HOLD))


def test_fermata_chords_are_held_and_a_pac_puts_the_tonic_in_the_soprano():
    plan = cadence_plan(figures=("V", "I"), fermata_last=True)
    c = at(Constraint(plan, hard_rules("strict")), 74, 67, 59, 43, *([None] * 12))
    sop = pitches_of(c.mask())  # the final I carries the PAC
    assert sop and all(p % 12 == 0 for p in sop)
    assert any(r.layer == "plan:pac-soprano" for r in c.why(token_of(76, True)))
    at(c, 72, 67, 64, 48, None)
    held = c.mask()
    assert held[HOLD] and not held[PITCH_OFFSET:].any()
    assert any(r.layer == "plan:fermata" for r in c.why(token_of(67, True)))


def test_a_seventh_in_the_bass_without_a_step_down_is_a_static_conflict():
    from partimento.grammar.plan import ChordEvent, Plan

    plan = Plan(key="C", bars=1, chords=[ChordEvent(0, 2, "V42", "C"), ChordEvent(2, 2, "I", "C")]).validate()
    conflicts = Constraint(plan, hard_rules("strict")).conflicts()
    assert conflicts and (conflicts[0].chord, conflicts[0].voice, conflicts[0].rules) == (0, 3, ["seventh-resolution"])
    ok = Plan(key="C", bars=1, chords=[ChordEvent(0, 2, "V42", "C"), ChordEvent(2, 2, "I6", "C")]).validate()
    assert Constraint(ok, hard_rules("strict")).conflicts() == []
