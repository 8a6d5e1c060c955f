"""The decoder's shortcuts, memo, look-aheads and preferences: same music where they must not change it.

* the sure-hold shortcut and the per-step memo of masks are pure speed: seeded sampling and
  greedy decoding give the same tokens with them switched off (the draw and the random
  stream are the same, see ``hybrid.sampling``);
* the preference layer reweights and never forbids: every weight is positive, a piece
  decoded without it is as legal, and what it disfavours it names;
* the look-aheads cut the work spent re-decoding after dead ends.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hybrid_fakes import FakeSession, cadence_plan

from partimento.grammar import load
from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.grammar.rules import hard_rules
from partimento.hybrid import search as search_module
from partimento.hybrid.api import report_for
from partimento.hybrid.constraint import Constraint
from partimento.hybrid.decode import Sampling, decode
from partimento.hybrid.preferences import NO_STYLE, STYLE_IDS, Preferences, Style, rocking_pitch
from partimento.neural.encoding import HOLD, PITCH_OFFSET, token_of

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
            chorale.sample(key="G", bars=4, seed=3)]


PLANS = _plans()


@pytest.mark.parametrize("sampling", [Sampling(), Sampling(strategy="greedy"), Sampling(temperature=0.8, top_p=0.9)])
def test_the_sure_hold_shortcut_changes_no_token(sampling, monkeypatch):
    cases = [(p, i) for i, p in enumerate(PLANS)]
    fast = [decode(HoldingSession(p.steps, i), p, hard_rules("strict"), seed=i, sampling=sampling) for p, i in cases]
    assert all(d.stats["sure_tokens"] > d.tokens.shape[0] for d in fast)
    monkeypatch.setattr(search_module, "sure_favourite", lambda probs, temperature, top_p: -1)
    slow = [decode(HoldingSession(p.steps, i), p, hard_rules("strict"), seed=i, sampling=sampling) for p, i in cases]
    assert all(d.stats["sure_tokens"] == 0 for d in slow)
    assert all(np.array_equal(a.tokens, b.tokens) for a, b in zip(fast, slow))


@pytest.mark.parametrize("index", range(len(PLANS)))
def test_the_step_memo_of_masks_changes_no_sampled_token(index, monkeypatch):
    plan = PLANS[index]
    memo = decode(FakeSession(plan.steps, index), plan, hard_rules("strict"), seed=index)

    class Forgetful(dict):
        def get(self, key, default=None):
            return default

    original = Constraint.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self._memo = Forgetful()

    monkeypatch.setattr(Constraint, "__init__", init)
    fresh = decode(FakeSession(plan.steps, index), plan, hard_rules("strict"), seed=index)
    assert np.array_equal(memo.tokens, fresh.tokens)


@pytest.mark.parametrize("index", range(len(PLANS)))
def test_preferences_reweight_and_never_forbid(index):
    plan = PLANS[index]
    rules = hard_rules("strict")
    d = decode(FakeSession(plan.steps, index), plan, rules, seed=index)
    c = Constraint(plan, rules)
    prefs = Preferences(c.tables, c.reach, style=Style(0.25, 0.6, 0.2, 0.2, 0.005, 0.2))  # every calibration on
    spoke = 0
    for tok in d.tokens.reshape(-1).tolist():
        t, v = c.position
        legal = c.mask()
        w, names = prefs.weights(c.grid, t, v, legal)
        if w is not None:
            spoke += 1
            assert (w > 0).all() and (w <= 1).all() and names and prefs.active(c.grid, t, v)
            if set(names) - set(STYLE_IDS):  # the look-aheads: the step before an onset
                assert plan.steps > t + 1 and c.tables.onset[t + 1]
            fav = dict(prefs.favoured(c.grid, t, v, legal))
            assert list(fav) == names
            if "prefer:motion" in fav:  # the style calibration: an off-beat eighth; holds, repeats, leaps disfavoured
                assert t % 4 == 2  # every voice: the soprano with its own weight (Style.soprano_eighth)
                prev = int(c.grid.previous(t, v))
                for tok in np.flatnonzero(legal & ~fav["prefer:motion"]).tolist():
                    assert tok == HOLD or not 1 <= abs(tok - PITCH_OFFSET - prev) <= 4
            if "prefer:suspension" in fav:  # a chord onset, a suspending hold favoured
                assert c.tables.onset[t] and v < 3 and fav["prefer:suspension"][HOLD]
            if "prefer:bass-restrike" in fav:  # a beat or onset: the bass's own note struck again disfavoured
                assert v == 3 and (c.tables.onset[t] or t % 4 == 0) and fav["prefer:bass-restrike"][HOLD]
                assert np.flatnonzero(~fav["prefer:bass-restrike"]).tolist() == [PITCH_OFFSET + int(c.grid.previous(t, v))]
            if "prefer:bass-sixteenth" in fav:  # a 16th position (every new note disfavoured), or an off-beat
                assert v == 3 and fav["prefer:bass-sixteenth"][HOLD]  # eighth before an onset (only 16ths go on)
                assert t % 2 == 1 or (t % 4 == 2 and c.tables.onset[t + 2])
            if "prefer:bass-fill" in fav:  # a half beat before an onset: only a note a step above a bass a third below
                assert v == 3 and t % 4 == 2 and c.tables.onset[t + 2] and not fav["prefer:bass-fill"][HOLD]
                prev = int(c.grid.previous(t, v))
                below = c.tables.chord_at(t + 2).spec.bass
                for tok in np.flatnonzero(legal & fav["prefer:bass-fill"]).tolist():
                    assert 1 <= prev - (tok - PITCH_OFFSET) <= 2 and (tok - PITCH_OFFSET - below) % 12 in (1, 2)
            if "prefer:inner-sixteenth" in fav:  # alto, tenor: a note ended on a 16th that is not a 16th;
                assert v in (1, 2)  # a 16th-position note held over the next half beat; a suspension held
                start = int(c.grid.start[t - 1, v])  # where it could resolve only on the next 16th
                if t % 2 == 1:
                    assert start != t - 1 and fav["prefer:inner-sixteenth"][HOLD]
                    assert not (legal & fav["prefer:inner-sixteenth"])[1:].any()
                else:
                    assert not fav["prefer:inner-sixteenth"][HOLD] and fav["prefer:inner-sixteenth"][PITCH_OFFSET:].all()
                    ch = c.tables.chord_at(t)
                    late = (ch.end - t == 2 if c.tables.onset[t]
                            else c.grid.nct[t - 1, v] and start < ch.onset and t + 2 >= min(ch.end, ch.onset + 5))
                    assert (start == t - 1 and start % 2 == 1) or late
            if "prefer:no-rocking" in fav:  # soprano, alto, tenor after a, b, a: only b or a struck again disfavoured
                back = rocking_pitch(c.grid, t, v)
                off = set(np.flatnonzero(~fav["prefer:no-rocking"]).tolist())
                assert v in (0, 1, 2) and back >= 0 and fav["prefer:no-rocking"][HOLD]
                assert off and off <= {PITCH_OFFSET + back, PITCH_OFFSET + int(c.grid.previous(t, v))}
            if "prefer:soprano-motion" in fav:  # the soprano at an onset: a hold, a repeat, a leap of a fourth or more
                assert v == 0 and c.tables.onset[t] and t > 0
                prev = int(c.grid.previous(t, v))
                for tok in np.flatnonzero(legal & ~fav["prefer:soprano-motion"]).tolist():
                    assert tok == HOLD or not 1 <= abs(tok - PITCH_OFFSET - prev) <= 4
                for tok in np.flatnonzero((legal & fav["prefer:soprano-motion"])[PITCH_OFFSET:]).tolist():
                    assert 1 <= abs(tok - prev) <= 4
            if "prefer:inner-step" in fav:  # alto, tenor at an onset: only a third or more disfavoured
                assert v in (1, 2) and c.tables.onset[t] and t > 0 and fav["prefer:inner-step"][HOLD]
                prev = int(c.grid.previous(t, v))
                off = np.flatnonzero(legal & ~fav["prefer:inner-step"]).tolist()
                assert off and all(abs(tok - PITCH_OFFSET - prev) >= 3 for tok in off)
            if "prefer:soprano-step" in fav:  # the soprano at an onset: only a third or more disfavoured
                assert v == 0 and c.tables.onset[t] and t > 0 and fav["prefer:soprano-step"][HOLD]
                prev = int(c.grid.previous(t, v))
                off = np.flatnonzero(legal & ~fav["prefer:soprano-step"]).tolist()
                assert off and all(abs(tok - PITCH_OFFSET - prev) >= 3 for tok in off)
        c.push(tok)
    assert spoke > 0
    free = decode(FakeSession(plan.steps, index), plan, rules, seed=index, preferences=False)
    assert report_for(free.pitch, free.attack, plan, "strict").errors == []


def test_before_a_pac_the_soprano_is_steered_off_the_octave_of_the_dominants_bass():
    plan = cadence_plan(figures=("I", "IV", "V", "I"), fermata_last=False)  # PAC on beat 4
    c = Constraint(plan, hard_rules("strict"))
    prefs = Preferences(c.tables, c.reach)
    a = int(round(plan.chords[-1].onset * STEPS_PER_QUARTER))
    assert prefs._barred[a - 1] == 7 and (prefs._barred[: a - 1] == -1).all()
    for t in range(a - 1):  # V voiced G4 D4 B3 G2 (the soprano on the bass's octave) and held
        for p in (67, 62, 59, 43):
            c.push(token_of(p, True) if t == a - 4 or t == 0 else HOLD)
    w, names = prefs.weights(c.grid, a - 1, 0, c.mask())
    assert "prefer:cadence-approach" in names
    assert w[HOLD] < 1 and w[token_of(67, True)] < 1  # holding G or striking it again: disfavoured
    assert (w[PITCH_OFFSET:][np.arange(128) % 12 != 7] == w.max()).any()  # another note: favoured


def test_look_aheads_leave_the_output_rule_abiding_and_cut_re_decoding():
    from partimento.hybrid.search import Search

    plan = load("chorale").sample(key="a", bars=8, seed=11)
    rules = hard_rules("strict")
    redone = {True: 0, False: 0}
    for lookahead in (True, False):
        for s in range(3):
            c = Constraint(plan, rules, lookahead=lookahead)
            try:
                tokens, stats, _ = Search(HoldingSession(plan.steps, s), c, Sampling(), s).run()
            except Exception:  # noqa: BLE001 - an unsatisfiable run only strengthens the comparison
                redone[lookahead] += 10**6
                continue
            redone[lookahead] += stats["retries"]
            if lookahead:
                assert report_for(c.grid.pitch, c.grid.attack, plan, "strict").errors == []
    assert redone[True] <= redone[False]


def test_the_style_calibration_is_named_weighs_by_its_strengths_and_turns_off():
    """prefer:motion weighs a hold at an off-beat eighth of the lower voices by Style.motion, the soprano's by
    Style.soprano_eighth; style=False: silent."""
    from partimento.hybrid.preferences import NO_STYLE, STYLE, Style

    plan = cadence_plan(figures=("I", "IV", "V", "I"), beats=2.0)
    c = Constraint(plan, hard_rules("strict"))
    for t in range(2):
        for p in (72, 64, 55, 48):
            c.push(token_of(p, True) if t == 0 else HOLD)
    c.push(HOLD)  # the soprano at step 2 (an off-beat eighth, inside I)
    t, v = c.position
    assert (t, v) == (2, 1)
    legal = c.mask()
    on = Preferences(c.tables, c.reach)
    w, names = on.weights(c.grid, t, v, legal)
    assert names == ["prefer:motion"] and w[HOLD] == STYLE.motion
    step, repeat, leap = (token_of(p, True) for p in (62, 64, 57))  # from E4: D4, E4 again, A3 (a fourth)
    assert legal[step] and w[step] == 1 and w[repeat] == STYLE.motion
    assert not legal[leap] or w[leap] == STYLE.motion
    for tok in (HOLD, step, repeat):  # one token alone weighs what it weighs in the full mask
        assert on.weight_of(c.grid, t, v, tok) == w[tok]
    for off in (Preferences(c.tables, c.reach, style=False), Preferences(c.tables, c.reach, style=NO_STYLE)):
        assert off.weights(c.grid, t, v, legal) == (None, [])
    sop_w, sop_names = Preferences(c.tables, c.reach).weights(c.grid, 2, 0, legal)  # the soprano: its own weight
    assert sop_names == ["prefer:motion"] and sop_w[HOLD] == STYLE.soprano_eighth != STYLE.motion
    assert Preferences(c.tables, c.reach, style=replace(STYLE, soprano_eighth=1.0)).weights(c.grid, 2, 0, legal)[1] == []
    with pytest.raises(ValueError):
        Style(motion=0.0)
    plain = decode(FakeSession(plan.steps, 1), plan, hard_rules("strict"), seed=1, sampling=Sampling(style=False))
    again = decode(FakeSession(plan.steps, 1), plan, hard_rules("strict"), seed=1,
                   sampling=Sampling(style=False))
    assert np.array_equal(plain.tokens, again.tokens)
    assert report_for(plain.pitch, plain.attack, plan, "strict").errors == []


def test_the_bass_may_have_its_own_motion_weight():
    """Style.bass_motion weighs the bass's hold at an off-beat eighth; alto and tenor keep Style.motion."""
    from partimento.hybrid.preferences import Style

    plan = cadence_plan(figures=("I", "IV", "V", "I"), beats=2.0)
    style = Style(motion=0.15, bass_motion=0.4)
    assert style.motion_of(1) == 0.15 and style.motion_of(3) == 0.4 and Style().motion_of(3) == Style().motion
    c = Constraint(plan, hard_rules("strict"))
    for t in range(2):
        for p in (72, 64, 55, 48):
            c.push(token_of(p, True) if t == 0 else HOLD)
    for _ in range(3):  # soprano, alto, tenor hold at step 2 (an off-beat eighth, inside I)
        c.push(HOLD)
    t, v = c.position
    assert (t, v) == (2, 3)
    w, names = Preferences(c.tables, c.reach, style=style).weights(c.grid, t, v, c.mask())
    assert "prefer:motion" in names and w[HOLD] == 0.4
    with pytest.raises(ValueError):
        Style(bass_motion=0.0)


