"""The checker's findings on three Bach chorales are pinned: speed work must not change what it finds.

``pinned_findings.json`` was written by the checker before the speed work of issue 16
(see its ``about``); the benchmark ``benchmarks/checker_speed.py`` times the same call.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from music21 import corpus

from partimento.grammar.errors import ScoreError
from partimento.grammar.rules import check

PINNED = json.loads((Path(__file__).parent / "pinned_findings.json").read_text())


def _check(name: str):
    score = corpus.parse(name)
    try:
        return check(score, "strict")
    except ScoreError:  # instrument parts besides the four voices: name them, as the benchmark does
        return check(score, "strict", parts=("Soprano", "Alto", "Tenor", "Bass"))


@pytest.mark.parametrize("name", sorted(PINNED["chorales"]))
def test_findings_unchanged(name):
    want = PINNED["chorales"][name]
    report = _check(name)
    got = [[v.rule, v.severity.value, v.index, v.measure, v.beat, v.voices]
           for v in report.violations if v.rule != "unprepared-dissonance"]
    assert got == want["violations"]
    assert [k.name for k in report.ctx.keys] == want["keys"]
    assert [None if c is None else c.figure for c in report.ctx.chords] == want["chords"]
