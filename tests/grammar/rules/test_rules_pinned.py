"""The checker's findings on Bach chorales are pinned: speed work must not change what it finds.

``pinned_findings.json`` was written by the checker before the speed work of issue 16,
``pinned_nct.json`` (every note's non-chord-tone class and every unprepared-dissonance
finding) before its second speed pass (see each file's ``about``); the benchmark
``benchmarks/checker_speed.py`` times the same call.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from music21 import corpus

from partimento.grammar.errors import ScoreError
from partimento.grammar.rules import check
from partimento.grammar.rules.nct import classify_notes

PINNED = json.loads((Path(__file__).parent / "pinned_findings.json").read_text())
PINNED_NCT = json.loads((Path(__file__).parent / "pinned_nct.json").read_text())


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


def _note_row(c) -> list:
    return [c.voice, c.start, c.stop, c.pitch, c.kind, c.label, c.dissonant_from, c.accented, c.chromatic,
            c.reason, c.closest]


@pytest.mark.parametrize("name", sorted(PINNED_NCT["chorales"]))
def test_non_chord_tone_classes_and_findings_unchanged(name):
    want = PINNED_NCT["chorales"][name]
    report = _check(name)
    s, ctx = report.sonorities, report.ctx
    notes = classify_notes(s, ctx)
    assert [_note_row(c) for c in notes] == want["notes"]
    # the checker's shortcut (chord tones left out) classes the other notes exactly alike
    assert classify_notes(s, ctx, chord_tones=False) == [c for c in notes if c.kind != "chord tone"]
    got = [[v.severity.value, v.index, v.measure, v.beat, v.voices, v.message]
           for v in report.violations if v.rule == "unprepared-dissonance"]
    assert got == want["unprepared_dissonance"]