def test_the_bass_calibration_weighs_restrikes_on_beats_and_new_notes_on_sixteenths():
    """prefer:bass-restrike: the bass's own note struck again at a chord onset; prefer:bass-sixteenth: any new
    bass note on a 16th position. Holding is favoured by both; each weighs by its Style strength."""
    plan = cadence_plan(figures=("I", "vi6", "V", "I"), beats=2.0)  # I -> vi6 keep C in the bass
    c = Constraint(plan, hard_rules("strict"))
    style = Style(motion=1.0, suspension=1.0, restrike=0.3, bass_sixteenth=0.2)
    prefs = Preferences(c.tables, c.reach, style=style)
    for p in (72, 64, 55, 48):  # step 0: C5 E4 G3 C3
        c.push(token_of(p, True))
    for p in (72, 64, 55):
        c.push(HOLD)
    t, v = c.position
    assert (t, v) == (1, 3)  # a 16th position in I
    legal = c.mask()
    w, names = prefs.weights(c.grid, t, v, legal)
    assert names == ["prefer:bass-sixteenth"] and w[HOLD] == 1
    assert (w[PITCH_OFFSET:][legal[PITCH_OFFSET:]] == style.bass_sixteenth).all()
    c.push(HOLD)
    for _ in range(6 * 4):  # hold everything up to the vi6 onset at step 8
        c.push(HOLD)
    for p in (72, 64, 57):  # vi6: C5 E4 A3 over the bass C3
        t, v = c.position
        c.push(token_of(p, True) if c.mask()[token_of(p, True)] else HOLD)
    t, v = c.position
    assert (t, v) == (8, 3) and c.tables.onset[t]
    legal = c.mask()
    restrike = token_of(48, True)
    assert legal[restrike] and legal[HOLD]
    w, names = prefs.weights(c.grid, t, v, legal)
    assert names == ["prefer:bass-restrike"] and w[restrike] == style.restrike
    assert w[HOLD] == 1 and (w[np.flatnonzero(legal)] > 0).all()
    assert prefs.weight_of(c.grid, t, v, restrike) == style.restrike and prefs.weight_of(c.grid, t, v, HOLD) == 1
    assert set(STYLE_IDS) <= set(__import__("partimento.hybrid.preferences", fromlist=["x"]).PREFERENCE_IDS)
    off = Preferences(c.tables, c.reach, style=False)
    assert off.weights(c.grid, t, v, legal) == (None, [])


