"""Speed of constrained decoding on one CPU core, against the bare model and music21's realizer.

For ``--n`` 16-bar plans of the ``chorale`` grammar (the plans compose would realize;
a plan the rules cannot realize is replaced by the next draw, as compose does):

* model load time, measured once, separately;
* wall time of ``realize`` per piece (plan -> tokens; no checker, no score), median,
  with the masks on and with ``--no-constraints`` on the same plans in the same run;
  the mask overhead is their ratio minus one. Each plan is realized ``--repeat`` times
  each way, alternating, and its fastest time each way is kept (the usual defence of a
  timing against a shared machine: interference only ever adds time); the overhead
  from the first runs alone and from the summed times is reported too;
* time spent building masks (plan masks, rule masks, the bass look-ahead, backtracking
  diagnostics), per token, in microseconds; the model's own time per token;
* music21's ``figuredBass`` realizer (rule based, no model) on the first 16 chords of the
  same plans: time to one realization, how often it finds one, and its violations by our
  checker's outside twin (music21's figuredBass.checker).

    python benchmarks/hybrid_speed.py --n 10
    python benchmarks/hybrid_speed.py --n 10 --against partimento/neural/checkpoints/chorale-interleaved.safetensors

``--against CHECKPOINT`` realizes the same plans (constrained, same seeds) with a second
model in the same run, alternating with the first, best of ``--repeat`` each, and
reports its median beside the first's (a plan the second model cannot realize counts as
missing for it).

One core means one thread everywhere: torch, and numpy's BLAS (set below, before numpy
loads). Pin the process as well on a busy machine (``taskset -c 1 python ...``).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # numpy's matrix-vector products: one thread, like torch below

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from hybrid_judges import checkpoint_facts, figured_bass_realization, figured_bass_violations, write_result  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10, help="number of 16-bar plans")
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--grammar", default="chorale")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--against", default=None, help="a second checkpoint timed side by side on the same plans")
    ap.add_argument("--repeat", type=int, default=3,
                    help="realize each plan this many times each way, alternating; keep the fastest of each")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time with this process's CPU clock instead of the wall clock (on a busy machine, "
                         "time spent waiting for a core is left out); the decoder's own timers follow")
    args = ap.parse_args()
    if args.cpu_time:
        time.perf_counter = time.process_time  # every timer below and in the decoder reads it

    import torch

    torch.set_num_threads(1)
    from partimento.grammar import load
    from partimento.grammar.errors import UnsatisfiableError
    from partimento.hybrid import realize
    from partimento.neural.checkpoint import load_model

    t0 = time.perf_counter()
    model = load_model(args.checkpoint)
    load_s = time.perf_counter() - t0
    other = load_model(args.against) if args.against else None
    grammar = load(args.grammar)
    keys = ("C", "G", "d", "F", "a", "B-", "e", "D")
    rows = []
    fb_rows = []
    realize(grammar.sample(key="C", bars=4, seed=0), seed=0, model=model, check=False)  # warm-up
    if other is not None:
        realize(grammar.sample(key="C", bars=4, seed=0), seed=0, model=other, check=False)
    for i in range(args.n):
        draw = 0
        while True:
            plan = grammar.sample(key=keys[i % len(keys)], bars=args.bars, seed=i + 100_003 * draw)
            t0 = time.perf_counter()
            try:
                con = realize(plan, seed=i, model=model, check=False)
            except UnsatisfiableError:
                draw += 1
                continue
            con_s = time.perf_counter() - t0
            break
        t0 = time.perf_counter()
        unc = realize(plan, seed=i, model=model, check=False, constraints=False)
        unc_s = time.perf_counter() - t0
        first = (con_s, unc_s)
        for _ in range(args.repeat - 1):  # same seed, same tokens: only the clock differs
            t0 = time.perf_counter()
            realize(plan, seed=i, model=model, check=False)
            con_s = min(con_s, time.perf_counter() - t0)
            t0 = time.perf_counter()
            realize(plan, seed=i, model=model, check=False, constraints=False)
            unc_s = min(unc_s, time.perf_counter() - t0)
        against_s = against_model_us = None
        if other is not None:
            try:
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    alt = realize(plan, seed=i, model=other, check=False)
                    sec = time.perf_counter() - t0
                    against_s = sec if against_s is None else min(against_s, sec)
                against_model_us = alt.stats["model_seconds"] / alt.stats["tokens"] * 1e6
            except UnsatisfiableError:
                against_s = None
        tokens = con.stats["tokens"]
        rows.append({"against_constrained_s": against_s, "against_model_us_per_token": against_model_us,"plan_seed": i + 100_003 * draw, "chords": len(plan.chords), "constrained_s": con_s,
                     "unconstrained_s": unc_s, "first_constrained_s": first[0], "first_unconstrained_s": first[1],
                     "mask_us_per_token": con.stats["mask_seconds"] / tokens * 1e6,
                     "model_us_per_token": con.stats["model_seconds"] / tokens * 1e6,
                     "unconstrained_model_us_per_token": unc.stats["model_seconds"] / tokens * 1e6,
                     "retries": con.stats["retries"], "rule_calls": con.stats["rule_calls"],
                     "sure_tokens": con.stats["sure_tokens"], "tokens": tokens})
        score, fb_s, err = figured_bass_realization(plan, 16, seed=i)
        try:
            ours = dict(figured_bass_violations(realize(_first_chords(plan, 16), seed=i, model=model,
                                                        check=False).score))
        except UnsatisfiableError:
            ours = {}
        fb_rows.append({"seconds": fb_s, "realized": score is not None, "error": err,
                        "violations": dict(figured_bass_violations(score)) if score is not None else None,
                        "ours_on_same_16": ours})
        print(f"plan {i}: {len(plan.chords)} chords, constrained {con_s:.3f}s, unconstrained {unc_s:.3f}s, "
              f"mask {rows[-1]['mask_us_per_token']:.0f} us/token, retries {con.stats['retries']}; "
              f"figuredBass {fb_s:.2f}s {'ok' if score is not None else err}", flush=True)
    med = statistics.median
    con_med = med(r["constrained_s"] for r in rows)
    unc_med = med(r["unconstrained_s"] for r in rows)
    fb_ok = [r for r in fb_rows if r["realized"]]
    fb_viol: Counter = Counter()
    ours_viol: Counter = Counter()
    for r in fb_ok:
        fb_viol.update(r["violations"])
    for r in fb_rows:
        ours_viol.update(r["ours_on_same_16"])
    summary = {
        "checkpoint": checkpoint_facts(args.checkpoint),
        "pieces": len(rows), "bars": args.bars, "grammar": args.grammar, "threads": 1,
        "clock": "process CPU time" if args.cpu_time else "wall",
        "model_load_s": load_s,
        "median_constrained_s": con_med, "median_unconstrained_s": unc_med,
        "mask_overhead": con_med / unc_med - 1, "repeat": args.repeat,
        "first_run_overhead": med(r["first_constrained_s"] for r in rows) / med(r["first_unconstrained_s"] for r in rows) - 1,
        "mean_overhead": sum(r["constrained_s"] for r in rows) / sum(r["unconstrained_s"] for r in rows) - 1,
        "median_mask_us_per_token": med(r["mask_us_per_token"] for r in rows),
        "median_model_us_per_token": med(r["model_us_per_token"] for r in rows),
        "median_retries": med(r["retries"] for r in rows),
        "against": None if other is None else {
            "checkpoint": checkpoint_facts(args.against), "arch": other.cfg.arch,
            "realized": sum(r["against_constrained_s"] is not None for r in rows),
            "median_constrained_s": med(r["against_constrained_s"] for r in rows if r["against_constrained_s"] is not None),
            "median_model_us_per_token": med(r["against_model_us_per_token"] for r in rows
                                             if r["against_model_us_per_token"] is not None)},
        "figured_bass": {"plans": len(fb_rows), "realized": len(fb_ok),
                         "median_seconds": med(r["seconds"] for r in fb_rows),
                         "violations_total": dict(fb_viol),
                         "errors": sorted({r["error"] for r in fb_rows if r["error"]})},
        "ours_on_the_same_16_chords_violations_total": dict(ours_viol),
        "rows": rows, "figured_bass_rows": fb_rows,
    }
    print(f"model load {load_s:.3f}s; {args.bars}-bar {args.grammar}: median {con_med:.3f}s constrained, "
          f"{unc_med:.3f}s unconstrained (overhead {summary['mask_overhead']:+.0%}; of the totals "
          f"{summary['mean_overhead']:+.0%}; first runs only {summary['first_run_overhead']:+.0%}); masks "
          f"{summary['median_mask_us_per_token']:.0f} us/token, model {summary['median_model_us_per_token']:.0f} "
          f"us/token; figuredBass realized {len(fb_ok)}/{len(fb_rows)} plans, median {summary['figured_bass']['median_seconds']:.2f}s, "
          f"violations {dict(fb_viol)}; ours on the same 16 chords {dict(ours_viol)}")
    if other is not None:
        a = summary["against"]
        print(f"side by side, constrained: {model.cfg.arch} {con_med:.3f}s median, model "
              f"{summary['median_model_us_per_token']:.0f} us/token; {a['arch']} ({args.against}) "
              f"{a['median_constrained_s']:.3f}s median, model {a['median_model_us_per_token']:.0f} us/token "
              f"({a['realized']}/{len(rows)} plans realized)")
    from environment import environment

    summary["environment"] = environment()
    print("wrote", write_result("hybrid_speed", summary))
    return 0


def _first_chords(plan, n):
    """The plan cut after its first ``n`` chords (whole bars; the cut chord is extended to the bar end)."""
    import copy
    import math

    from partimento.grammar.plan import Plan

    chords = [copy.copy(c) for c in plan.chords[:n]]
    bar = float(plan.metre_obj.bar_quarters)
    end = chords[-1].end
    bars = max(1, math.ceil((end - plan.pickup) / bar - 1e-9))
    chords[-1].duration = plan.pickup + bars * bar - chords[-1].onset
    return Plan(key=plan.key, metre=plan.metre, bars=bars, pickup=plan.pickup, chords=chords,
                grammar=plan.grammar, seed=plan.seed)


if __name__ == "__main__":
    sys.exit(main())
