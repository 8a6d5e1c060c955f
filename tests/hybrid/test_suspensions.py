"""Suspensions: prepared, held over a chord onset, resolved a step down to a chord tone before the chord ends.

The plan layers (``hybrid/masks.py: suspension_resolutions``) let an upper voice hold a
prepared note into a chord it does not belong to only when its resolution can still be
written, and then allow nothing but that resolution once its time is up; the rule
``unprepared-dissonance`` (``grammar/rules/nct.py``) classes what they write as a
suspension; adherence counts the suspended voice by its resolution.
"""
from __future__ import annotations

import numpy as np
import pytest
from hybrid_fakes import FakeModel, FakeSession, cadence_plan
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.grammar.plan import ChordEvent, Phrase, Plan
from partimento.grammar.rules import REST, Context, DecodeState, SonorityArray, check_arrays, hard_rules, sonorities_from_grid
from partimento.grammar.rules.base import Severity
from partimento.grammar.rules.dissonance import UnpreparedDissonance
from partimento.grammar.rules.nct import UNCLASSIFIED, accent_levels, classify_notes
from partimento.grammar.theory import chord_spec, key_info
from partimento.hybrid.constraint import Constraint
from partimento.hybrid.decode import decode
from partimento.hybrid.masks import PlanTables, resolution_pitches
from partimento.hybrid.result import onset_misses
from partimento.neural.encoding import HOLD, PITCH_OFFSET, token_of


def _context(pitch: np.ndarray, attack: np.ndarray, plan: Plan) -> tuple[SonorityArray, Context]:
    """The decoded grid as the checker reads it, with the plan's chords (as ``report_for`` builds it)."""
    s = sonorities_from_grid(pitch, attack, plan.metre, plan.pickup)
    chords, keys = [], []
    for off in s.offset:
        c = plan.chord_at(float(off))
        chords.append(c.spec if c is not None else None)
        keys.append(key_info(c.key if c is not None else plan.key))
    return s, Context(keys=keys, chords=chords, accent=accent_levels(s.beat, plan.metre))


def held_over(pitch: np.ndarray, attack: np.ndarray, plan: Plan) -> list[dict]:
    """Every upper-voice note held over a chord onset into a chord it does not belong to, with what became of it."""
    out = []
    steps = pitch.shape[0]
    for c in plan.chords[1:]:
        a = int(round(c.onset * STEPS_PER_QUARTER))
        b = min(steps, int(round(c.end * STEPS_PER_QUARTER)))
        if a >= steps:
            continue
        for v in range(3):
            p = int(pitch[a, v])
            if p < 0 or attack[a, v] or p % 12 in c.spec.members:
                continue
            nxt = next((u for u in range(a + 1, b) if attack[u, v] or pitch[u, v] != p), None)
            q = int(pitch[nxt, v]) if nxt is not None else None
            out.append({"voice": v, "onset": a, "pitch": p, "resolution": q, "at": nxt, "end": b, "figure": c.figure,
                        "resolved": q is not None and 0 < p - q <= 2 and q % 12 in c.spec.members})
    return out


def assert_every_suspension_resolves(pitch: np.ndarray, attack: np.ndarray, plan: Plan) -> int:
    """No unresolved suspension and no unclassified non-chord tone; returns how many suspensions there are."""
    found = held_over(pitch, attack, plan)
    assert all(x["resolved"] for x in found), [x for x in found if not x["resolved"]]
    s, ctx = _context(pitch, attack, plan)
    notes = classify_notes(s, ctx)
    assert [n for n in notes if n.kind == UNCLASSIFIED] == []
    assert [n for n in notes if n.kind == "pending" and n.stop < len(s)] == []
    return len(found)


class ScriptedSession(FakeSession):
    """FakeSession, except that it wants ``script[(step, voice)]`` there above all else."""

    def __init__(self, steps: int, seed: int, script: dict[tuple[int, int], int]) -> None:
        super().__init__(steps, seed)
        self.script = script

    def next_logits(self) -> np.ndarray:
        z = super().next_logits()
        tok = self.script.get(self.position)
        if tok is not None:
            z[tok] += 30.0
        return z


class HoldingModel(FakeModel):
    """A fake model that holds as readily as the trained one (p(HOLD) about 0.99): many suspensions offered."""

    def session(self, cond, conditioned: bool = True):
        base = super().session(cond, conditioned)
        inner = base.next_logits

        def next_logits():
            z = inner()
            z[HOLD] += 4.0
            return z

        base.next_logits = next_logits
        return base