def _bass_at_half_beat(figures: tuple[str, ...], style: Style):
    """A constraint and preferences with I (C5 E4 G3 C3) held up to the bass's off-beat eighth before chord 2."""
    plan = cadence_plan(figures=figures, beats=2.0)
    c = Constraint(plan, hard_rules("strict"))
    prefs = Preferences(c.tables, c.reach, style=style)
    for p in (72, 64, 55, 48):
        c.push(token_of(p, True))
    while c.position != (6, 3):  # everything held up to step 6, the bass's half beat before the onset at 8
        c.push(HOLD)
    return c, prefs


def test_the_next_bass_struck_a_half_beat_early_is_not_favoured():
    """prefer:bass-sixteenth at the half beat before I -> V6 (C3 -> B2): B2 struck now is a non-chord tone the plan
    will not hold into V6, so it could only turn back to C3 on the 16th (C-B-C-B); it weighs Style.bass_sixteenth
    like any other non-chord tone that cannot step into B2. Chord tones and holding stay favoured. (It used to
    count as "near" the next bass and was favoured: harmonized basses on valid had 11.5% 16ths, 7.5% after.)"""
    style = Style(motion=1.0, suspension=1.0, restrike=1.0, bass_sixteenth=0.2, bass_fill=1.0)
    c, prefs = _bass_at_half_beat(("I", "V6", "I", "V"), style)
    t, v = c.position
    legal = c.mask()
    early = token_of(47, True)  # B2: the next bass, not a tone of I
    assert legal[early] and legal[HOLD]
    w, names = prefs.weights(c.grid, t, v, legal)
    assert names == ["prefer:bass-sixteenth"]
    assert w[early] == style.bass_sixteenth and w[HOLD] == 1
    for p in (43, 52):  # G2, E3: tones of I
        if legal[token_of(p, True)]:
            assert w[token_of(p, True)] == 1
    assert prefs.weight_of(c.grid, t, v, early) == style.bass_sixteenth


