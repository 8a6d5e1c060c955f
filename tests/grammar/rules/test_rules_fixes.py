"""Suggested fixes: applied to the planted exercises, each removes its violation and adds none."""
from __future__ import annotations

import pytest
from exercises import build, rows_of
from music21 import pitch
from test_rules_exercises import PLANTED

from partimento.grammar.rules import check
from partimento.grammar.rules.fixes import suggest_fixes, violation_keys

_VOICES = ("soprano", "alto", "tenor", "bass")


def _with_fix(rows: list[str], fix) -> list[str]:
    """The exercise with the fixed note written in (its row is its sonority; ties stay)."""
    grid = rows_of(rows)
    v = _VOICES.index(fix.voice)
    name, sep, dur = grid[fix.start][v].partition(":")
    assert pitch.Pitch(name).midi == fix.old
    grid[fix.start][v] = pitch.Pitch(midi=fix.new).nameWithOctave + sep + dur
    return [" ".join(r) for r in grid]


@pytest.mark.parametrize("rule, key, rows, where", PLANTED, ids=[f"{p[0]}-{p[1]}" for p in PLANTED])
def test_each_suggested_fix_removes_its_violation_and_adds_none(rule, key, rows, where):
    report = check(build(rows, key))
    violation = next(v for v in report.violations if v.rule == rule)
    fixes = suggest_fixes(report, violation, limit=1)  # the nearest per voice (each rebuild costs music21 time)
    assert fixes, "every planted violation has a verified fix within an octave"
    assert all(f.rule == rule and f.voice in violation.voices and f.new != f.old for f in fixes)
    before = violation_keys(report.violations)
    for fix in fixes:
        after = check(build(_with_fix(rows, fix), key))
        keys = violation_keys(after.violations)
        assert (rule, violation.index, frozenset(violation.voices)) not in keys, fix.text
        assert keys <= before, (fix.text, [v.to_dict() for v in after.violations])

