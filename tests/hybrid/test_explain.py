"""Why this note? Every token of a composed piece explains itself, legally, replayably, deterministically."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hybrid_fakes import FakeModel

from partimento.grammar.errors import InputError
from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.grammar.rules.base import RULES
from partimento.hybrid import compose
from partimento.hybrid.constraint import Constraint
from partimento.hybrid.explain import Explanation, explain_decision


@pytest.fixture(scope="module")
def piece():
    return compose("chorale", key="d", bars=2, seed=3, model=FakeModel(3), record=True)


def test_every_token_has_a_legal_explanation_that_replays(piece):
    """Each (step, voice): the chosen token is legal under every rule listed, and the masks
    rebuilt from the explanation (its rule ids, step and voice, on the piece's plan and the
    notes before it) give exactly the legal set it records."""
    plan, tokens = piece.plan, piece.tokens
    assert piece.errors == []
    rules = None
    replay = None
    for step in range(plan.steps):
        for voice in range(4):
            ex = explain_decision(piece.trace, step, voice, plan=plan, report=piece.report)
            d = json.loads(ex.to_json())
            if rules is None:
                rules = [RULES[r]() for r in d["decision"]["rules"]]
                assert rules, "composed under hard rules"
                replay = Constraint(plan, rules)
            assert replay.position == (d["decision"]["step"], voice)
            layers = replay.layers()
            assert np.flatnonzero(layers.legal).tolist() == d["decision"]["legal_tokens"]
            chosen = [c for c in d["candidates"] if c["chosen"]]
            assert len(chosen) == 1 and chosen[0]["token"] == tokens[step, voice] == d["decision"]["token"]
            assert chosen[0]["legal"] and chosen[0]["removed_by"] == []
            assert all(layer.allowed[chosen[0]["token"]] for layer in layers.layers)  # legal under every rule
            for c in d["candidates"]:
                removers = {r["layer"] for r in c["removed_by"] if r["layer"] != "search:tried"}
                assert removers == set(layers.removed_by(c["token"])), (step, voice, c["pitch"])
                assert c["legal"] == bool(layers.legal[c["token"]])
            assert d["note"]["role"] and d["chord"]["figure"]
            replay.push(int(tokens[step, voice]))


def test_explanations_are_deterministic_for_a_seed(piece):
    again = compose("chorale", key="d", bars=2, seed=3, model=FakeModel(3), record=True)
    for m, b, v in ((1, 1, "soprano"), (1, 3.5, "tenor"), (2, 2, "alto"), (2, 4, "bass")):
        assert piece.explain(m, b, v).to_json() == again.explain(m, b, v).to_json()


def test_explanation_of_a_spot_names_the_note_its_chord_and_the_alternatives(piece):
    ex = piece.explain(1, 1, "alto")
    assert isinstance(ex, Explanation)
    d = ex.to_dict()
    assert {"measure", "beat", "voice", "note", "chord", "candidates", "backtracks"} <= set(d)
    assert d["measure"] == 1 and d["beat"] == 1.0 and d["voice"] == "alto"
    assert d["note"]["midi"] == int(piece.pitch[0, 1]) and d["note"]["pitch"][-1].isdigit()
    assert d["chord"]["figure"] == piece.plan.chords[0].figure and d["chord"]["key"] == piece.plan.chords[0].key
    assert d["chord"]["derivation"], "a sampled plan knows how its chords were derived"
    assert any(r["rule"] for c in d["candidates"] for r in c["removed_by"])
    assert all(0 <= c["p_model"] <= 1 for c in d["candidates"])
    text = str(ex)
    assert "measure 1, beat 1, alto" in text and "chosen" in text
    assert "<table>" in ex._repr_html_()


def test_a_held_note_is_explained_by_the_decision_that_struck_it(piece):
    held = [(t, v) for t in range(1, piece.plan.steps) for v in range(4)
            if not piece.attack[t, v] and piece.pitch[t, v] >= 0]
    t, v = held[len(held) // 2]
    m, b = piece.plan.metre_obj.measure_beat(t / STEPS_PER_QUARTER, piece.plan.pickup)
    ex = piece.explain(m, b, v)
    start = t
    while not piece.attack[start, v]:
        start -= 1
    assert ex.decision["step"] == start and ex.note["midi"] == int(piece.pitch[t, v])
    assert (ex.measure, ex.beat) == (m, b)


@pytest.mark.parametrize("spot, words", [((3, 1, "alto"), "no such measure"), ((1, 5, "alto"), "no such beat"),
                                         ((1, 1, "viola"), "unknown voice"), ((1, 1.1, "alto"), "sixteenth")])
def test_spots_outside_the_score_give_located_errors(piece, spot, words):
    with pytest.raises(InputError, match=words) as e:
        piece.explain(*spot)
    loc = e.value.location
    assert loc.measure == spot[0] or loc.voice == "viola"


def test_a_result_decoded_without_recording_says_how_to_explain():
    r = compose("chorale", key="C", bars=1, seed=0, model=FakeModel(0))
    assert r.trace is None
    with pytest.raises(InputError, match="record=True"):
        r.explain(1, 1, "soprano")