def test_the_bass_fill_favours_the_passing_note_into_a_bass_a_third_below():
    """prefer:bass-fill: at the half beat before I -> IV6 (bass C3 -> A2) the B2 between is favoured; holding and
    every other note weigh Style.bass_fill; nothing is forbidden. Before I -> IV (a fourth, or a fifth down) silent."""
    style = Style(motion=1.0, suspension=1.0, restrike=1.0, bass_sixteenth=1.0, bass_fill=0.3)
    c, prefs = _bass_at_half_beat(("I", "IV6", "V", "I"), style)
    t, v = c.position
    legal = c.mask()
    passing = token_of(47, True)  # B2, a step from C3 and a step onto A2
    assert legal[passing] and legal[HOLD]
    w, names = prefs.weights(c.grid, t, v, legal)
    assert names == ["prefer:bass-fill"]
    assert w[passing] == 1 and w[HOLD] == style.bass_fill
    others = legal.copy()
    others[[passing, HOLD]] = False
    assert others.any() and (w[others] == style.bass_fill).all()  # e.g. C3 again, A2 at once
    assert (w > 0).all()
    fav = dict(prefs.favoured(c.grid, t, v, legal))["prefer:bass-fill"]
    assert np.flatnonzero(legal & fav).tolist() == [passing]
    for tok in (HOLD, passing, int(np.flatnonzero(others)[0])):  # one token alone weighs as in the full mask
        assert prefs.weight_of(c.grid, t, v, tok) == w[tok]
    assert Preferences(c.tables, c.reach, style=NO_STYLE_FILL).weights(c.grid, t, v, legal) == (None, [])

    for figures in (("I", "IV", "V", "I"), ("I", "vi6", "V", "I")):  # C3 -> F, C3 -> C: no third to fill
        c, prefs = _bass_at_half_beat(figures, style)
        assert prefs.weights(c.grid, *c.position, c.mask()) == (None, [])


