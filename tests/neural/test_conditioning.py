import numpy as np

from partimento.grammar.plan import ChordEvent, Phrase, Plan
from partimento.neural.conditioning import FIELDS, Conditioning, plan_conditioning


def _plan(key="G", pickup=0.0):
    chords = [ChordEvent(0, 2, "I", key), ChordEvent(2, 2, "V65", key),
              ChordEvent(4, 2, "IV", key), ChordEvent(6, 2, "I", key, cadence="PAC", fermata=True)]
    return Plan(key=key, metre="4/4", bars=2, pickup=pickup, chords=chords,
                phrases=[Phrase(0, 8, key, "PAC")])


def test_plan_fields_match_the_chords():
    plan = _plan()
    c = plan_conditioning(plan)
    assert isinstance(c, Conditioning) and len(c) == plan.steps == 32
    assert c.values.shape == (32, len(FIELDS))
    assert set(c.field("tonic")) == {7} and set(c.field("mode")) == {0}
    # I = degrees 0, 4, 7 relative to the tonic
    assert c.field("pcs")[0] == (1 << 0) | (1 << 4) | (1 << 7)
    assert c.field("root")[0] == 0 and c.field("root")[8] == 7
    assert c.field("bass")[8] == 11  # V65: the leading tone (F#) in the bass, 11 above G
    assert c.field("onset").nonzero()[0].tolist() == [0, 8, 16, 24]
    assert c.field("to_change")[:8].tolist() == [8, 7, 6, 5, 4, 3, 2, 1]
    assert c.field("next_pcs")[0] == c.field("pcs")[8]
    assert c.field("fermata")[24:].all() and not c.field("fermata")[:24].any()
    assert set(c.field("cadence")[24:]) == {1}
    assert c.field("bar_pos")[:17].tolist() == list(range(16)) + [0]
    assert set(c.field("bar_steps")) == {16}
    assert c.field("to_phrase_end")[0] == 8 and c.field("to_phrase_end")[31] == 1


def test_pickup_counts_from_the_end_of_the_bar():
    plan = Plan(key="C", metre="3/4", bars=1, pickup=1.0,
                chords=[ChordEvent(0, 1, "V", "C"), ChordEvent(1, 3, "I", "C")])
    c = plan_conditioning(plan)
    assert len(c) == 16
    assert c.field("bar_pos")[:5].tolist() == [8, 9, 10, 11, 0]
    assert set(c.field("bar_steps")) == {12}


def test_transposition_moves_only_the_tonic():
    c = plan_conditioning(_plan("C"))
    d = c.transposed(7)
    assert np.array_equal(d.values[:, 1:], c.values[:, 1:])
    assert np.array_equal(d.field("tonic"), plan_conditioning(_plan("G")).field("tonic"))
    assert np.array_equal(d.values, plan_conditioning(_plan("G")).values)
