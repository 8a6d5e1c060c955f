"""Calibrate the bass-line planner's move biases on sampled plans against Bach's moves at chord changes.

The planner is a Viterbi search: it takes the cheapest line, so ``-ln`` of Bach's frequencies
alone does not give Bach's shares (a move that is a little cheaper is taken every time). This
script samples ``--plans`` chorale plans (seeds from ``--seed0``, keys cycling; not the seeds
0-29 that ``style_vs_bach.py`` composes), lays the planner's line under each, and compares the
shares of its moves at chord changes by class (:data:`partimento.hybrid.bass_line.SIZE_CLASSES`)
with Bach's (``--bach``: the JSON ``bass_line_bach.py`` writes, When-in-Rome train+valid analyses).
With ``--rounds N`` it fits ``size_bias`` by N rounds of ``bias += rate * ln(ours / Bach's)``
(centred), prints the biases and the shares before and after.

    python benchmarks/bass_line_calibrate.py [--plans 60] [--seed0 1000] [--rounds 8]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from partimento.grammar import load
from partimento.hybrid.bass_line import BACH_WEIGHTS, SIZE_CLASSES, BassWeights, bass_line, size_class

KEYS = ("C", "G", "d", "F", "a", "B-", "e", "D")
BACH = Path(__file__).parent / "results" / "bass_line_bach.json"


def bach_shares(path: Path) -> dict[str, float]:
    """Bach's share of each move class at chord changes, from ``bass_line_bach.py``'s direction and sizes."""
    b = json.loads(path.read_text())["bach"]
    direction, sizes = b["direction"], b["sizes"]
    out = {c: 0.0 for c in SIZE_CLASSES}
    out["held"] = direction["same"]
    for kind, table in sizes.items():
        way = kind.split()[1]
        for size, p in table.items():
            name = f"{size} {way}" if size in ("1", "2") else f"{size if size in ('third', 'fourth', 'fifth') else 'other'} {way}"
            out[name] += direction[kind] * p
    return out


def planned_shares(plans: list, weights: BassWeights) -> dict[str, float]:
    """Share of each move class at the chord changes of the lines the planner lays under ``plans``."""
    c: Counter = Counter()
    for p in plans:
        line = bass_line(p, weights=weights)[1]
        c.update(size_class(b - a) for a, b in zip(line, line[1:]))
    n = sum(c.values())
    return {k: c[k] / n for k in SIZE_CLASSES}


def fit(plans: list, bach: dict[str, float], rounds: int, rate: float, start: BassWeights) -> BassWeights:
    """The biases of the round whose shares came closest to Bach's (the search is an argmin: rounds can oscillate)."""
    w, best, best_gap = start, start, math.inf
    for r in range(rounds + 1):
        ours = planned_shares(plans, w)
        gap = sum(abs(ours[k] - bach[k]) for k in SIZE_CLASSES) / 2  # total variation distance
        print(f"round {r}: distance {gap:.3f}", file=sys.stderr)
        if gap < best_gap:
            best, best_gap = w, gap
        bias = {k: w.size_bias.get(k, 0.0) + rate * math.log(max(ours[k], 1e-3) / max(bach[k], 1e-3))
                for k in SIZE_CLASSES}
        mean = float(np.mean(list(bias.values())))
        w = replace(w, size_bias={k: round(v - mean, 2) for k, v in bias.items()})
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plans", type=int, default=60)
    ap.add_argument("--seed0", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0.7)
    ap.add_argument("--bach", default=str(BACH))
    args = ap.parse_args()
    grammar = load("chorale")
    plans = [grammar.sample(key=KEYS[i % len(KEYS)], bars=16, seed=args.seed0 + i) for i in range(args.plans)]
    bach = bach_shares(Path(args.bach))
    before = planned_shares(plans, BACH_WEIGHTS)
    w = fit(plans, bach, args.rounds, args.rate, BACH_WEIGHTS) if args.rounds else BACH_WEIGHTS
    after = planned_shares(plans, w)
    print(f"{'class':12s}{'Bach':>8s}{'current':>9s}{'fitted':>9s}{'bias':>7s}")
    for k in SIZE_CLASSES:
        print(f"{k:12s}{bach[k]:8.3f}{before[k]:9.3f}{after[k]:9.3f}{w.size_bias.get(k, 0.0):7.2f}")
    print(json.dumps(w.size_bias))


if __name__ == "__main__":
    main()