NO_STYLE_FILL = Style(motion=1.0, suspension=1.0, restrike=1.0, bass_sixteenth=1.0, bass_fill=1.0, inner_sixteenth=1.0,
                      rocking=1.0)


def _fills(pitch: np.ndarray, attack: np.ndarray) -> int:
    """Half beats before a beat where the bass falls a third by two steps, through a note struck there."""
    n = 0
    for t in range(2, pitch.shape[0] - 2, 4):
        a, b, c = (int(x) for x in (pitch[t - 1, 3], pitch[t, 3], pitch[t + 2, 3]))
        n += bool(attack[t, 3] and attack[t + 2, 3]) and a - c in (3, 4) and 1 <= a - b <= 2 and 1 <= b - c <= 2
    return n


def _counts_by_weight(monkeypatch, style_at, count) -> dict[float, int]:
    """``count(pitch, attack)`` summed over 8 fake-model decodes of one ten-chord plan, with the default
    calibration replaced by ``style_at(weight)`` for weight 1 (off) and 0.01; every decode strict-error free."""
    from partimento.hybrid import preferences

    plan = cadence_plan(figures=("I", "IV6", "V", "vi", "IV", "ii", "I6", "IV", "V", "I"), beats=2.0)
    rules = hard_rules("strict")
    counts = {}
    for weight in (1.0, 0.01):
        monkeypatch.setattr(preferences, "STYLE", style_at(weight))
        counts[weight] = 0
        for seed in range(8):
            d = decode(FakeSession(plan.steps, seed), plan, rules, seed=seed)
            assert report_for(d.pitch, d.attack, plan, "strict").errors == []
            counts[weight] += count(d.pitch, d.attack)
    return counts


def test_decoded_with_the_bass_fill_the_bass_fills_more_falling_thirds(monkeypatch):
    counts = _counts_by_weight(monkeypatch, lambda w: Style(0.25, 0.6, 0.02, 0.1, w), _fills)
    assert counts[0.01] > counts[1.0]


INNER_ONLY = Style(motion=1.0, suspension=1.0, restrike=1.0, bass_sixteenth=1.0, bass_fill=1.0, inner_sixteenth=0.2,
                   rocking=1.0)


def _held_from_step_0(figures: tuple[str, ...], until: tuple[int, int]):
    """A constraint with I (C5 E4 G3 C3) struck at step 0 and every voice held up to ``until`` (step, voice)."""
    plan = cadence_plan(figures=figures, beats=2.0)
    c = Constraint(plan, hard_rules("strict"))
    for p in (72, 64, 55, 48):
        c.push(token_of(p, True))
    while c.position != until:
        c.push(HOLD)
    return c


def test_the_inner_sixteenth_weighs_notes_ended_on_a_sixteenth_unless_sixteenths():
    """prefer:inner-sixteenth: in alto and tenor, a new note on a 16th position that ends a note longer than a 16th
    (a dotted eighth, a double-dotted quarter: the late resolution) weighs Style.inner_sixteenth; holding is
    favoured; nothing is forbidden. Silent for a 16th run, in soprano and bass, and with the strength 1."""
    figures = ("I", "IV", "V", "I")
    c = _held_from_step_0(figures, (3, 1))  # the alto at step 3: E4 struck at step 0 would last a dotted eighth
    prefs = Preferences(c.tables, c.reach, style=INNER_ONLY)
    t, v = c.position
    legal = c.mask()
    assert legal[HOLD] and legal[PITCH_OFFSET:].any()
    w, names = prefs.weights(c.grid, t, v, legal)
    assert names == ["prefer:inner-sixteenth"] and w[HOLD] == 1
    assert (w[PITCH_OFFSET:][legal[PITCH_OFFSET:]] == INNER_ONLY.inner_sixteenth).all() and (w > 0).all()
    fav = dict(prefs.favoured(c.grid, t, v, legal))["prefer:inner-sixteenth"]
    assert np.flatnonzero(legal & fav).tolist() == [HOLD]
    for tok in (HOLD, int(np.flatnonzero(legal[PITCH_OFFSET:])[0]) + PITCH_OFFSET):
        assert prefs.weight_of(c.grid, t, v, tok) == w[tok]
    c.push(HOLD)
    assert c.position == (3, 2) and prefs.weights(c.grid, 3, 2, c.mask())[1] == ["prefer:inner-sixteenth"]  # tenor
    c.push(HOLD)
    assert prefs.weights(c.grid, 3, 3, c.mask()) == (None, [])  # the bass: prefer:bass-sixteenth's (off here)
    for until in ((3, 0), (2, 1), (4, 1)):  # the soprano; a half beat; a beat: silent
        c = _held_from_step_0(figures, until)
        assert prefs.weights(c.grid, *c.position, c.mask()) == (None, []), until
    c = _held_from_step_0(figures, (1, 1))  # E4 struck at step 0 ended at step 1: a 16th, silent
    assert prefs.weights(c.grid, 1, 1, c.mask()) == (None, [])
    assert Preferences(c.tables, c.reach, style=NO_STYLE_FILL).weights(c.grid, 3, 1, legal) == (None, [])


