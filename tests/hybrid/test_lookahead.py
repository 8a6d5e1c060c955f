"""The reach look-ahead judges a move into the next chord with the notes that are given, and only where it is made.

One bar of V then I in C, every voice given but the tenor over the V; the alto and
soprano leave the V's third B to the tenor. On the I the tenor is given G3, so the
leading tone B3 may go there only as an inner voice falling to the fifth of a complete
tonic (``leading-tone-resolution``), or by moving on inside the V first.
"""
from __future__ import annotations

import numpy as np
import pytest
from hybrid_fakes import FakeSession

from partimento.grammar.errors import UnsatisfiableError
from partimento.grammar.plan import ChordEvent, Phrase, Plan
from partimento.grammar.rules import hard_rules
from partimento.hybrid.api import report_for
from partimento.hybrid.constraint import Constraint
from partimento.hybrid.decode import decode
from partimento.neural.encoding import HOLD, PITCH_OFFSET

B3, G3 = 59, 55
TENOR = 2


def _plan() -> Plan:
    return Plan(key="C", bars=1, chords=[ChordEvent(0, 2, "V", "C"), ChordEvent(2, 2, "I", "C")],
                phrases=[Phrase(0.0, 4.0, "C", None)]).validate()


def _forced(tonic_alto: int, tenor_moves: bool) -> np.ndarray:
    """(16, 4) tokens: D5 G4 _ G2 over the V, then C5 ``tonic_alto`` G3 C3 over the I.

    The tenor is free over the V; with ``tenor_moves`` False only at its onset (then held,
    so the note it strikes there is the note that goes on into the I).
    """
    f = np.full((16, 4), HOLD, np.int64)
    for v, (over_v, over_i) in enumerate([(74, 72), (67, tonic_alto), (-1, G3), (43, 48)]):
        if over_v >= 0:
            f[0, v] = PITCH_OFFSET + over_v
        f[8, v] = PITCH_OFFSET + over_i
    f[0:8 if tenor_moves else 1, TENOR] = -1
    return f


def _decode(forced: np.ndarray):
    plan = _plan()
    return plan, decode(FakeSession(plan.steps, 0), plan, hard_rules("strict"), seed=0, forced=forced)


def test_the_given_voices_of_the_next_onset_take_part_in_the_look_ahead():
    """With E4 given in the alto the tonic is complete, so B3 may fall to the given G3: nothing is refused.

    Before the fix the look-ahead judged the move with the soprano, alto and bass silent
    (an incomplete tonic), and refused the plan up front although this answer is legal.
    """
    forced = _forced(64, tenor_moves=False)
    c = Constraint(_plan(), hard_rules("strict"), forced)
    assert c.conflicts() == []
    assert c.reach.ok(0, TENOR, B3)
    plan, d = _decode(forced)
    assert int(d.pitch[7, TENOR]) == B3 and int(d.pitch[8, TENOR]) == G3
    assert report_for(d.pitch, d.attack, plan, "strict").errors == []


def test_a_note_struck_early_in_the_chord_may_go_on_by_a_later_move():
    """With G4 in the alto the tonic lacks its third: B3 must rise, so it cannot sound into the given G3.

    The tenor is free over the whole V, though: it sounds B at the onset and moves on
    before the I (B3 to a chord tone that goes on), which is legal, so nothing is refused.
    """
    forced = _forced(67, tenor_moves=True)
    c = Constraint(_plan(), hard_rules("strict"), forced)
    assert not c.reach.ok(0, TENOR, B3)  # held into the I it has no way on ...
    assert c.reach.ok_at(0, 0, TENOR, B3)  # ... struck at the onset it has one
    assert not c.reach.ok_at(7, 0, TENOR, B3)  # ... and at the V's last step none
    assert c.conflicts() == []
    plan, d = _decode(forced)
    assert int(d.pitch[0, TENOR]) % 12 == B3 % 12 and int(d.pitch[7, TENOR]) != B3
    assert report_for(d.pitch, d.attack, plan, "strict").errors == []


def test_a_true_dead_end_is_still_refused_up_front_with_its_place():
    """Tenor held from the V's onset, incomplete tonic, G3 given: no legal answer, so a located refusal."""
    forced = _forced(67, tenor_moves=False)
    conflicts = Constraint(_plan(), hard_rules("strict"), forced).conflicts()
    assert [(k.chord, k.voice, k.rules) for k in conflicts] == [(0, TENOR, ["leading-tone-resolution"])]
    with pytest.raises(UnsatisfiableError) as e:
        _decode(forced)
    loc = e.value.location
    assert (loc.measure, loc.beat, loc.voice) == (1, 1, "tenor")
    assert "no upper voice can sound the third B of V and go on into I" in e.value.message
    assert "instead of rising to C4" in e.value.message  # the rule's own words, from its check face


