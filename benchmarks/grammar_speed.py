"""Sampling and parsing speed of the grammar layer, on one core.

* sampling: 16-bar plans per second for each shipped grammar (after one warm-up draw,
  which solves the grammar's length tables once);
* parsing: time to decide one 16-bar phrase of ``harmony`` (the Earley recognizer that
  ``Grammar.parse`` runs), median over phrases; both at the issue's one chord per bar
  (16 chords) and at a sampled chorale-like harmonic rhythm (about 50 chords), plus the
  cost of building the Lark parse tree, which ``PhraseParse.tree`` does on first access.

    python benchmarks/grammar_speed.py [--plans 2000] [--phrases 200]

Prints the numbers and writes ``benchmarks/results/grammar_speed.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from partimento.grammar import available_grammars, load
from partimento.grammar.parsing import phrase_tokens


def sampling_rate(name: str, n: int) -> float:
    g = load(name)
    bars = 12 if name == "blues" else 16
    g.sample(key="C", bars=bars, seed=0)  # warm-up: solves the length tables
    t = time.perf_counter()
    for seed in range(n):
        g.sample(key="C", bars=bars, seed=seed)
    return n / (time.perf_counter() - t)


def parse_times(n: int) -> dict:
    g = load("harmony")
    parser = g._parser
    long_phr, short_phr = [], []
    seed = 0
    while len(long_phr) < n:
        plan = g.sample(key="C" if seed % 2 else "a", bars=16, seed=seed, phrase_bars=16)
        long_phr.append((phrase_tokens(plan.chords), "minor" if plan.key.islower() else "major"))
        seed += 1
    seed = 0
    while len(short_phr) < n:  # one chord per bar: sample with one beat per bar (16 chords)
        plan = g.sample(key="C" if seed % 2 else "a", bars=16, metre="1/4", seed=seed, phrase_bars=16)
        short_phr.append((phrase_tokens(plan.chords), "minor" if plan.key.islower() else "major"))
        seed += 1
    out = {}
    for label, phrases in (("16_chords", short_phr), ("sampled_16_bars", long_phr)):
        times = []
        for toks, mode in phrases:
            t = time.perf_counter()
            ok, _ = parser.parse_tokens(toks, mode)
            times.append(time.perf_counter() - t)
            assert ok
        tree_times = []
        for toks, mode in phrases[: max(5, n // 20)]:
            t = time.perf_counter()
            parser.tree(toks, mode)
            tree_times.append(time.perf_counter() - t)
        out[label] = {"chords_mean": statistics.mean(len([x for x in t if not x.startswith("@")]) for t, _ in phrases),
                      "recognize_ms_median": 1000 * statistics.median(times),
                      "recognize_ms_p90": 1000 * sorted(times)[int(0.9 * len(times))],
                      "lark_tree_ms_median": 1000 * statistics.median(tree_times),
                      "phrases": len(phrases), "tree_phrases": len(tree_times)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plans", type=int, default=2000)
    ap.add_argument("--phrases", type=int, default=200)
    ap.add_argument("--out", default="benchmarks/results/grammar_speed.json")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    rates = {}
    for name in available_grammars():
        rates[name] = sampling_rate(name, args.plans)
        print(f"sampling {name:9s} {rates[name]:8.0f} plans/s ({'12' if name == 'blues' else '16'} bars)")
    parse = parse_times(args.phrases)
    for label, d in parse.items():
        print(f"parse {label}: {d['chords_mean']:.1f} chords, recognize median {d['recognize_ms_median']:.2f} ms "
              f"(p90 {d['recognize_ms_p90']:.2f} ms), Lark tree median {d['lark_tree_ms_median']:.1f} ms")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"sampling_plans_per_s": rates, "parse": parse, "cpu_count": os.cpu_count()}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