def test_the_inner_sixteenth_favours_ending_a_note_struck_on_a_sixteenth_after_one_step():
    """A note the alto strikes on a 16th position and holds over the next half beat lasts an odd value (3, 5, 7
    sixteenths): at that half beat the hold weighs Style.inner_sixteenth, a new note is favoured."""
    c = _held_from_step_0(("I", "IV", "V", "I"), (1, 1))
    prefs = Preferences(c.tables, c.reach, style=INNER_ONLY)
    spoken = 0
    for tok in np.flatnonzero(c.mask()[PITCH_OFFSET:]).tolist():
        tok += PITCH_OFFSET
        if tok == token_of(64, True):
            continue
        c.push(tok)  # a new alto note on the 16th position (a 16th after E4: not weighed)
        c.push(HOLD)
        c.push(HOLD)
        c.push(HOLD)  # step 2: the soprano, then the alto at the half beat
        legal = c.mask()
        assert c.position == (2, 1)
        if legal[HOLD] and (legal[PITCH_OFFSET:]).any():
            w, names = prefs.weights(c.grid, 2, 1, legal)
            assert names == ["prefer:inner-sixteenth"] and w[HOLD] == INNER_ONLY.inner_sixteenth
            assert (w[PITCH_OFFSET:] == 1).all()
            spoken += 1
        c.rollback(4)
    assert spoken > 0


def _odd_values(pitch: np.ndarray, attack: np.ndarray, voices=(1, 2)) -> int:
    """Notes of the given voices whose length in 16ths is not 1, 2, 4, 6, 8, 12 or 16 (odd note values)."""
    n = 0
    for v in voices:
        starts = [t for t in range(pitch.shape[0]) if attack[t, v]] + [pitch.shape[0]]
        n += sum(b - a not in (1, 2, 4, 6, 8, 12, 16) for a, b in zip(starts, starts[1:]))
    return n


def test_decoded_with_the_inner_sixteenth_alto_and_tenor_have_fewer_odd_values(monkeypatch):
    from partimento.hybrid import preferences

    default = preferences.STYLE
    counts = _counts_by_weight(monkeypatch, lambda w: replace(default, inner_sixteenth=w), _odd_values)
    assert counts[0.01] < counts[1.0], counts


@pytest.mark.parametrize("beats", [0.5, 1.0, 2.0])
def test_the_inner_sixteenth_keeps_a_suspensions_resolution_off_the_last_sixteenth(beats):
    """I -> V with the alto's C5 held over as a 4-3 suspension (the resolution layer: at most 4 sixteenths and
    never to the chord's last step). V a quarter long: at its half beat the hold (which leaves only the last 16th
    to resolve on) weighs Style.inner_sixteenth. V an eighth long: the suspension itself (it could resolve only
    on the 16th) weighs it at the onset. V a half note long: silent at the half beat (it may resolve on the beat)."""
    plan = cadence_plan(figures=("I", "V", "V", "I"), beats=beats)
    c = Constraint(plan, hard_rules("strict"))
    prefs = Preferences(c.tables, c.reach, style=INNER_ONLY)
    onset = int(beats * STEPS_PER_QUARTER)
    for p in (76, 72, 55, 48):  # I: E5 C5 G3 C3, held up to V's onset
        c.push(token_of(p, True))
    while c.position != (onset, 0):
        c.push(HOLD)
    c.push(token_of(74, True))  # V: the soprano D5; the alto's C5 may be held as a suspension (to B4)
    legal = c.mask()
    assert legal[HOLD] and legal[token_of(71, True)]
    w, names = prefs.weights(c.grid, onset, 1, legal)
    if beats == 0.5:
        assert names == ["prefer:inner-sixteenth"] and w[HOLD] == INNER_ONLY.inner_sixteenth
        assert (w[PITCH_OFFSET:] == 1).all()
        return
    assert names == []
    c.push(HOLD)
    c.push(HOLD)
    c.push(token_of(43, True))  # the bass G2
    for _ in range(8):  # everything held up to the alto at V's half beat
        c.push(HOLD)
        if c.position == (onset + 2, 1):
            break
    legal = c.mask()
    assert legal[HOLD] and legal[token_of(71, True)]
    w, names = prefs.weights(c.grid, onset + 2, 1, legal)
    if beats == 1.0:
        assert names == ["prefer:inner-sixteenth"] and w[HOLD] == INNER_ONLY.inner_sixteenth
        assert w[token_of(71, True)] == 1 and prefs.weight_of(c.grid, onset + 2, 1, HOLD) == w[HOLD]
    else:
        assert names == []
