"""What "why this note?" costs (issue 17): recording on vs off, and explaining one note from a file.

For ``--n`` 16-bar plans of the ``chorale`` grammar, each plan is decoded with the
shipped model ``--repeat`` times with ``record=False`` and ``record=True``, alternating,
in one process on one thread; the fastest time each way is kept and the ratio of the
medians is the cost of recording (issue target: <= 2x on). Then each piece is written to
MusicXML (as ``partimento compose --out`` writes it, recording off) and one note in its
middle (alto, first beat of the middle bar) is explained from the file the way
``partimento explain`` does it (read the embedded fields, verify notes and checkpoint,
replay the decision on the stored prefix, which the per-step model reads in one batched
pass; issue target: <= 0.5 s), side by side with the same replay reading the prefix one
step at a time (as before ``StepSession.prefill``), alongside
``--regenerate`` (the whole decoding again with recording on), the checker's view of the
same file (``check`` + role + violations) and reading the fields alone. Whether recording
changed any token is recorded per piece (it should not).

    nice python benchmarks/explain_speed.py --n 5

Writes ``benchmarks/results/explain_speed.json``. Times are wall-clock on a shared
machine: compare the columns of one run, not runs on different days.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from hybrid_judges import checkpoint_facts, write_result  # noqa: E402


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _stepwise(explain_file, path, measure):
    """``explain_file`` with the prefix fed to the model one step at a time (as before ``StepSession.prefill``)."""
    from partimento.neural.step_session import StepSession

    prefill = StepSession.prefill
    del StepSession.prefill
    try:
        return explain_file(path, measure, 1, "alto")
    finally:
        StepSession.prefill = prefill


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5, help="number of 16-bar plans")
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=2, help="runs per measurement (fastest kept)")
    args = ap.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(1)
    from partimento.grammar.errors import UnsatisfiableError
    from partimento.grammar.rules import check
    from partimento.hybrid import compose
    from partimento.hybrid.explain import explain_report
    from partimento.hybrid.explain_file import explain_file, read_provenance

    keys = ("C", "G", "d", "F", "a", "B-", "e", "D")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.n):
            key = keys[i % len(keys)]
            try:
                compose("chorale", key=key, bars=args.bars, seed=i)  # warm: model, grammar, caches
            except UnsatisfiableError:
                continue
            off = on = float("inf")
            for _ in range(args.repeat):  # alternate so drift hits both alike
                t, r_off = _best(lambda: compose("chorale", key=key, bars=args.bars, seed=i, check=False), 1)
                off = min(off, t)
                t, r_on = _best(lambda: compose("chorale", key=key, bars=args.bars, seed=i, check=False,
                                                record=True), 1)
                on = min(on, t)
            same = bool(np.array_equal(r_off.tokens, r_on.tokens))  # recording should change no token
            path = Path(tmp) / f"piece{i}.musicxml"
            r_off.write(path)  # what `partimento compose --out` writes (no recording)
            measure = max(1, args.bars // 2)
            t_file = t_step = float("inf")
            for _ in range(args.repeat):  # batched prefix vs step by step, alternating
                t, ex = _best(lambda: explain_file(path, measure, 1, "alto"), 1)
                t_file = min(t_file, t)
                t, ex_step = _best(lambda: _stepwise(explain_file, path, measure), 1)
                t_step = min(t_step, t)
            assert ex.source == "decoder" == ex_step.source, ex.notes
            gap = max(abs(a["p_model"] - b["p_model"]) for a, b in zip(ex.candidates, ex_step.candidates))
            t_regen, ex_regen = _best(lambda: explain_file(path, measure, 1, "alto", regenerate=True), 1)
            t_fields, _ = _best(lambda: read_provenance(path), args.repeat)
            t_checker, _ = _best(lambda: explain_report(check(str(path)), measure, 1, "alto"), args.repeat)
            row = {"key": key, "seed": i, "tokens": int(r_on.tokens.size), "decode_record_off_s": off,
                   "decode_record_on_s": on, "record_ratio": on / off, "explain_from_file_s": t_file,
                   "explain_from_file_stepwise_s": t_step, "max_p_model_gap_batched_vs_stepwise": gap,
                   "explain_regenerating_s": t_regen, "regenerated": any("regenerated from" in n for n in ex_regen.notes),
                   "read_fields_s": t_fields, "checker_view_s": t_checker,
                   "backtracks": len(r_on.trace.backtracks), "same_tokens_record_on_off": same,
                   "differing_tokens": int((r_off.tokens != r_on.tokens).sum())}
            rows.append(row)
            print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)

    def med(k: str) -> float:
        return statistics.median(r[k] for r in rows)

    out = {
        "checkpoint": checkpoint_facts(), "pieces": len(rows), "bars": args.bars, "grammar": "chorale",
        "threads": 1, "clock": "wall", "repeat": args.repeat, "load_average": os.getloadavg()[0],
        "median_decode_record_off_s": med("decode_record_off_s"),
        "median_decode_record_on_s": med("decode_record_on_s"),
        "record_ratio_of_medians": med("decode_record_on_s") / med("decode_record_off_s"),
        "median_explain_from_file_s": med("explain_from_file_s"),
        "median_explain_from_file_stepwise_s": med("explain_from_file_stepwise_s"),
        "median_read_fields_s": med("read_fields_s"),
        "median_explain_regenerating_s": med("explain_regenerating_s"),
        "median_checker_view_s": med("checker_view_s"),
        "pieces_where_recording_changed_tokens": sum(not r["same_tokens_record_on_off"] for r in rows),
        "rows": rows,
    }
    path = write_result("explain_speed", out)
    print(f"record on/off {out['record_ratio_of_medians']:.2f}x (target <= 2x); explain one note from a file "
          f"{out['median_explain_from_file_s']:.2f} s (target <= 0.5 s; prefix step by step "
          f"{out['median_explain_from_file_stepwise_s']:.2f} s); checker's view {out['median_checker_view_s']:.2f} s;"
          f" load average {out['load_average']:.1f} -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
