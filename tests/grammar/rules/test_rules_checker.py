"""The checker's Python face: corpus demos against music21, sonority extraction, reports, plans, user rules."""
from __future__ import annotations

import json

import numpy as np
import pytest
from music21 import corpus, key as m21key, meter, note, stream, tie

from exercises import build
from partimento.grammar.errors import ScoreError
from partimento.grammar.plan import ChordEvent, Plan
from partimento.grammar.rules import (REST, RULES, Context, Rule, Severity, SonorityArray, check, check_arrays,
                                      get_profile, hard_rules, parse_score, register, sonorities_from_grid)
from partimento.grammar.rules.reference import FIGURED_BASS_RULES, figured_bass_violations


@pytest.mark.parametrize("name", ["demos/chorale_with_parallels.mxl", "theoryExercises/checker_demo.mxl"])
def test_corpus_demos_agree_with_figured_bass_checker(name):
    score = corpus.parse(name)
    ours = {(v.rule, v.offset, tuple(v.voices)) for v in check(score, "strict").violations
            if v.rule in FIGURED_BASS_RULES.values()}
    theirs = set(figured_bass_violations(score))
    assert ours == theirs
    # music21's documentation of checker_demo: parallel octaves at these moments and parts
    assert {(o, vs) for r, o, vs in ours if r == "parallel-octaves"} == {
        (2.0, ("alto", "bass")), (3.0, ("alto", "bass")), (9.0, ("soprano", "tenor"))}


def test_report_context_draws_the_bar_and_marks_the_spot():
    r = check(build(["C5 G4 E4 C3", "C5 A4 F4 F3", "B4 G4 D4 G3", "C5 G4 G3 C3"], "C"))
    (v,) = r.violations
    text = v.context()
    lines = text.splitlines()
    assert "measure 1, beat 4" in lines[0] and "parallel-fifths" in lines[0]
    assert lines[1].split() == ["beat", "1", "2", "3", "4"]
    assert lines[4].split() == ["tenor", "E4", "F4", "D4", "[G3]"]
    assert lines[5].split() == ["bass", "C3", "F3", "G3", "[C3]"]
    assert lines[6].strip() == "^"
    assert json.loads(r.to_json())["violations"][0]["voices"] == ["tenor", "bass"]
    assert r.errors == [v] and r.warnings == [] and not r.ok


def _score(parts: dict[str, list], metre="3/4", key_name="G", pickup=False) -> stream.Score:
    s = stream.Score()
    for name, els in parts.items():
        p = stream.Part()
        p.partName = name
        p.insert(0, meter.TimeSignature(metre))
        p.insert(0, m21key.Key(key_name))
        off = 0.0
        for el in els:
            p.insert(off, el)
            off += el.quarterLength
        mp = p.makeMeasures()
        if pickup:
            mp.makeNotation(inPlace=True)
        mp.partName = name
        s.insert(0, mp)
    return s


def test_parts_found_by_name_in_any_order_and_case_ties_and_rests():
    # bass first, names abbreviated and in capitals; the alto ties over the barline and rests later
    parts = {
        "B": [note.Note("G2", quarterLength=3), note.Note("D3", quarterLength=3)],
        "s": [note.Note("B4", quarterLength=1), note.Note("C5"), note.Note("D5"), note.Note("D5", quarterLength=3)],
        "T": [note.Note("D4", quarterLength=3), note.Note("D4", quarterLength=3)],
        "ALTO": [note.Note("G4", quarterLength=3), note.Note("G4", quarterLength=1), note.Rest(quarterLength=2)],
    }
    parts["ALTO"][0].tie = tie.Tie("start")
    parts["ALTO"][1].tie = tie.Tie("stop")
    parsed = parse_score(_score(parts))
    s = parsed.sonorities
    assert s.pitch.tolist() == [[71, 67, 62, 43], [72, 67, 62, 43], [74, 67, 62, 43], [74, 67, 62, 50], [74, REST, 62, 50]]
    assert s.attack.tolist() == [[True, True, True, True], [True, False, False, False], [True, False, False, False],
                                 [True, False, True, True], [False, False, False, False]]
    assert s.measure.tolist() == [1, 1, 1, 2, 2] and s.beat.tolist() == [1.0, 2.0, 3.0, 1.0, 2.0]
    assert s.offset.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and s.duration.tolist() == [1.0, 1.0, 1.0, 1.0, 2.0]
    assert [k.name for k in parsed.ctx.keys] == ["G"] * 5


