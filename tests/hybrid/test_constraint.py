"""The constraint: one state, one rewind, named layers whose AND is the mask, geometry and look-ahead from the rules."""
from __future__ import annotations

import numpy as np
import pytest
from hybrid_fakes import FakeSession, cadence_plan

from partimento.grammar import load
from partimento.grammar.plan import ChordEvent, Phrase, Plan
from partimento.grammar.rules import hard_rules
from partimento.grammar.rules.profiles import PROFILES
from partimento.grammar.rules.base import RULES, Context, SonorityArray
from partimento.grammar.rules.spacing_range import Range
from partimento.grammar.theory import VOICES, key_info
from partimento.hybrid.constraint import HOLD_STABLE, Constraint
from partimento.hybrid.decode import decode
from partimento.hybrid.result import onset_misses
from partimento.neural.encoding import HOLD, PITCH_OFFSET

FIGURES = ("I", "vi", "ii6", "V7", "I", "IV", "V", "I")


def _pieces():
    chorale = load("chorale")
    plans = [cadence_plan(figures=FIGURES), chorale.sample(key="G", bars=2, seed=3),
             chorale.sample(key="d", bars=2, seed=8)]
    rules = hard_rules("strict")
    return [(p, rules, decode(FakeSession(p.steps, i), p, rules, seed=i).tokens) for i, p in enumerate(plans)]


PIECES = _pieces()


@pytest.mark.parametrize("index", range(len(PIECES)))
def test_named_layers_and_the_lazy_look_ahead_agree_with_the_mask(index):
    plan, rules, tokens = PIECES[index]
    c = Constraint(plan, rules)
    fast_answers = 0
    for tok in tokens.reshape(-1).tolist():
        legal = c.mask()
        assert legal[tok], c.position  # the decoder only writes legal tokens
        layers = c.layers()
        anded = np.logical_and.reduce([x.allowed for x in layers.layers])
        assert np.array_equal(anded, legal) and np.array_equal(layers.legal, legal), c.position
        base = c.base()
        lazy = base.copy()
        if c.has_lookahead():
            for t in np.flatnonzero(base):
                lazy[t] = c.lookahead_ok(int(t))
        assert np.array_equal(lazy, legal), c.position
        fast = c._hold_fast()
        if fast is not None:
            fast_answers += 1
            assert fast == bool(legal[HOLD]), c.position
        c.push(tok)
    assert fast_answers > plan.steps  # most holds inside a chord are answered without the mask


def test_rollback_restores_the_state_exactly():
    plan, rules, tokens = PIECES[1]
    flat = tokens.reshape(-1).tolist()
    c = Constraint(plan, rules)
    for tok in flat[:70]:
        c.push(tok)
    before = (c.mask().copy(), c.grid.pitch.copy(), list(c.window.row_steps))
    for tok in flat[70:101]:
        c.push(tok)
    c.rollback(31)
    assert c.position == divmod(70, 4)
    assert np.array_equal(c.mask(), before[0]) and np.array_equal(c.grid.pitch, before[1])
    assert c.window.row_steps == before[2]
    fresh = Constraint(plan, rules)
    for tok in flat[:70]:
        fresh.push(tok)
    assert np.array_equal(fresh.mask(), c.mask())


def test_voice_geometry_comes_from_the_rule_objects_given():
    """A profile's own range flows through: a narrower soprano range bounds the soprano."""

    class NarrowRange(Range):
        def allowed(self, state, voice):
            m = super().allowed(state, voice)
            if voice == 0:
                m[72:] = False  # the soprano below C5
            return m

    rules = [NarrowRange() if r.id == "range" else r for r in hard_rules("strict")]
    plan = cadence_plan(figures=FIGURES)
    d = decode(FakeSession(plan.steps, 1, uniform=True), plan, rules, seed=1)
    assert d.pitch[:, 0].max() < 72
    plain = [r for r in hard_rules("strict") if r.id != "range"]  # and with no range rule, no range
    c = Constraint(plan, plain)
    assert c.mask()[PITCH_OFFSET + 96]  # C7: a chord tone, and no rule says otherwise
    assert not Constraint(plan, hard_rules("strict")).mask()[PITCH_OFFSET + 96]


