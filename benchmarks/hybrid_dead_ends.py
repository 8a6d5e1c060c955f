"""Where the constrained search runs into dead ends, per checkpoint, on the same plans.

A dead end is a position whose mask is empty: the search then goes back (a retry). For each
checkpoint named, 16-bar plans of the chorale grammar are realized (seed i for plan i) and
every dead end is counted by the voice it happened at and the layers that removed its
candidates (``Constraint.dead_end().blocked_by``: the layers that each remove every candidate,
or, when none does alone, every layer that removes some). Retries per plan say what it cost.

Why: the distilled checkpoint composes a quarter slower than the one before it on
``hybrid_speed.py``'s plans although it costs the same per token; this says where its search
goes back.

    python benchmarks/hybrid_dead_ends.py --n 30 shipped benchmarks/candidates/chorale-compact-undistilled.safetensors

Prints a table and writes ``benchmarks/results/hybrid_dead_ends.json``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from environment import environment  # noqa: E402
from hybrid_judges import write_result  # noqa: E402

VOICES = ("soprano", "alto", "tenor", "bass")
KEYS = ("C", "G", "d", "F", "a", "B-", "e", "D")


def dead_ends(checkpoint: str, n: int, bars: int) -> dict:
    """Retries per plan and dead ends by (voice, blocking layers) for one checkpoint."""
    from partimento.grammar import load
    from partimento.grammar.errors import UnsatisfiableError
    from partimento.hybrid import constraint, realize
    from partimento.neural.checkpoint import load_model

    model = load_model(None if checkpoint == "shipped" else checkpoint)
    grammar = load("chorale")
    counts: Counter = Counter()
    original = constraint.Constraint.dead_end

    def counted(self):
        d = original(self)
        counts[(VOICES[self.position[1]], " + ".join(sorted(d.blocked_by)))] += 1
        return d

    retries, failed = [], 0
    constraint.Constraint.dead_end = counted
    try:
        for i in range(n):
            plan = grammar.sample(key=KEYS[i % len(KEYS)], bars=bars, seed=i)
            try:
                retries.append(realize(plan, seed=i, model=model, check=False).stats.get("retries", 0))
            except UnsatisfiableError:
                failed += 1
    finally:
        constraint.Constraint.dead_end = original
    by_voice = Counter()
    for (voice, _), k in counts.items():
        by_voice[voice] += k
    return {"checkpoint": checkpoint, "plans": n, "unrealized": failed,
            "retries_median": statistics.median(retries) if retries else None,
            "retries_mean": statistics.mean(retries) if retries else None, "retries": retries,
            "dead_ends": sum(counts.values()), "dead_ends_by_voice": dict(by_voice.most_common()),
            "dead_ends_by_layers": [{"voice": v, "layers": layers, "count": k}
                                    for (v, layers), k in counts.most_common()]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", help="checkpoints (.safetensors), or 'shipped'")
    ap.add_argument("--n", type=int, default=30, help="16-bar plans per checkpoint")
    ap.add_argument("--bars", type=int, default=16)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    rows = [dead_ends(ck, args.n, args.bars) for ck in args.checkpoints]
    for r in rows:
        print(f"{r['checkpoint']}: retries per plan median {r['retries_median']}, mean {r['retries_mean']:.1f}; "
              f"{r['dead_ends']} dead ends, by voice {r['dead_ends_by_voice']}; unrealized {r['unrealized']}")
        for x in r["dead_ends_by_layers"][:6]:
            print(f"  {x['count']:5d}  {x['voice']:8s} {x['layers']}")
    out = {"command": "python benchmarks/hybrid_dead_ends.py " + " ".join(sys.argv[1:]), "bars": args.bars,
           "rows": rows, "environment": environment()}
    print("wrote", write_result("hybrid_dead_ends", out))


if __name__ == "__main__":
    main()
