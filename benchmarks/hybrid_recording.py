"""What decision recording costs (issue 17): ``decode(..., record=True)`` against ``record=False``.

For ``--n`` 16-bar plans of the ``chorale`` grammar (the plans compose would realize), each
plan is decoded ``--repeat`` times each way, alternating, on one core, and its fastest
time each way is kept; the ratio of the medians is the cost of recording when on
(target <= 2x). A third way, "eager", records as the recorder did before it deferred
its work (every decision's full mask and candidates, and every removed candidate's layers
and messages, worked out at decode time; ``hybrid/recording.py``): the same run shows
what deferring saves, and that the traces agree (the lazy trace's JSON equals the eager
one's). Recording off runs no recording code (``tests/hybrid/test_trace.py``
asserts it): what remains of it is a few attribute tests per position and dead end, whose
cost is measured here directly (a loop of the same tests) and reported as a share of
the decoding time (target <= 5%). The tokens are checked to be identical both ways.

    taskset -c 0 python benchmarks/hybrid_recording.py --n 10
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import statistics
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from hybrid_judges import checkpoint_facts, write_result  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10, help="number of 16-bar plans")
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--grammar", default="chorale")
    ap.add_argument("--repeat", type=int, default=3, help="decodes per plan each way (fastest kept)")
    ap.add_argument("--checkpoint", default=None)
    args = ap.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(1)
    from partimento.grammar import load
    from partimento.grammar.errors import UnsatisfiableError
    from partimento.grammar.rules import hard_rules
    from partimento.hybrid.decode import decode
    from partimento.neural.checkpoint import load_model
    from partimento.neural.conditioning import plan_conditioning

    model = load_model(args.checkpoint)
    grammar = load(args.grammar)
    keys = ("C", "G", "d", "F", "a", "B-", "e", "D")

    from partimento.hybrid.search import Search

    lazy_record = Search._record

    def eager_record(self, pos, node, token):  # as before deferring: every decision and removal worked out now
        lazy_record(self, pos, node, token)
        for cand in self.decisions[pos].candidates:
            list(cand.removed_by)

    def run(plan, seed, record, eager=False):
        Search._record = eager_record if eager else lazy_record
        try:
            t0 = time.perf_counter()
            d = decode(model.session(plan_conditioning(plan)), plan, hard_rules("strict"), seed=seed, record=record)
            return time.perf_counter() - t0, d
        finally:
            Search._record = lazy_record

    run(grammar.sample(key="C", bars=4, seed=0), 0, True)  # warm-up
    rows = []
    for i in range(args.n):
        draw = 0
        while True:
            plan = grammar.sample(key=keys[i % len(keys)], bars=args.bars, seed=i + 100_003 * draw)
            try:
                off_s, off = run(plan, i, False)
            except UnsatisfiableError:
                draw += 1
                continue
            break
        on_s, on = run(plan, i, True)
        eager_s, eager = run(plan, i, True, eager=True)
        for _ in range(args.repeat - 1):
            off_s = min(off_s, run(plan, i, False)[0])
            on_s = min(on_s, run(plan, i, True)[0])
            eager_s = min(eager_s, run(plan, i, True, eager=True)[0])
        same = bool(np.array_equal(off.tokens, on.tokens))
        same_trace = json.dumps(on.trace.to_dict()) == json.dumps(eager.trace.to_dict())
        rows.append({"plan_seed": i + 100_003 * draw, "off_s": off_s, "on_s": on_s, "ratio": on_s / off_s,
                     "eager_s": eager_s, "eager_ratio": eager_s / off_s, "same_trace_as_eager": same_trace,
                     "same_tokens": same, "tokens": int(off.stats["tokens"]), "retries": int(off.stats["retries"]),
                     "opened": int(off.stats["masked_tokens"]) + int(off.stats["tokens"]),
                     "decisions": len(on.trace.decisions), "backtracks": len(on.trace.backtracks)})
        print(f"plan {i}: off {off_s:.3f}s, on {on_s:.3f}s ({on_s / off_s:.2f}x), eager {eager_s:.3f}s "
              f"({eager_s / off_s:.2f}x), same tokens {same}, same trace as eager {same_trace}", flush=True)

    # recording off: the checks left on the path, one per token pushed and per dead end (retries)
    class _Probe:
        record = False

    probe = _Probe()
    per_check = min(timeit.repeat("if probe.record: pass", globals={"probe": probe}, number=100_000, repeat=5)) / 100_000
    checks = [r["opened"] * 4 + r["retries"] for r in rows]  # at most 4 per position opened (_open twice, _build, run); 1 per dead end
    off_share = [c * per_check / r["off_s"] for c, r in zip(checks, rows)]
    med = statistics.median
    summary = {
        "checkpoint": checkpoint_facts(args.checkpoint), "grammar": args.grammar, "bars": args.bars,
        "pieces": len(rows), "repeat": args.repeat, "threads": 1,
        "median_off_s": med(r["off_s"] for r in rows), "median_on_s": med(r["on_s"] for r in rows),
        "on_over_off": med(r["on_s"] for r in rows) / med(r["off_s"] for r in rows),
        "max_ratio": max(r["ratio"] for r in rows),
        "median_eager_s": med(r["eager_s"] for r in rows),
        "eager_over_off": med(r["eager_s"] for r in rows) / med(r["off_s"] for r in rows),
        "all_same_trace_as_eager": all(r["same_trace_as_eager"] for r in rows),
        "load_average": os.getloadavg()[0],
        "off_overhead_share": max(off_share), "off_check_ns": per_check * 1e9,
        "all_same_tokens": all(r["same_tokens"] for r in rows), "rows": rows,
    }
    print(f"recording on/off: median {summary['median_on_s']:.3f}s / {summary['median_off_s']:.3f}s = "
          f"{summary['on_over_off']:.2f}x (worst plan {summary['max_ratio']:.2f}x); eager (as before) "
          f"{summary['eager_over_off']:.2f}x, same traces {summary['all_same_trace_as_eager']}; recording off leaves "
          f"{summary['off_overhead_share']:.5%} of the decoding time in its checks ({per_check * 1e9:.0f} ns each); "
          f"same tokens on every plan: {summary['all_same_tokens']}")
    print("wrote", write_result("hybrid_recording", summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