def test_why_names_the_plan_reason_and_the_rules_own_message():
    plan = cadence_plan(figures=("V7", "I"))
    c = Constraint(plan, hard_rules("strict"))
    removed = c.why(PITCH_OFFSET + 69)  # A4 at the onset of V7 in C
    assert any(r.layer == "plan:chord-tone" and "not a chord tone of V7 at an onset" in r.message for r in removed)
    high = c.why(PITCH_OFFSET + 91)  # G6: a chord tone, out of range
    assert [r.rule for r in high] == ["range"] and "outside its range" in high[0].message


def test_every_planned_seventh_sounds_at_its_onset():
    from partimento.hybrid.bass_line import plan_bass_line

    plan = plan_bass_line(load("chorale").sample(key="F", bars=4, seed=5))  # open inversions fixed, as realize does
    sevenths = [c for c in plan.chords if c.spec.seventh is not None]
    d = decode(FakeSession(plan.steps, 2), plan, hard_rules("strict"), seed=2)
    # every required pitch class (root, third, the seventh) sounds at the onset, a suspended
    # voice counting by the chord tone it resolves to (the 4 of a 4-3 stands for the 3)
    assert onset_misses(d.pitch, d.attack, plan) == []
    assert all(c.spec.seventh in c.spec.required for c in sevenths)


@pytest.mark.parametrize("seed", [0, 1, 12])
def test_the_blues_iv7_keeps_its_seventh_and_lets_it_fall_by_step(seed):
    """IV7 (V7/bVII) before I: the seventh (Eb over F7 in C) has no step down in the tonic, so the
    look-ahead once left it out (adherence counted the chord a miss). It may now sound and fall by
    step through a passing note inside the chord (Eb-D over F7, C on I); nothing is dropped, every
    seventh sounds at its onset, and the strict checker finds nothing."""
    from partimento.hybrid.api import report_for
    from partimento.hybrid.bass_line import plan_bass_line

    plan = plan_bass_line(load("blues").sample(key="C", bars=12, seed=seed))
    assert any("/bVII" in c.figure for c in plan.chords)
    c = Constraint(plan, hard_rules("strict"))
    assert c.dropped_sevenths == []
    d = decode(FakeSession(plan.steps, 2), plan, hard_rules("strict"), seed=seed)
    assert onset_misses(d.pitch, d.attack, plan) == []
    assert report_for(d.pitch, d.attack, plan, "strict").errors == []


def test_the_reach_look_ahead_asks_the_rules_it_was_given():
    """V42 going to a root-position tonic: the bass F must fall a step, and C is no step below it."""
    plan = Plan(key="C", bars=1, chords=[ChordEvent(0, 2, "V42", "C"), ChordEvent(2, 2, "I", "C")],
                phrases=[Phrase(0.0, 4.0, "C", None)]).validate()
    strict = Constraint(plan, hard_rules("strict"))
    conflicts = strict.conflicts()
    assert conflicts and conflicts[0].chord == 0 and conflicts[0].rules == ["seventh-resolution"]
    assert "resolving down by step" in conflicts[0].message  # the rule's own words, from its check face
    without = Constraint(plan, [r for r in hard_rules("strict") if r.id != "seventh-resolution"])
    assert without.conflicts() == []
    f3 = 53  # the seventh F3 in the bass has no way on under seventh-resolution ...
    assert not strict.reach.ok(0, 3, f3) and strict.reach.blockers[0][3][f3] == ["seventh-resolution"]
    assert without.reach.ok(0, 3, f3)  # ... and one without it


def _hold_stable_instances() -> list[tuple[str, object]]:
    """Every HOLD_STABLE rule as its class builds it by default and as each profile configures it."""
    out = [(f"default:{i}", RULES[i]()) for i in sorted(HOLD_STABLE)]
    for name, profile in sorted(PROFILES.items()):
        out += [(f"{name}:{r.id}", r) for r in profile.rules() if r.id in HOLD_STABLE]
    return out


