"""compose / realize with the shipped model and the checker: the guarantees, end to end."""
from __future__ import annotations

import numpy as np
import pytest
from hybrid_fakes import FakeModel, cadence_plan

from partimento.grammar.errors import InputError, PlanError, UnsatisfiableError
from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.grammar.plan import ChordEvent, Plan
from partimento.hybrid import compose, realize
from partimento.hybrid.result import onset_misses


def adherent(result) -> bool:
    return onset_misses(result.pitch, result.attack, result.plan) == []  # suspensions count by their resolution


@pytest.mark.parametrize("seed", [0, 1])
def test_shipped_model_realizes_a_plan_with_zero_strict_errors(seed):
    plan = cadence_plan(key="e", figures=("i", "iv", "V7", "i", "VI", "iio6", "V", "i"))
    result = realize(plan, seed=seed)
    assert result.report is not None and result.errors == []
    assert adherent(result)


@pytest.mark.parametrize("grammar,seed", [("chorale", 0), ("period", 3)])
def test_compose_with_a_shipped_grammar_has_zero_strict_errors(grammar, seed):
    result = compose(grammar, key="F", bars=4, seed=seed)
    assert result.errors == []
    assert adherent(result)
    assert result.plan.bars == 4 and result.plan.key == "F"
    again = compose(grammar, key="F", bars=4, seed=seed)
    assert np.array_equal(again.tokens, result.tokens)


def test_realize_reads_plan_files(tmp_path):
    plan = cadence_plan(figures=("I", "IV", "V", "I"))
    plan.write(tmp_path / "p.json")
    plan.write(tmp_path / "p.rntxt")
    a = realize(tmp_path / "p.json", seed=0, model=FakeModel(0))
    b = realize(str(tmp_path / "p.rntxt"), seed=0, model=FakeModel(0))
    assert [c.figure for c in a.plan.chords] == [c.figure for c in b.plan.chords] == ["I", "IV", "V", "I"]


def test_unknown_figure_and_unknown_option_are_input_errors():
    plan = Plan(key="C", bars=1, chords=[ChordEvent(0, 4, "Q7", "C")])
    with pytest.raises(PlanError) as e:
        realize(plan, model=FakeModel())
    assert e.value.location.measure == 1
    with pytest.raises(InputError):
        realize(cadence_plan(), model=FakeModel(), nucleus=0.9)
    with pytest.raises(InputError):
        compose("chorale", bars=0, model=FakeModel())


def test_unrealizable_plan_raises_exit_3():
    plan = Plan(key="C", bars=1, chords=[ChordEvent(0, 2, "V42", "C"), ChordEvent(2, 2, "I", "C")])
    with pytest.raises(UnsatisfiableError) as e:
        realize(plan, model=FakeModel())
    assert e.value.exit_code == 3