def test_no_rocking_weighs_only_the_notes_that_would_alternate_or_repeat():
    """prefer:no-rocking: after the tenor sang C4, B3, C4, striking B3 or C4 again weighs Style.rocking; holding C4
    or any other note is favoured, nothing is forbidden. After C4, B3, A3 (moving on) or a re-struck C4, C4, B3
    it is silent, and the soprano and the bass are never weighed."""
    style = Style(motion=1.0, suspension=1.0, restrike=1.0, bass_sixteenth=1.0, bass_fill=1.0, inner_sixteenth=1.0,
                  rocking=0.2)
    plan = cadence_plan(figures=("I", "I", "V", "I"))  # C major: C4 and B3 sound in I's neighbourhood

    def at(tenor: tuple[int, int, int]):
        c = Constraint(plan, [])  # no rules: the hand-written line stands as written
        prefs = Preferences(c.tables, c.reach, style=style)
        line = {0: tenor[0], 2: tenor[1], 4: tenor[2]}  # eighth notes on steps 0, 2, 4
        for t in range(6):
            for v, p in enumerate((72, 64, None, 48)):
                note = line.get(t) if v == 2 else (p if t == 0 else None)
                c.push(token_of(note, True) if note is not None else HOLD)
        c.push(HOLD)  # soprano at step 6
        c.push(HOLD)  # alto
        return c, prefs

    c, prefs = at((60, 59, 60))
    t, v = c.position
    assert (t, v) == (6, 2) and rocking_pitch(c.grid, t, v) == 59
    legal = np.ones(len(c.mask()), bool)
    w, names = prefs.weights(c.grid, t, v, legal)
    assert names == ["prefer:no-rocking"]
    back, again = token_of(59, True), token_of(60, True)
    assert w[back] == w[again] == style.rocking and (np.delete(w, [back, again]) == 1).all()
    assert prefs.weight_of(c.grid, t, v, back) == style.rocking and prefs.weight_of(c.grid, t, v, HOLD) == 1
    assert rocking_pitch(c.grid, t, 0) == -1  # the soprano held one note
    for line in ((60, 59, 57), (60, 60, 59)):
        c, prefs = at(line)
        assert rocking_pitch(c.grid, *c.position) == -1 and prefs.weights(c.grid, *c.position, legal) == (None, [])
    c, _ = at((60, 59, 60))
    off = Style(motion=1.0, suspension=1.0, restrike=1.0, bass_sixteenth=1.0, bass_fill=1.0, inner_sixteenth=1.0,
                rocking=1.0)
    assert Preferences(c.tables, c.reach, style=off).weights(c.grid, *c.position, legal) == (None, [])


def test_no_rocking_makes_inner_voices_alternate_less_and_stays_legal(monkeypatch):
    """Decodes with the preference have fewer alto and tenor notes inside a-b-a-b runs than with rocking=1, and no
    strict error."""
    from partimento.hybrid import compose, preferences

    def rocking_notes(res) -> int:
        n = 0
        for v in (1, 2):
            p = [int(res.pitch[t, v]) for t in range(res.pitch.shape[0])
                 if res.attack[t, v] or (t and res.pitch[t, v] != res.pitch[t - 1, v])]
            inside = set()
            for i in range(len(p) - 3):
                if p[i] == p[i + 2] and p[i + 1] == p[i + 3] and p[i] != p[i + 1]:
                    inside.update(range(i, i + 4))
            n += len(inside)
        return n

    pieces = [(s, k) for s in range(6) for k in ("G", "d")]  # twelve 8-bar pieces: the effect is a share
    monkeypatch.setattr(preferences, "STYLE", Style(rocking=0.01))  # the default calibration, rocking strong
    on = [compose("chorale", key=k, bars=8, seed=s) for s, k in pieces]
    monkeypatch.setattr(preferences, "STYLE", Style(rocking=1.0))  # the default calibration, rocking off
    off = [compose("chorale", key=k, bars=8, seed=s, check=False) for s, k in pieces]
    assert sum(map(rocking_notes, on)) < 0.9 * sum(map(rocking_notes, off))  # 121 against 161 when written
    assert all(r.report.errors == [] for r in on)


def test_the_composed_soprano_steps_on_at_a_chord_onset_and_does_not_rock():
    """prefer:soprano-motion: at a chord onset a soprano that is not given is weighed by Style.soprano_motion
    for striking its note again, holding it over, or leaping a fourth or more; a step or a third is favoured.
    prefer:no-rocking speaks for the soprano with Style.soprano_rocking. (A given soprano, harmonizing, is never
    weighed: the decoder does not sample it.)"""
    plan = cadence_plan(figures=("I", "V", "I", "IV", "V", "I"), beats=1.0)
    c = Constraint(plan, hard_rules("strict"))
    style = replace(NO_STYLE, soprano_motion=0.3, soprano_rocking=0.2)
    prefs = Preferences(c.tables, c.reach, style=style)
    for onset, notes in ((0, (72, 64, 55, 48)), (4, (71, 62, 55, 43)), (8, (72, 64, 55, 48))):  # I V I: C5 B4 C5
        while c.position != (onset, 0):
            c.push(HOLD)
        if onset == 4:  # V's onset: B4 a step down favoured, C5 again, a hold, G4 (a fourth) weighed
            t, v = c.position
            legal = c.mask()
            w, names = prefs.weights(c.grid, t, v, legal)
            assert names == ["prefer:soprano-motion"]
            for tok in np.flatnonzero(legal).tolist():
                move = abs(tok - PITCH_OFFSET - 72) if tok >= PITCH_OFFSET else 0
                assert w[tok] == (1.0 if 1 <= move <= 4 else 0.3), tok
            assert prefs.weight_of(c.grid, t, v, token_of(71, True)) == 1.0
        for p in notes:
            c.push(token_of(p, True))
    while c.position != (12, 0):  # IV's onset: the soprano sang C5 B4 C5
        c.push(HOLD)
    t, v = c.position
    legal = c.mask()
    again = token_of(72, True)
    assert legal[again] and legal[token_of(69, True)] and rocking_pitch(c.grid, t, v) == 71
    w, names = prefs.weights(c.grid, t, v, legal)
    assert set(names) == {"prefer:soprano-motion", "prefer:no-rocking"}
    assert w[again] == pytest.approx(0.3 * 0.2)  # C5 struck again: a repeat, and a-b-a-a
    assert w[token_of(69, True)] == 1.0  # A4, a third down
    off = Preferences(c.tables, c.reach, style=NO_STYLE)
    assert off.weights(c.grid, t, v, legal) == (None, [])