def test_a_4_3_suspension_is_written_and_resolved():
    """IV - V - I in C, half notes: the alto prepares C4 on IV, holds it over V (4 over the bass G), resolves to B3."""
    plan = cadence_plan(figures=("IV", "V", "I"), beats=2.0)
    v_onset = int(round(plan.chords[1].onset * STEPS_PER_QUARTER))
    script = {(t, k): HOLD for t in range(1, v_onset) for k in range(4)}  # IV as A4 C4 F3 F2, held
    script.update({(0, k): token_of(p, True) for k, p in enumerate((69, 60, 53, 41))})
    script[(v_onset, 0)] = token_of(67, True)  # the soprano to G4
    script[(v_onset, 1)] = HOLD  # the alto's C4 held over V's onset
    v_end = int(round(plan.chords[1].end * STEPS_PER_QUARTER))
    script.update({(t, 3): HOLD for t in range(v_onset + 1, v_end)})  # the bass stays on G
    d = decode(ScriptedSession(plan.steps, 0, script), plan, hard_rules("strict"), seed=0)
    assert d.pitch[v_onset, 1] == 60 and not d.attack[v_onset, 1] and d.pitch[v_onset, 3] % 12 == 7  # C4 over G
    found = held_over(d.pitch, d.attack, plan)
    assert [(x["voice"], x["pitch"], x["resolution"]) for x in found] == [(1, 60, 59)]
    assert found[0]["at"] < found[0]["end"]  # before V ends
    s, ctx = _context(d.pitch, d.attack, plan)
    alto = [n for n in classify_notes(s, ctx, voices=(1,)) if n.pitch == 60 and n.start == 0]
    assert [n.label for n in alto] == ["suspension 4-3"]
    assert check_arrays(s, ctx, "strict").errors == []
    assert onset_misses(d.pitch, d.attack, plan) == []  # the alto's C4 counts as the third B


def _prepared_v_onset(fermata: bool = False) -> tuple[Constraint, int]:
    """IV (A4 C4 F3 F2, held a half note) then V: the constraint at the alto of V's onset, the soprano on G4."""
    plan = cadence_plan(figures=("IV", "V", "I"), beats=2.0) if not fermata else \
        cadence_plan(figures=("I", "IV", "V"), beats=2.0)
    c = Constraint(plan, hard_rules("strict"))
    iv = int(round(plan.chords[-2 if fermata else 0].onset * STEPS_PER_QUARTER))
    v = int(round(plan.chords[-1 if fermata else 1].onset * STEPS_PER_QUARTER))
    row = [token_of(p, True) for p in (69, 60, 53, 41)]
    for t in range(v):
        for k in range(4):
            if t < iv:
                c.push(token_of((72, 64, 55, 48)[k], True) if t == 0 else HOLD)
            else:
                c.push(row[k] if t == iv else HOLD)
    c.push(token_of(67, True))  # soprano G4 at V's onset
    return c, v


def test_the_mask_lets_a_prepared_note_be_held_over_and_then_only_resolved():
    c, v = _prepared_v_onset()
    assert c.position == (v, 1)
    assert c.mask()[HOLD]  # C4 held over V: a 4-3 can start
    c.push(HOLD)
    c.push(token_of(50, True))  # tenor D3
    c.push(token_of(43, True))  # bass G2
    for t in range(v + 1, v + 4):  # held at most a quarter into V
        for voice in range(4):
            assert c.position == (t, voice)
            if voice == 1:
                assert c.mask()[HOLD]
            c.push(HOLD)
    c.push(HOLD)
    assert c.position == (v + 4, 1)
    legal = c.mask()
    assert not legal[HOLD] and np.flatnonzero(legal[PITCH_OFFSET:]).tolist() == [59]  # now: B3, a step down
    assert any("suspension" in r.message and r.layer == "plan:resolution" for r in c.why(HOLD))
    assert any(r.layer == "plan:resolution" for r in c.why(token_of(62, True)))  # D4: a step up is no resolution


def test_no_suspension_starts_where_it_could_not_resolve():
    """Into a fermata chord (held to its end) a prepared note may not be held as a suspension."""
    c, v = _prepared_v_onset(fermata=True)
    assert c.position == (v, 1)
    assert not c.mask()[HOLD]
    assert any(r.layer == "plan:chord-tone" for r in c.why(HOLD))


def test_no_other_upper_voice_sounds_the_resolution_against_the_suspension():
    c, v = _prepared_v_onset()
    c.push(HOLD)  # alto C4 suspended over V, resolving to B
    legal = c.mask()  # the tenor
    assert not legal[PITCH_OFFSET + 47] and not legal[PITCH_OFFSET + 59]  # no B while the C waits
    assert legal[PITCH_OFFSET + 50] or legal[PITCH_OFFSET + 55]


