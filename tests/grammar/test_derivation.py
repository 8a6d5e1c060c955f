"""Every plan chord knows its derivation path (issue 17, item 2), sampled or parsed, through JSON."""
from __future__ import annotations

import json

import pytest

from partimento.grammar import load
from partimento.grammar.derivation import Derivation
from partimento.grammar.errors import InputError, PlanError
from partimento.grammar.plan import Plan


def test_each_sampled_chord_has_its_path_from_the_start_symbol(grammars):
    plan = grammars["chorale"].sample(key="e", bars=8, seed=4)
    for i, chord in enumerate(plan.chords):
        path = plan.derivation_path(i)
        assert path.chord == i and path.figure == chord.figure and path.key == chord.key
        assert path.phrase == chord.phrase and path.cadence == plan.phrases[chord.phrase].cadence
        assert path.steps[0].rule == "start" and path.rules[0] == "start"
        for step in path.steps:  # each step names a real alternative of the grammar, with its weight
            alternative = grammars["chorale"].rules[step.rule].alternatives[step.index]
            assert step.alternative == alternative.text and step.weight == alternative.weight
            assert step.probability is not None and 0 < step.probability <= 1
        last = path.steps[-1]
        assert chord.figure in last.alternative or chord.figure.replace("7", "753") in last.alternative \
            or last.alternative.strip('"').startswith(chord.figure.rstrip("6").rstrip("4"))
    d = plan.derivation_path(0).to_dict()
    assert json.loads(json.dumps(d)) == d and set(d["steps"][0]) >= {"rule", "alternative", "weight"}
    with pytest.raises(InputError, match="no chord"):
        plan.derivation_path(len(plan.chords))


def test_the_path_names_the_phrase_key_region_and_cadence(grammars):
    for seed in range(40):
        plan = grammars["harmony"].sample(key="C", bars=16, seed=seed)
        modulated = [i for i, c in enumerate(plan.chords) if c.key != plan.key]
        if modulated:
            path = plan.derivation_path(modulated[-1])
            assert path.key == plan.chords[modulated[-1]].key and path.steps[-1].key == path.key
            assert "modulation" in path.rules  # the key region comes from a modulation rule
            return
    pytest.fail("no modulating plan in 40 seeds")


@pytest.mark.parametrize("indent", [None, 1])
def test_derivations_survive_plan_json(grammars, indent):
    plan = grammars["ternary"].sample(key="A", bars=16, seed=2)
    back = Plan.from_json(plan.to_json(indent=indent))
    assert back == plan
    assert [back.derivation_path(i) for i in range(len(back.chords))] == \
        [plan.derivation_path(i) for i in range(len(plan.chords))]
    assert back.to_json(indent=None) == plan.to_json(indent=None)
    assert json.loads(plan.to_json(indent=None)) == json.loads(plan.to_json(indent=1))
    data = json.loads(plan.to_json(indent=None))["derivation"]
    assert data["format"] == 1 and all(isinstance(x, (str, int)) for x in data["nodes"])  # a flat list


def test_json_lines_from_cached_pieces_are_json_dumps_byte_for_byte(grammars):
    """The JSON Lines writer encodes chord tails and node values once per process; what it writes
    is exactly json.dumps of the plan's dict, also for a chord whose values are not the plain types."""
    for name, key in (("chorale", "C"), ("binary", "f#"), ("blues", "B-")):
        for seed in range(12):
            plan = grammars[name].sample(key=key, bars=12 if name == "blues" else 8, seed=seed)
            assert plan.to_json(indent=None) == json.dumps(plan.to_dict())
    plan.chords[0].phrase = True  # not an int: written by json as it is, not from a cached tail
    plan.chords[1].onset = 2  # an int onset
    assert plan.to_json(indent=None) == json.dumps(plan.to_dict())


