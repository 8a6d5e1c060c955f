"""matplotlib pictures: piano roll, derivation tree, loss curves."""
from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import networkx as nx
import pytest
from matplotlib.collections import PatchCollection
from matplotlib.patches import Rectangle
from music21 import corpus

from partimento.grammar.errors import InputError
from partimento.grammar.plan import ChordEvent, Plan
from partimento.grammar.rules.base import Severity, Violation
from partimento.hybrid import plots


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def chorale():
    return corpus.parse("bach/bwv66.6")


def test_piano_roll_draws_every_note_boundary_and_violation(chorale):
    plan = Plan(key="A", metre="4/4", bars=1, pickup=1.0, chords=[
        ChordEvent(0, 1, "I", "A"), ChordEvent(1, 1, "V6", "A"), ChordEvent(2, 3, "I", "A")])
    vs = [Violation("parallel-fifths", Severity.ERROR, 5, 2, 1.0, ["tenor", "bass"], "fifths")]
    ax = plots.piano_roll(chorale, plan=plan, violations=vs)
    bars = [c for c in ax.collections if isinstance(c, PatchCollection)]
    assert [len(c.get_paths()) for c in bars] == [36, 42, 44, 41]  # tied notes merged
    boundaries = [l for l in ax.lines if l.get_linestyle() == "--"]
    assert [l.get_xdata()[0] for l in boundaries] == [0.0, 1.0, 2.0]
    texts = [t.get_text() for t in ax.texts]
    assert "A: I" in texts and "V6" in texts and "parallel-fifths" in texts
    boxes = [p for p in ax.patches if isinstance(p, Rectangle) and not p.get_fill()]
    assert len(boxes) == 2 and {b.get_x() for b in boxes} == {5.0}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "soprano", "alto", "tenor", "bass", "violation"]


def test_piano_roll_takes_a_result_with_plan_and_report(chorale):
    from types import SimpleNamespace

    plan = Plan(key="A", metre="4/4", bars=1, chords=[ChordEvent(0, 4, "I", "A")])
    result = SimpleNamespace(score=chorale, plan=plan, report=SimpleNamespace(violations=[]))
    ax = plots.piano_roll(result, title="bwv66.6")
    assert ax.get_title() == "bwv66.6"
    assert "A: I" in [t.get_text() for t in ax.texts]


def _tree():
    g = nx.DiGraph()
    g.add_node("r", label="piece")
    for a, b, label in [("r", "p1", "phrase"), ("r", "p2", "phrase"), ("p1", "c1", "I"), ("p1", "c2", "V"),
                        ("p2", "c3", "IV"), ("p2", "c4", "V7"), ("p2", "c5", "I")]:
        g.add_node(b, label=label)
        g.add_edge(a, b)
    return g


def test_tree_layout_centres_parents_over_ordered_leaves():
    pos = plots.tree_layout(_tree())
    assert [pos[c][0] for c in ("c1", "c2", "c3", "c4", "c5")] == [0, 1, 2, 3, 4]
    assert pos["p1"] == (0.5, -1) and pos["p2"] == (3.0, -1) and pos["r"] == (1.75, 0)


def test_tree_layout_follows_an_order_attribute():
    g = _tree()
    g.edges["p1", "c1"]["order"] = 1
    g.edges["p1", "c2"]["order"] = 0
    pos = plots.tree_layout(g)
    assert pos["c2"][0] < pos["c1"][0]


def test_derivation_tree_draws_labels_from_a_plan():
    plan = Plan(key="C", bars=1, chords=[ChordEvent(0, 4, "I", "C")])
    plan.derivation = _tree()
    ax = plots.derivation_tree(plan)
    assert sorted(t.get_text() for t in ax.texts) == sorted(["piece", "phrase", "phrase", "I", "V", "IV", "V7", "I"])
    assert len(ax.lines) == 7
    plan.derivation = None
    with pytest.raises(InputError, match="no derivation"):
        plots.derivation_tree(plan)


LOG = [{"epoch": 1, "train_loss": 3.0, "valid_loss": 3.2}, {"epoch": 2, "train_loss": 2.5},
       {"epoch": 3, "train_loss": 2.1, "valid_loss": 2.6}]


def _curves(ax):
    return {l.get_label(): (list(l.get_xdata()), list(l.get_ydata())) for l in ax.lines}


def test_loss_curves_from_dicts_jsonl_and_csv(tmp_path):
    want = {"train loss": ([1, 2, 3], [3.0, 2.5, 2.1]), "valid loss": ([1, 3], [3.2, 2.6])}
    assert _curves(plots.loss_curves(LOG)) == want
    jsonl = tmp_path / "log.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in LOG) + "\n")
    assert _curves(plots.loss_curves(jsonl)) == want
    csv = tmp_path / "log.csv"
    csv.write_text("epoch,train_loss,valid_loss\n1,3.0,3.2\n2,2.5,\n3,2.1,2.6\n")
    assert _curves(plots.loss_curves(csv)) == want


def test_loss_curves_errors(tmp_path):
    with pytest.raises(InputError, match="no loss columns"):
        plots.loss_curves([{"epoch": 1, "lr": 0.1}])
    with pytest.raises(InputError, match="no such training log"):
        plots.loss_curves(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    with pytest.raises(InputError, match="not a JSON training log"):
        plots.loss_curves(bad)


def test_tree_layout_can_put_every_chord_on_the_bottom_row():
    g = _tree()
    g.add_node("c0", label="I6")
    g.add_edge("r", "c0")  # a leaf right under the root
    pos = plots.tree_layout(g, leaves_at_bottom=True)
    assert {pos[c][1] for c in ("c0", "c1", "c2", "c3", "c4", "c5")} == {-2}
    assert pos["p1"][1] == -1 and pos["r"][1] == 0