def test_no_suspension_starts_over_a_given_voice_on_its_resolution():
    """A voice given at the onset (infill's kept tenor) counts as written: it already sounds the resolution.

    Found in the infill benchmark: an alto F♯ held over V7 in f♯ against a kept tenor on E♯, the
    leading tone it would have resolved to (a doubled leading tone, or no resolution at all). Here the
    soprano's A4, prepared in IV, may be held over V as a 9-8 only if the given tenor is not on G.
    """
    def soprano_at_v_onset(tenor: int) -> tuple[Constraint, int]:
        plan = cadence_plan(figures=("IV", "V", "I"), beats=2.0)
        v = int(round(plan.chords[1].onset * STEPS_PER_QUARTER))
        forced = np.full((plan.steps, 4), -1, np.int64)
        forced[v, 2] = token_of(tenor, True)  # the tenor kept from V's onset on
        forced[v + 1:int(round(plan.chords[1].end * STEPS_PER_QUARTER)), 2] = HOLD
        c = Constraint(plan, hard_rules("strict"), forced)
        for t in range(v):
            for k in range(4):
                c.push(token_of((69, 60, 53, 41)[k], True) if t == 0 else HOLD)
        return c, v

    c, v = soprano_at_v_onset(55)  # G3: the resolution's pitch class, given below
    assert c.position == (v, 0) and not c.mask()[HOLD]
    assert any(r.layer == "plan:chord-tone" for r in c.why(HOLD))
    c, v = soprano_at_v_onset(50)  # D3: the suspension may start
    assert c.mask()[HOLD]


def _strict_errors(pitch, attack, plan) -> list:
    s, ctx = _context(pitch, attack, plan)
    return check_arrays(s, ctx, "strict").errors


def test_composed_chorales_suspend_and_leave_no_suspension_unresolved():
    """Several seeds, style calibration on and off: suspensions are written (not vacuous), every one resolved."""
    from partimento.hybrid import compose

    total = 0
    for seed in range(4):
        r = compose("chorale", key="CGda"[seed], bars=4, seed=seed, model=HoldingModel(seed), style=seed % 2 == 0)
        assert r.errors == []
        total += assert_every_suspension_resolves(r.pitch, r.attack, r.plan)
    assert total >= 2


def _melody():
    from music21 import meter, note, stream

    part = stream.Part()
    part.append(meter.TimeSignature("4/4"))
    for midi, ql in [(64, 1), (62, 1), (60, 1), (62, 1), (64, 1), (64, 1), (64, 2), (62, 1), (62, 1), (64, 1),
                     (67, 1), (65, 1), (64, 1), (62, 1), (60, 1), (62, 1), (64, 1), (62, 1), (60, 2)]:
        part.append(note.Note(midi, quarterLength=ql))
    return part


@pytest.mark.parametrize("seed", range(2))
def test_no_harmonization_leaves_a_suspension_unresolved(seed):
    import warnings

    from partimento.hybrid import harmonize

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = harmonize(_melody(), key="C", seed=seed, model=HoldingModel(seed))
    assert r.errors == []
    assert_every_suspension_resolves(r.pitch, r.attack, r.plan)


def test_adherence_counts_a_suspended_voice_by_its_resolution():
    """IV then V: the alto's C4 held over V stands for the third B once it falls to B3; held on, or rising, it does not."""
    plan = cadence_plan(figures=("IV", "V", "I"), beats=2.0)
    steps = plan.steps
    pitch = np.zeros((steps, 4), np.int16)
    attack = np.zeros((steps, 4), bool)
    voicings = [(69, 60, 53, 41), (67, 60, 50, 43), (67, 60, 52, 36)]  # IV, V (alto C4 held), I
    for c, row in zip(plan.chords, voicings):
        a, b = int(round(c.onset * 4)), min(steps, int(round(c.end * 4)))
        pitch[a:b] = row
        attack[a] = True
    attack[8, 1] = False  # the alto holds C4 over V's onset
    v_end = int(round(plan.chords[1].end * 4))
    resolved = pitch.copy(), attack.copy()
    resolved[0][12:v_end, 1] = 59
    resolved[1][12, 1] = True  # C4 -> B3 on beat 2 of V
    assert onset_misses(*resolved, plan) == []
    assert onset_misses(pitch, attack, plan) != []  # held to the end: B never sounds
    rising = pitch.copy(), attack.copy()
    rising[0][12:v_end, 1] = 62
    rising[1][12, 1] = True  # C4 -> D4: no resolution
    assert [m["figure"] for m in onset_misses(*rising, plan)] == ["V"]
    from partimento.hybrid.result import Result

    assert Result.plan_adherence.__doc__ and "onset_misses" in Result.plan_adherence.__doc__


