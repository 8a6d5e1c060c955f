"""Seeds for the fuzz tests: one valid input of every kind the commands read, built once.

Decoding uses the test double model (``tests/hybrid/hybrid_fakes.py``) unless a command
names a checkpoint, so a mutated input that happens to be valid is realized in a blink.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from commands import TINY_LARK

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "hybrid"))  # hybrid_fakes

RNTXT = """Composer: partimento
Title: fuzz seed
Analyst: partimento
Time Signature: 3/4

m1 b1 C: I b2 IV6 b3 V
m2 a: i b2 V7 b3 i
m3 C: ii6 b2 V b3 I
"""


@dataclass(repr=False)
class Seeds:
    musicxml: bytes  # four parts, spelled, a tie and a fermata
    two_staves: bytes  # the same on a grand staff (two voices per staff)
    midi: bytes
    rntxt: str
    lark: str
    plan_json: str
    result_json: str
    weights: bytes  # a tiny checkpoint: weights ...
    config: str  # ... and its JSON

    def __repr__(self) -> str:  # hypothesis prints the fixtures of a failing example
        return "Seeds(...)"


def _score():
    from music21 import expressions, key, meter, note, stream, tie

    rows = [("E5", "C5", "G4", "C3"), ("F5", "C5", "A4", "F3"), ("D5", "B4", "G4", "G3"), ("E5", "C5", "G4", "C3"),
            ("F#5", "C5", "A4", "D3"), ("G5", "B4", "G4", "G2"), ("G5", "B4", "D4", "G2"), ("E5", "C5", "G4", "C3")]
    score = stream.Score()
    for v, name in enumerate(("Soprano", "Alto", "Tenor", "Bass")):
        part = stream.Part()
        part.partName = name
        part.insert(0, meter.TimeSignature("4/4"))
        part.insert(0, key.Key("C"))
        for i, row in enumerate(rows):
            n = note.Note(row[v])
            if i == 5 and v == 0:
                n.tie = tie.Tie("start")
            if i == 6 and v == 0:
                n.tie = tie.Tie("stop")
            if i == len(rows) - 1:
                n.expressions.append(expressions.Fermata())
            part.append(n)
        score.insert(0, part.makeMeasures())
    return score


@pytest.fixture(scope="session")
def seeds(tmp_path_factory) -> Seeds:
    from hybrid_fakes import FakeModel, cadence_plan

    from partimento.grammar.score_writer import musicxml_bytes
    from partimento.hybrid import realize
    from partimento.neural.checkpoint import save_checkpoint
    from partimento.neural.model import CONFIGS, build_model

    sys.path.insert(0, str(HERE.parent / "grammar" / "rules"))
    from exercises import two_staves

    work = tmp_path_factory.mktemp("seeds")
    score = _score()
    mid = work / "s.mid"
    score.write("midi", fp=str(mid))
    plan = cadence_plan(figures=("I", "IV", "V7", "I"))
    result = realize(plan, seed=0, model=FakeModel(0))
    import torch

    torch.manual_seed(0)
    weights = save_checkpoint(build_model(CONFIGS["tiny"]), work / "tiny.safetensors")
    return Seeds(musicxml=musicxml_bytes(_score()), two_staves=musicxml_bytes(two_staves(_score(), "voices", True)),
                 midi=mid.read_bytes(), rntxt=RNTXT, lark=TINY_LARK, plan_json=plan.to_json(),
                 result_json=json.dumps(result.to_dict(), indent=0), weights=weights.read_bytes(),
                 config=weights.with_suffix(".json").read_text())


@pytest.fixture(scope="module", autouse=True)
def fake_default_model():
    """The default model is the test double; a named checkpoint is really loaded (that is what is fuzzed).

    Module scope, not session: a session fixture stays set up until the session ends, so every test
    collected after the fuzz tests (the other folders) ran on the test double too.
    """
    from hybrid_fakes import FakeModel

    from partimento.neural.checkpoint import load_model

    def load(checkpoint=None):
        return FakeModel(0) if checkpoint is None else load_model(checkpoint)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("partimento.hybrid.api.load_default_model", load)
        yield


@pytest.fixture(scope="session")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")