def test_a_bass_with_no_straight_way_on_may_pass_on_through_a_passing_note():
    """vi -> IV in C, every voice given but the bass over the vi: the kept alto E4 -> C4 makes fifths with any
    bass A going straight on to F3, and A is the vi's only bass note, but A-G-F passes on (G3 under the alto's E4).

    Before the fix the look-ahead knew only a move to another chord tone inside the chord, so the span was
    refused up front ("no bass note of vi can go on into IV") although a legal answer exists.
    """
    plan = Plan(key="C", bars=1, chords=[ChordEvent(0, 2, "vi", "C"), ChordEvent(2, 2, "IV", "C")],
                phrases=[Phrase(0.0, 4.0, "C", None)]).validate()
    forced = np.full((16, 4), HOLD, np.int64)
    for v, (over_vi, over_iv) in enumerate([(72, 72), (64, 60), (60, 57), (-1, 53)]):  # C5 E4 C4 _ / C5 C4 A3 F3
        if over_vi >= 0:
            forced[0, v] = PITCH_OFFSET + over_vi
        forced[8, v] = PITCH_OFFSET + over_iv
    forced[0:8, 3] = -1  # the bass is free over the vi
    c = Constraint(plan, hard_rules("strict"), forced)
    a3 = 57
    assert not c.reach.ok(0, 3, a3)  # held into the IV: fifths with the alto
    assert c.reach.ok_at(0, 0, 3, a3)  # struck at the onset it passes on through G3
    assert not c.reach.ok_at(7, 0, 3, a3)  # at the vi's last step it cannot
    assert c.conflicts() == []
    d = decode(FakeSession(plan.steps, 0), plan, hard_rules("strict"), seed=0, forced=forced)
    assert int(d.pitch[0, 3]) % 12 == 9 and int(d.pitch[8, 3]) == 53
    assert report_for(d.pitch, d.attack, plan, "strict").errors == []


def test_a_bass_with_no_straight_way_on_may_turn_back_through_a_neighbour_note():
    """V6/5 -> i in c♯, every voice given but the bass over the V6/5 (a span of a composed piece that ``infill`` refused,
    ``harmonize_vs_bach.py --infill``): the alto's suspended C♯4 resolves to B♯3 on the half beat and goes on to C♯4,
    so the bass's B♯2, the V6/5's only bass note, makes octaves going straight on to C♯3. The piece went B♯2-B2-C♯3:
    a step down to a non-chord tone and a step back up into the i, which ``plan:resolution`` allows. The look-ahead
    knew only passing notes that go on the same way, so the span was refused up front."""
    plan = Plan(key="c#", bars=1, chords=[ChordEvent(0, 1, "i", "c#"), ChordEvent(1, 1, "V65", "c#"),
                                          ChordEvent(2, 2, "i", "c#")],
                phrases=[Phrase(0.0, 4.0, "c#", None)]).validate()
    forced = np.full((16, 4), HOLD, np.int64)
    for step, notes in ((0, (64, 61, 56, 49)), (4, (66, -2, -2, -1)), (6, (-2, 60, -2, -1)), (8, (64, 61, -2, 49))):
        for v, p in enumerate(notes):  # E4 C♯4 G♯3 C♯3 | F♯4, the alto's C♯4 held over | B♯3 | E4 C♯4 _ C♯3
            if p >= 0:
                forced[step, v] = PITCH_OFFSET + p
    forced[4:8, 3] = -1  # the bass is free over the V6/5
    c = Constraint(plan, hard_rules("strict"), forced)
    b_sharp = 48
    assert not c.reach.ok(1, 3, b_sharp)  # held into the i: octaves with the alto
    assert c.reach.ok_at(4, 1, 3, b_sharp)  # struck at the onset it goes on through B2
    assert c.conflicts() == []
    d = decode(FakeSession(plan.steps, 0), plan, hard_rules("strict"), seed=0, forced=forced)
    assert int(d.pitch[4, 3]) == b_sharp and int(d.pitch[8, 3]) == 49
    assert report_for(d.pitch, d.attack, plan, "strict").errors == []
