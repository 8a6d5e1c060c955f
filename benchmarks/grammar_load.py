"""What ``compose`` pays for its plan: a grammar built afresh and its first 16-bar plan, against ``load`` again.

``compose`` and ``harmonize`` call :func:`partimento.grammar.load` on every call. A grammar
built afresh fills its sampling tables (the probability of every rule yielding every
length) on its first plan; ``load`` keeps the grammars it built, keyed by the files'
texts, so a second ``compose`` in the same process starts from the filled tables.

For each shipped grammar, ``--n`` times, alternating: (a) ``Grammar(read_source(...),
weights)`` plus its first plan — what every ``compose`` paid before ``load`` kept its
grammars, and what the first ``compose`` of a process still pays; (b) ``load(name)`` plus a
plan with another seed, on the kept grammar. Medians, wall clock and this process's CPU
time, in milliseconds; prints them and writes ``benchmarks/results/grammar_load.json``.

    python benchmarks/grammar_load.py [--n 7]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from partimento.grammar import available_grammars, load
from partimento.grammar.grammar import Grammar, _resolve, companion_weights, read_source
from partimento.grammar.weights import read_weights

from grammar_results import write_result

RESULTS = Path(__file__).parent / "results" / "grammar_load.json"


def _fresh(name: str) -> Grammar:
    """The grammar as ``load`` built it before it kept them: parsed, weighted, no tables yet."""
    name, path, text = _resolve(name)
    weights = companion_weights(path)
    return Grammar(read_source(text, name, path), read_weights(weights) if weights.is_file() else None)


def _timed(work) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    work()
    return (time.perf_counter() - t) * 1e3, (time.process_time() - c) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=7, help="timed rounds per grammar")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    rows = {}
    for name in available_grammars():
        bars = 12 if name == "blues" else 16
        load(name).sample(key="C", bars=bars, seed=0)  # the kept grammar, tables filled
        fresh, kept = [], []
        for i in range(args.n):
            fresh.append(_timed(lambda: _fresh(name).sample(key="C", bars=bars, seed=i + 1)))
            kept.append(_timed(lambda: load(name).sample(key="C", bars=bars, seed=i + 1)))
        rows[name] = {
            "bars": bars,
            "fresh_grammar_first_plan_ms": statistics.median(w for w, _ in fresh),
            "fresh_grammar_first_plan_cpu_ms": statistics.median(c for _, c in fresh),
            "kept_grammar_plan_ms": statistics.median(w for w, _ in kept),
            "kept_grammar_plan_cpu_ms": statistics.median(c for _, c in kept),
        }
        r = rows[name]
        print(f"{name:10s} fresh grammar + first plan {r['fresh_grammar_first_plan_ms']:7.1f} ms   "
              f"load again + plan {r['kept_grammar_plan_ms']:6.2f} ms")
    write_result(args.out, {"n": args.n, "grammars": rows, "command": "python benchmarks/grammar_load.py"})


if __name__ == "__main__":
    main()