@pytest.mark.parametrize("label, rule", _hold_stable_instances(), ids=[x[0] for x in _hold_stable_instances()])
def test_hold_stable_rules_find_no_new_fault_in_held_notes_alone(label, rule):
    """Why a hold that adds no sonority need not be asked about: in random pairs of sonorities of
    one chord where the voices H hold their notes, every fault the rule finds at the second that
    involves only voices of H was there at the first already (which the decoder had accepted).
    Checked for each rule as each profile configures it (its parameters included)."""
    from partimento.grammar.theory import chord_spec

    rule_id = rule.id
    gen = np.random.default_rng(sum(map(ord, rule_id)))
    keys = [key_info("C"), key_info("a")]
    chords = [chord_spec(f, k) for f, k in (("V7", "C"), ("I", "C"), ("viio7", "a"), ("V", "a"), ("ii65", "C"))]
    checked = 0
    for _ in range(600):
        k = keys[int(gen.integers(0, 2))]
        ch = chords[int(gen.integers(0, len(chords)))]
        row0 = gen.integers(40, 80, 4).astype(np.int16)
        held = gen.random(4) < 0.6
        row1 = np.where(held, row0, gen.integers(40, 80, 4)).astype(np.int16)
        son = SonorityArray(np.stack([row0, row1]), np.stack([np.ones(4, bool), ~held]), np.array([0.0, 0.25]),
                            np.array([0.25, 0.25]), np.array([1, 1], np.int32), np.array([1.0, 1.25]))
        ctx = Context(keys=[k, k], chords=[ch, ch])
        before = {tuple(v.voices) for v in rule.check(son, ctx) if v.index == 0}
        for v in rule.check(son, ctx):
            if v.index == 1 and {VOICES.index(n) for n in v.voices} <= set(np.flatnonzero(held).tolist()):
                checked += 1
                assert tuple(v.voices) in before, v.message
    assert checked or rule_id not in ("voice-crossing", "spacing", "range", "out-of-key")  # the static ones were tried


def test_a_user_rule_is_asked_about_every_hold():
    from partimento.grammar.rules.base import Rule

    class Quiet(Rule):
        id = "test-quiet"

        def check(self, s, ctx):
            return []

        def allowed(self, state, voice):
            return np.ones(128, bool)

    plan = cadence_plan(figures=FIGURES)
    assert Constraint(plan, hard_rules("strict"))._holds_exempt
    assert not Constraint(plan, hard_rules("strict") + [Quiet()])._holds_exempt


@pytest.mark.parametrize("index", range(len(PIECES)))
def test_the_hold_exemption_gives_the_verdict_the_rules_give(index):
    """Exempting a hold from the rules is a shortcut, not a second chance: wherever it applies
    along a decoded piece, asking every rule about the hold (the held pitch struck again)
    gives the same HOLD entry of the mask."""
    plan, rules, tokens = PIECES[index]
    exempt, asked = Constraint(plan, rules), Constraint(plan, rules)
    asked._holds_exempt = False
    compared = 0
    for tok in tokens.reshape(-1).tolist():
        t, v = exempt.position
        if exempt._rules_exempt_hold(t, v):
            compared += 1
            assert exempt.mask()[HOLD] == asked.mask()[HOLD], (t, v)
        exempt.push(tok)
        asked.push(tok)
    assert compared > plan.steps


def test_a_hold_the_decoder_chose_does_not_excuse_what_a_given_note_then_breaks():
    """The tenor is given G3 on beat 1 and free after it; the given bass leaps C3 -> A3 on beat 3.
    Holding the G3 to beat 3 would let the bass move above the tenor's previous note (voice
    overlap). The hold is the decoder's choice, so the look-ahead must refuse it; it used to
    count the held note as given and excuse the overlap as the caller's (an infill of a
    composed chorale wrote one this way and blamed the kept notes)."""
    plan = cadence_plan(figures=("I", "vi"), beats=2.0, fermata_last=False)
    q = 4
    forced = np.full((plan.steps, 4), -1, np.int64)
    forced[:, 0], forced[:, 1] = HOLD, HOLD
    forced[0, 0], forced[0, 1] = PITCH_OFFSET + 76, PITCH_OFFSET + 72  # E5, C5 held throughout
    forced[0, 2] = PITCH_OFFSET + 55  # the tenor's given G3
    forced[:, 3] = HOLD
    forced[0, 3], forced[2 * q, 3] = PITCH_OFFSET + 48, PITCH_OFFSET + 57  # C3, then A3 on beat 3
    c = Constraint(plan, hard_rules("strict"), forced)
    for t in range(2 * q):
        for v in range(4):
            if forced[t, v] >= 0:
                c.push(int(forced[t, v]))
                continue
            legal = c.mask()
            if t == 2 * q - 1:  # the step before the bass's leap: the tenor may not still hold G3
                assert not legal[HOLD]
                removals = c.why(HOLD)
                assert [r.layer for r in removals] == ["look-ahead:given"]
                assert "voice-overlap" in removals[0].message, removals[0].message
            c.push(HOLD if legal[HOLD] else int(np.flatnonzero(legal)[0]))