def test_composed_soprano_moves_by_step_at_a_chord_onset():
    """prefer:soprano-step: where the soprano is not given, a move of a third or more at a chord onset is
    weighed by Style.soprano_step; holding, striking again and a step are favoured (prefer:soprano-motion
    weighs holds and repeats on its own). It never speaks for the lower voices, nor inside a chord."""
    plan = cadence_plan(figures=("I", "IV", "V", "I"), beats=1.0)
    c = Constraint(plan, hard_rules("strict"))
    prefs = Preferences(c.tables, c.reach, style=replace(NO_STYLE, soprano_step=0.4))
    for p in (72, 64, 55, 48):  # I: C5 E4 G3 C3
        c.push(token_of(p, True))
    while c.position[0] < 4:  # inside I: it does not speak
        t, v = c.position
        assert "prefer:soprano-step" not in prefs.weights(c.grid, t, v, c.mask())[1]
        c.push(HOLD)
    t, v = c.position  # IV's onset, the soprano from C5
    assert v == 0
    legal = c.mask()
    w, names = prefs.weights(c.grid, t, v, legal)
    assert names == ["prefer:soprano-step"]
    seen = set()
    for tok in np.flatnonzero(legal).tolist():
        move = abs(tok - PITCH_OFFSET - 72) if tok >= PITCH_OFFSET else 0
        assert w[tok] == (0.4 if move >= 3 else 1.0), tok
        seen.add(w[tok])
    assert seen == {0.4, 1.0} and prefs.weight_of(c.grid, t, v, HOLD) == 1.0
    c.push(token_of(72, True))
    for _ in range(3):  # alto, tenor, bass at the same onset: not this preference's
        t, v = c.position
        assert "prefer:soprano-step" not in prefs.weights(c.grid, t, v, c.mask())[1]
        c.push(int(np.flatnonzero(c.mask()[PITCH_OFFSET:])[0]) + PITCH_OFFSET)


def test_inner_voices_keep_a_common_tone_or_move_by_step_at_a_chord_onset():
    """prefer:inner-step: at a chord onset alto and tenor are weighed by Style.inner_step for a move of a
    third or more; holding the common tone, striking it again or a step are favoured. It never speaks for
    the soprano or the bass, nor inside a chord."""
    plan = cadence_plan(figures=("I", "IV", "V", "I"), beats=1.0)
    c = Constraint(plan, hard_rules("strict"))
    prefs = Preferences(c.tables, c.reach, style=replace(NO_STYLE, inner_step=0.4))
    for p in (72, 64, 55, 48):  # I: C5 E4 G3 C3
        c.push(token_of(p, True))
    seen = set()
    while c.position[0] < 4:  # inside I: it does not speak (the look-aheads before IV may)
        t, v = c.position
        assert "prefer:inner-step" not in prefs.weights(c.grid, t, v, c.mask())[1]
        c.push(HOLD)
    # IV's onset, voice by voice: C5 F4 A3 F2; the alto (E4) may go to C4 (a third), F4 or A4 (a fourth), the tenor
    # (G3) only to A3
    for v_expected, prev, pitch in ((0, None, 72), (1, 64, 65), (2, 55, 57), (3, None, 41)):
        t, v = c.position
        assert v == v_expected
        legal = c.mask()
        w, names = prefs.weights(c.grid, t, v, legal)
        if prev is None:  # soprano and bass: not this preference's
            assert "prefer:inner-step" not in names
        elif v == 2:  # no leap is legal: it has nothing to say
            assert names == [] and legal[token_of(57, True)]
        else:
            assert names == ["prefer:inner-step"]
            for tok in np.flatnonzero(legal).tolist():
                move = abs(tok - PITCH_OFFSET - prev) if tok >= PITCH_OFFSET else 0
                assert w[tok] == (0.4 if move >= 3 else 1.0), tok
                seen.add(w[tok])
            assert prefs.weight_of(c.grid, t, v, HOLD) == 1.0
        c.push(token_of(pitch, True))
    assert seen == {0.4, 1.0}
