"""A plan read from JSON with wrong types or ranges is refused with the field named (issue 16).

Regression tests for ``partimento.grammar.plan_values`` (called by ``Plan.validate``),
``Plan.from_dict`` on JSON that is not an object, the sampler's bar limit and the
spelling table's fallback for chord names that are not Roman numerals.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from partimento.grammar.errors import InputError, PlanError
from partimento.grammar.plan import Plan
from partimento.grammar.plan_values import MAX_BARS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hybrid"))
from hybrid_fakes import cadence_plan  # noqa: E402


@pytest.fixture(scope="module")
def good() -> dict:
    return json.loads(cadence_plan(figures=("I", "IV", "V7", "I")).to_json())


def _load(d: dict) -> Plan:
    return Plan.from_json(json.dumps(d)).validate()


@pytest.mark.parametrize("edit,words", [
    (lambda d: d.update(bars="2"), "bars must be a whole number"),
    (lambda d: d.update(bars=True), "bars must be a whole number"),
    (lambda d: d.update(bars=MAX_BARS + 1), f"1 to {MAX_BARS} bars"),
    (lambda d: d.update(bars=0), f"1 to {MAX_BARS} bars"),
    (lambda d: d.update(tempo=0), "the tempo must be positive"),
    (lambda d: d.update(pickup=-1), "the pickup must be at least 0"),
    (lambda d: d.update(pickup=1e9), "quarter notes is not shorter than a bar of 4/4"),
    (lambda d: d.update(pickup=4.0), "the pickup of 4 quarter notes is not shorter than a bar"),
    (lambda d: d.update(key=7), "the plan's key"),
    (lambda d: d.update(seed="x"), "the seed must be a whole number"),
    (lambda d: d.update(chords=[5]), "not a partimento plan"),
    (lambda d: d["chords"][1].update(onset=None), "the onset of chord 2"),
    (lambda d: d["chords"][1].update(duration=-1), "the duration of chord 2 must be positive"),
    (lambda d: d["chords"][2].update(figure=3), "the figure of chord 3"),
    (lambda d: d["chords"][0].update(fermata="yes"), "the fermata of chord 1"),
    (lambda d: d["chords"][0].update(phrase=0.5), "the phrase of chord 1"),
    (lambda d: d["chords"][3].update(onset=1e12), "chord 4 starts after the end"),
])
def test_wrong_types_and_ranges_name_the_field(good, edit, words):
    d = json.loads(json.dumps(good))
    edit(d)
    with pytest.raises(PlanError, match=words.replace("(", r"\(")):
        _load(d)


def test_nan_is_not_a_number(good):
    text = json.dumps(good).replace('"duration": 1.0', '"duration": NaN', 1)
    with pytest.raises(PlanError, match="the duration of chord 1 must be a finite number"):
        Plan.from_json(text).validate()


def test_the_untouched_plan_is_valid(good):
    assert _load(good).bars == good["bars"]


@pytest.mark.parametrize("text", ["[1, 2]", "5", "null", '"plan"'])
def test_json_that_is_not_an_object_is_not_a_plan(text):
    with pytest.raises(PlanError, match="expected a JSON object"):
        Plan.from_json(text)


def test_a_mangled_derivation_is_a_plan_error(good):
    d = dict(good, derivation={"nodes": 5})
    with pytest.raises(PlanError, match="derivation"):
        Plan.from_json(json.dumps(d))


def test_sampler_refuses_more_than_max_bars_at_once():
    from partimento.grammar import load

    with pytest.raises(InputError, match=f"at most {MAX_BARS} bars"):
        load("chorale").sample(bars=100_000, seed=1)


def test_chord_table_spells_by_the_key_when_the_figure_is_no_roman_numeral():
    from partimento.grammar.rules.spelling import chord_table, spelling_table

    assert chord_table("F#m7", "C") == spelling_table("C")
    assert chord_table("bII6", "C")[1] == (1, -1)  # a real figure spells its own members: D-flat, not C-sharp