_FIGURES = ["I", "ii", "iii", "IV", "V", "vi", "V7", "ii7", "IV6", "V6", "i", "iv", "VI", "V/V", "viio7"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["C", "G", "a", "E-", "f#"]), st.sampled_from(_FIGURES), st.sampled_from(_FIGURES),
       st.integers(0, 2), st.integers(50, 76), st.integers(1, 3))
def test_what_the_plan_layers_suspend_the_rule_classes_as_a_suspension(key, first, second, voice, centre, rows):
    """Plan face and rule faces agree: every resolution the plan layers would write for a prepared note
    held into a chord it does not belong to is allowed by ``unprepared-dissonance``'s mask and classed a
    suspension by its check; the note held on is allowed too, and nothing else the plan allows is judged."""
    a, b = chord_spec(first, key), chord_spec(second, key)
    prepared = [p for p in range(centre - 6, centre + 7) if p % 12 in a.members and p % 12 not in b.members]
    assume(prepared)
    p = prepared[0]
    one = Plan(key=key, metre="4/4", bars=1, chords=[ChordEvent(0, 4, second, key)], phrases=[Phrase(0.0, 4.0, key, None)])
    plan_chord = PlanTables(one).chords[0]
    targets = resolution_pitches(plan_chord, p, np.ones(128, bool))
    assume(targets)
    n = rows + 2  # the preparation, the held rows, the row being written
    bass_a = min((x for x in range(36, 52) if x % 12 == a.bass), default=40)
    bass_b = min((x for x in range(36, 52) if x % 12 == b.bass), default=40)
    pitch = np.full((n, 4), REST, np.int16)
    pitch[:, voice] = p
    pitch[0, 3] = bass_a
    pitch[1:, 3] = bass_b
    attack = np.zeros((n, 4), bool)
    attack[0] = attack[1, 3] = True
    pitch[-1, voice] = REST
    s = SonorityArray(pitch, attack, np.arange(n, dtype=float), np.ones(n), np.ones(n, np.int32), np.arange(n) + 1.0,
                      np.zeros(n, bool))
    ctx = Context(keys=[key_info(key)] * n, chords=[a] + [b] * (n - 1), accent=accent_levels(np.arange(n) + 1.0))
    state = DecodeState(s, ctx)
    rule = UnpreparedDissonance(Severity.ERROR)
    mask = rule.allowed(state, voice)
    assert mask[p]  # holding on: not left yet
    for r in targets:
        assert mask[r]
        done = state.with_pitch(voice, r)
        notes = [x for x in classify_notes(done.sonorities, done.ctx, voices=(voice,)) if x.pitch == p]
        assert [x.kind for x in notes] == ["suspension"]
        assert rule.check(done.sonorities, done.ctx) == []


def test_infill_around_a_given_suspension_counts_it_by_its_resolution(monkeypatch):
    """A given alto C4 held over V (a 4-3, resolving to B3 inside V) stands for V's third: infilling the tenor
    beside it is not refused up front for want of a B (it was, before given notes counted by their resolution).

    The fixture piece is the one written before ``prefer:bass-fill`` (which fills the bass's falling third
    I -> vi in bar 1 and so changes the whole piece, this 4-3 with it) and ``prefer:inner-sixteenth`` (which
    changes it too), with ``prefer:bass-sixteenth`` and ``prefer:no-rocking`` at their weights of that time (0.1),
    and the soprano's rocking and eighths as they were before the fifteenth session."""
    from dataclasses import replace

    from partimento.hybrid import infill, preferences, realize

    monkeypatch.setattr(preferences, "STYLE", replace(preferences.STYLE, bass_fill=1.0, inner_sixteenth=1.0,
                                                      bass_sixteenth=0.1, rocking=0.1, soprano_rocking=0.3,
                                                      soprano_eighth=1.0))

    figures = ("I", "vi", "IV", "V", "I", "ii6", "V7", "vi", "IV", "I64", "V", "I")
    original = realize(cadence_plan(figures=figures), seed=0, model=FakeModel(0))  # the style calibration on
    held = held_over(original.pitch, original.attack, original.plan)
    assert any(x["voice"] == 1 and x["onset"] == 12 and x["resolved"] for x in held)  # the alto's 4-3 over V
    new = infill(original, measures=(1, 1), voices=("tenor",), seed=2, model=FakeModel(3))
    assert np.array_equal(new.pitch[:, [0, 1, 3]], original.pitch[:, [0, 1, 3]]) and new.errors == []
