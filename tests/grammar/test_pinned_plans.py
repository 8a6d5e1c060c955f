"""Sampled plans are pinned: speed work on the sampler and the plan's JSON must not change a draw.

``pinned_plans.json`` holds, for a few requests per shipped grammar (keys major and minor,
metres 4/4, 3/4 and 6/8, constraints), the chords of the plan as text and the SHA-256 of
its JSON Lines record and of its indented JSON (derivation included), or the error of a
request the grammar cannot fill. It was written by
the code of main at 7914eff, before the sampling speed work of issue 15; regenerate it
only for a change that means to change the draws:

    python tests/grammar/test_pinned_plans.py --write
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from partimento.grammar import available_grammars, load
from partimento.grammar.errors import InputError

PINNED_FILE = Path(__file__).parent / "pinned_plans.json"

#: (key, bars, metre, seed, constraints) per grammar; blues is a 12-bar form.
REQUESTS = [("C", 16, "4/4", 0, {}), ("C", 16, "4/4", 1, {}), ("a", 8, "4/4", 7, {}),
            ("E-", 12, "3/4", 42, {}), ("f#", 8, "6/8", 3, {}), ("G", 16, "4/4", 5, {"modulate": False}),
            ("d", 16, "4/4", 11, {"phrase_bars": [4]})]
BLUES = [("C", 12, "4/4", 0, {}), ("F", 12, "4/4", 1, {}), ("B-", 24, "4/4", 2, {})]


def _requests(name: str):
    return BLUES if name == "blues" else REQUESTS


def _record(grammar, key: str, bars: int, metre: str, seed: int, constraints: dict) -> dict:
    try:
        plan = grammar.sample(key=key, bars=bars, metre=metre, seed=seed, **constraints)
    except InputError as e:  # a request the grammar cannot fill: its message is pinned too
        return {"request": [key, bars, metre, seed, constraints], "error": str(e)}
    return {"request": [key, bars, metre, seed, constraints],
            "chords": " ".join(f"{c.onset:g}:{c.key}:{c.figure}{'*' if c.inversion_open else ''}"
                               + (f"[{c.cadence}]" if c.cadence else "") + ("^" if c.fermata else "")
                               for c in plan.chords),
            "jsonl_sha256": hashlib.sha256(plan.to_json(indent=None).encode()).hexdigest(),
            "json_sha256": hashlib.sha256(plan.to_json().encode()).hexdigest()}


BULK_SEEDS = 200  # the CLI's run: key C, 16 bars, 4/4, seeds 0..199, one JSON Lines record each


def _bulk(grammar) -> str:
    """SHA-256 of the JSON Lines of ``partimento plan --grammar NAME --count 200`` (caches warm as in a run)."""
    digest = hashlib.sha256()
    for seed in range(BULK_SEEDS):
        digest.update(grammar.sample(key="C", bars=16, seed=seed).to_json(indent=None).encode() + b"\n")
    return digest.hexdigest()


def _all_records() -> dict:
    return {name: [_record(load(name), *r) for r in _requests(name)] for name in available_grammars()}


@pytest.mark.parametrize("name", available_grammars())
def test_sampled_plans_unchanged(grammars, name):
    pinned = json.loads(PINNED_FILE.read_text())["grammars"][name]
    got = [_record(grammars[name], *r) for r in _requests(name)]
    assert len(got) == len(pinned)
    for want, have in zip(pinned, got):
        assert have.keys() == want.keys(), have["request"]
        for field in want:  # chords first: a failure shows which chords moved
            assert have[field] == want[field], (field, have["request"])


@pytest.mark.parametrize("name", ["chorale", "harmony"])
def test_two_hundred_cli_plans_unchanged(grammars, name):
    assert _bulk(grammars[name]) == json.loads(PINNED_FILE.read_text())["bulk_jsonl_sha256"][name]


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit(__doc__)
    PINNED_FILE.write_text(json.dumps({"about": "sampled plans of main at 7914eff (before the issue-15 sampling "
                                                "speed work); see test_pinned_plans.py", "grammars": _all_records(),
                                      "bulk_jsonl_sha256": {n: _bulk(load(n)) for n in ("chorale", "harmony")}},
                                      indent=1) + "\n")
    print(f"wrote {PINNED_FILE}")