def test_pickup_measure_is_numbered_0_and_beats_count_from_the_bar():
    from music21 import converter

    xml = corpus.getWork("bwv66.6")
    parsed = parse_score(converter.parse(xml))
    s = parsed.sonorities
    assert s.measure[0] == 0 and s.beat[0] == 4.0  # one-beat pickup in 4/4
    first = int(np.flatnonzero(s.measure == 1)[0])
    assert s.offset[first] == 1.0 and s.beat[first] == 1.0 and (s.beat[:first] >= 4.0).all()
    assert parsed.ctx.keys[0].name == "f#"
    assert s.fermata.sum() >= 5  # phrase ends


def test_key_changes_and_the_key_argument():
    rows = ["C5 G4 E4 C3", "C5 A4 F4 F3", "B4 G4 D4 G3", "C5 G4 E4 C3"]
    score = build(rows + ["B4 G4 D4 G3", "C5 A4 F#4 D3", "B4 G4 D4 G3", "B4 G4 D4 G3"], "C")
    for p in score.parts:
        p.measure(2).insert(0, m21key.Key("G"))
    parsed = parse_score(score)
    assert [k.name for k in parsed.ctx.keys] == ["C"] * 4 + ["G"] * 4
    assert check(score).violations == []  # F# belongs to G major
    # read in C throughout, D–F#–A–C is V7/V, an applied dominant: still no foreign note
    assert check(score, key="C").violations == []
    # but C# making F–A–C# (no chromatic chord) is foreign to C
    rows2 = rows + ["B4 G4 D4 G3", "C#5 A4 F4 F3", "D5 A4 F4 D3", "D5 G4 D4 G3"]
    assert [(v.rule, v.measure, v.voices) for v in check(build(rows2, "C")).violations] == [("out-of-key", 2, ["soprano"])]


def test_keys_found_by_key_finding_when_the_score_has_none():
    rows = ["C5 A4 E4 A2", "D5 A4 F4 D3", "D5 G#4 E4 E3", "C5 A4 E4 A2"]
    parsed = parse_score(build(rows, "a", with_key=False))
    assert {k.name for k in parsed.ctx.keys} == {"a"}


def test_two_staves_of_two_voices_each():
    s = stream.Score()
    for upper, lower in ((["C5", "C5", "B4", "C5"], ["G4", "A4", "G4", "G4"]), (["E4", "F4", "D4", "G3"], ["C3", "F3", "G3", "C3"])):
        part = stream.Part()
        m = stream.Measure(number=1)
        m.insert(0, meter.TimeSignature("4/4"))
        for vid, names in (("1", upper), ("2", lower)):
            v = stream.Voice(id=vid)
            for n in names:
                v.append(note.Note(n))
            m.insert(0, v)
        part.append(m)
        s.insert(0, part)
    r = check(s, key="C")
    assert [(v.rule, v.beat, v.voices) for v in r.violations] == [("parallel-fifths", 4.0, ["tenor", "bass"])]


def test_check_with_a_plan_uses_its_chords():
    rows = ["C5 G4 E4 C3", "C5 A4 F4 F3", "B4 F4 D4 G3", "C5 G4 E4 C3"]
    plan = Plan(key="C", metre="4/4", bars=1,
                chords=[ChordEvent(0, 1, "I", "C"), ChordEvent(1, 1, "IV", "C"), ChordEvent(2, 1, "V7", "C"),
                        ChordEvent(3, 1, "I", "C")])
    r = check(build(rows, "C"), plan=plan)
    assert [(v.rule, v.beat, v.voices) for v in r.violations] == [("seventh-resolution", 4.0, ["alto"])]
    # the plan says the third chord is viio (B D F): F is no seventh now, and the bass G is a
    # non-chord tone of it, stepped into and left by leap back to a chord tone: an escape tone,
    # accented on the strong third beat
    plan.chords[2] = ChordEvent(2, 1, "viio", "C")
    r = check(build(rows, "C"), plan=plan)
    assert r.violations == []
    from partimento.grammar.rules.nct import class_at

    assert class_at(r.sonorities, r.ctx, 2, 3).label == "escape tone (accented)"


def test_sonorities_from_grid_one_row_per_attack():
    pitch = np.array([[72, 67, 64, 48]] * 4 + [[74, 67, 65, 50]] * 4 + [[76, 67, REST, 48]] * 8, np.int16)
    attack = np.zeros((16, 4), bool)
    attack[0] = attack[4] = True
    attack[8, [0, 3]] = True
    s = sonorities_from_grid(pitch, attack, "4/4")
    assert len(s) == 3 and s.offset.tolist() == [0.0, 1.0, 2.0] and s.duration.tolist() == [1.0, 1.0, 2.0]
    assert s.beat.tolist() == [1.0, 2.0, 3.0] and s.pitch[2].tolist() == [76, 67, REST, 48]
    s2 = sonorities_from_grid(pitch, attack, "3/4", pickup=1)
    assert s2.measure.tolist() == [0, 1, 1] and s2.beat.tolist() == [3.0, 1.0, 2.0]