def test_sampled_chords_are_built_on_first_read_and_edits_reach_the_json(grammars):
    """A sampled plan holds its chords as rows until read (plan._LazyChords): JSON written from the rows
    equals JSON written from the ChordEvents, and once read, an edit or a new list is what JSON writes."""
    from partimento.grammar.plan import ChordEvent, Plan

    g = grammars["chorale"]
    lazy = g.sample(key="d", bars=8, seed=4)
    assert "_chord_rows" in lazy.__dict__
    text, indented, as_dict = lazy.to_json(indent=None), lazy.to_json(), lazy.to_dict()
    read = g.sample(key="d", bars=8, seed=4)
    assert all(isinstance(c, ChordEvent) for c in read.chords) and "_chord_rows" not in read.__dict__
    assert read.chords is read.chords  # built once and kept
    assert (read.to_json(indent=None), read.to_json(), read.to_dict()) == (text, indented, as_dict)
    assert read == lazy and Plan.from_json(text) == read  # equality reads the chords of both
    read.chords[-1].figure = "vi"
    assert json.loads(read.to_json(indent=None))["chords"][-1]["figure"] == "vi"
    read.chords = read.chords[:2]
    assert len(json.loads(read.to_json(indent=None))["chords"]) == 2
    fresh = g.sample(key="d", bars=8, seed=4)
    fresh.chords = []
    assert fresh.chords == [] and json.loads(fresh.to_json(indent=None))["chords"] == []


def test_the_networkx_graph_is_built_only_when_asked_for(grammars):
    import networkx as nx

    plan = grammars["sentence"].sample(key="C", bars=8, seed=3)
    assert "_derivation_graph" not in plan.__dict__ or plan.__dict__["_derivation_graph"] is None
    graph = plan.derivation
    assert isinstance(graph, nx.DiGraph) and nx.is_arborescence(graph)
    leaves = [n for n in nx.dfs_preorder_nodes(graph, 0) if graph.out_degree(n) == 0
              and not graph.nodes[n]["figure"].startswith("@")]
    assert [graph.nodes[n]["figure"] for n in leaves] == [c.figure for c in plan.chords]


def test_plan_json_written_before_compact_derivations_still_reads(grammars):
    import networkx as nx

    plan = grammars["period"].sample(key="D", bars=8, seed=1)
    old = json.loads(plan.to_json())
    old["derivation"] = nx.node_link_data(plan.derivation_tree.graph, edges="edges")  # the old format
    back = Plan.from_dict(old)
    assert back == plan and back.derivation.number_of_nodes() == plan.derivation.number_of_nodes()
    path = back.derivation_path(2)
    assert path.rules == plan.derivation_path(2).rules and path.steps[0].probability is None  # no table then


@pytest.mark.parametrize("bad", [
    {"format": 1, "nodes": ["start:0", "C", 2, "I", 0, 0]},          # a child missing
    {"format": 1, "nodes": ["start:0", 0, 0]},                        # the root needs a key
    {"format": 1, "nodes": "start:0 C 0"},
    {"format": 9, "nodes": ["I", "C", 0]},
    {"format": 1, "nodes": ["I", "C", 0, "V", "C", 0]},               # two roots
])
def test_a_malformed_derivation_is_a_plan_error(bad):
    with pytest.raises(PlanError, match="derivation"):
        Derivation.from_dict(bad)


def test_a_parsed_analysis_explains_its_chords_from_the_parse(harmony):
    text = "Time Signature: 4/4\n\nm1 C: I b2 IV b3 V7 b4 I ||\nm2 I b2 V b3 IV b4 ii ||\nm3 I b3 G: V7 b4 I\n"
    result = harmony.parse(text)
    assert [p.parsed for p in result.phrases] == [True, False, True]
    path = result.derivation_path(2)  # V7 of the first phrase's cadence
    assert path.figure == "V7" and path.rules[0] == "phrase" and "pac" in path.rules
    assert path.steps[-1].alternative == '"V753"'  # the root-position V7 of the PAC
    assert result.derivation_path(5) is None  # its phrase does not parse
    last = result.derivation_path(len(result.plan.chords) - 1)
    assert last.key == "G" and "modulation" in last.rules