def test_check_arrays_without_music21():
    p = np.array([[72, 67, 64, 48], [74, 69, 65, 50]], np.int16)
    s = SonorityArray(p, np.ones((2, 4), bool), np.arange(2.0), np.ones(2), np.ones(2, np.int32), np.arange(2) + 1.0)
    from partimento.grammar.theory import key_info
    r = check_arrays(s, Context([key_info("C")] * 2))
    assert ("parallel-fifths", ["alto", "bass"]) in [(v.rule, v.voices) for v in r.violations]


def test_user_rule_registers_and_runs_in_every_profile():
    @register
    class NoBassAboveC3(Rule):
        """Test rule: the bass stays at or below C3."""

        id = "test-bass-low"
        default_severity = Severity.WARNING

        def check(self, s, ctx):
            return [self.violation(s, i, [3], "bass too high", ctx=ctx) for i in range(len(s)) if s.pitch[i, 3] > 48]

    try:
        r = check(build(["C5 G4 E4 C3", "C5 A4 F4 F3", "B4 G4 D4 G3", "C5 G4 E4 C3"], "C"), "chorale")
        assert [(v.rule, v.severity) for v in r.violations] == [("test-bass-low", Severity.WARNING)] * 2
        assert "test-bass-low" not in [x.id for x in hard_rules("strict")]
    finally:
        RULES.pop("test-bass-low")


def test_a_rule_registered_after_a_check_runs_in_the_next_check():
    """The checker keeps the rule objects of a profile between checks; registering a rule
    (or replacing one under its id) must still reach the very next check."""
    score = ["C5 G4 E4 C3", "C5 A4 F4 F3", "B4 G4 D4 G3", "C5 G4 E4 C3"]
    before = check(build(score, "C"), "chorale")
    assert "test-late-rule" not in {v.rule for v in before.violations}

    @register
    class LateRule(Rule):
        id = "test-late-rule"
        default_severity = Severity.WARNING

        def check(self, s, ctx):
            return [self.violation(s, 0, [0], "first row", ctx=ctx)]

    try:
        assert [v.rule for v in check(build(score, "C"), "chorale").violations].count("test-late-rule") == 1

        @register
        class LateRuleTwice(LateRule):  # the same id, another class: the new one runs
            def check(self, s, ctx):
                return [self.violation(s, i, [0], "every row", ctx=ctx) for i in range(2)]

        assert [v.rule for v in check(build(score, "C"), "chorale").violations].count("test-late-rule") == 2
    finally:
        RULES.pop("test-late-rule")
    after = check(build(score, "C"), "chorale")
    assert [(v.rule, v.index) for v in after.violations] == [(v.rule, v.index) for v in before.violations]


def test_unknown_profile_and_non_score_input():
    from partimento.grammar.errors import InputError

    with pytest.raises(InputError):
        get_profile("lenient")
    with pytest.raises(ScoreError, match="expected four voices"):
        check(stream.Score([stream.Part([note.Note("C4")])]))


def test_what_the_rules_of_a_check_share_lives_for_that_check_only():
    """check_arrays lets rules share arrays of its sonorities (Context.shared); the report's context
    keeps none of them, so a rule asked later about other sonorities with that context judges those."""
    parsed = check(corpus.parse("bwv66.6"), "strict").parsed
    report = check_arrays(parsed.sonorities, parsed.ctx, "strict")
    assert report.ctx.scratch is None and parsed.ctx.scratch is None
    rule = RULES["parallel-fifths"]()
    s = parsed.sonorities
    fifths = s.pitch.copy()
    fifths[:2] = [[72, 67, 64, 48], [74, 69, 65, 50]]  # alto and bass G4-C3 to A4-D3: parallel fifths
    found = rule.check(SonorityArray(fifths, s.attack, s.offset, s.duration, s.measure, s.beat), report.ctx)
    assert [v.index for v in found if v.index == 1] == [1]
    assert not [v for v in rule.check(s, report.ctx) if v.index == 1]
    made = []
    ctx = Context(keys=parsed.ctx.keys, scratch={})
    assert ctx.shared("x", lambda: made.append(1) or "first") == "first"
    assert ctx.shared("x", lambda: made.append(1) or "second") == "first" and made == [1]
    assert Context(keys=parsed.ctx.keys).shared("x", lambda: "made") == "made"
