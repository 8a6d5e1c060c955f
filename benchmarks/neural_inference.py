"""Decoding speed of the chorale models on CPU, with and without the KV cache, and peak memory.

* with cache, side by side: each checkpoint's session (the per-step model's
  :class:`StepSession`, the interleaved model's :class:`DecodeSession`) writes every voice
  token of a plan (16 bars = 256 steps x 4 voices, and 64 bars = 1,024 steps) —
  next_logits + push per token, no masks — alternating between the checkpoints for
  ``--rounds`` rounds; the best round of each is kept (interference only adds time).
* without cache: the batched forward over the whole prefix for every token (what a
  decoder without a cache must do), timed on the first ``--nocache-steps`` steps only
  because it is quadratic.
* long-sequence forward (scoring a 64-bar piece at once) for full vs Museformer attention.
* ``--sizes``: per-step models of other widths and depths (untrained: decoding costs the same
  whatever the weights), through the same session code on the same 16-bar plan, best of
  ``--rounds``: what a smaller model would save per voice token, for issue 13's ≤ 150 µs
  target (``d_model:n_layer`` pairs; heads of width 32, d_ff 4·d_model, voice width and head
  MLP scaled with d_model as in the shipped config).

Prints the numbers and writes benchmarks/results/neural_inference.json.

    taskset -c 1 python benchmarks/neural_inference.py [--checkpoint PATH] [--against PATH] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from partimento.neural.checkpoint import INTERLEAVED_CHECKPOINT, load_model
from partimento.neural.conditioning import ChordSegment, conditioning_from_segments
from partimento.neural.model import build_model

RESULTS = Path(__file__).parent / "results" / "neural_inference.json"


def plan_like(bars: int):
    """A plan-shaped conditioning: one chord per half bar cycling I–IV–V–I in C."""
    steps = bars * 16
    cycle = [(0, (0, 4, 7)), (5, (5, 9, 0)), (7, (7, 11, 2, 5)), (0, (0, 4, 7))]
    segs = [ChordSegment(a, a + 8, 0, False, cycle[i % 4][1], cycle[i % 4][0], cycle[i % 4][0],
                         fermata=(i % 4 == 3), cadence="PAC" if i % 4 == 3 else None)
            for i, a in enumerate(range(0, steps, 8))]
    return conditioning_from_segments(steps, segs, 16, 0, [s.stop for s in segs if s.fermata])


def decode_with_cache(model, cond, rng) -> float:
    """Seconds to decode every token (greedy over the model's own samples)."""
    t0 = time.perf_counter()
    s = model.session(cond)
    while not s.done:
        logits = s.next_logits()
        s.push(int(torch.argmax(logits)))
    return time.perf_counter() - t0


def decode_without_cache(model, cond, steps: int) -> float:
    tokens = torch.zeros(1, steps, 4, dtype=torch.long)
    c = torch.as_tensor(cond.values[:steps])[None]
    t0 = time.perf_counter()
    with torch.inference_mode():
        for t in range(steps):
            for v in range(4):
                logits = model(tokens[:, :t + 1], c[:, :t + 1])[0, t, v]
                tokens[0, t, v] = int(torch.argmax(logits))
    return time.perf_counter() - t0


def time_sizes(spec: str, rounds: int, rng) -> list[dict]:
    """µs per voice token of untrained per-step models of each ``d_model:n_layer`` in ``spec`` (16 bars, KV cache)."""
    from partimento.neural.model import ModelConfig

    rows = []
    cond = plan_like(16)
    for item in filter(None, (x.strip() for x in spec.split(","))):
        d, layers = (int(x) for x in item.split(":"))
        cfg = ModelConfig(arch="step", n_layer=layers, n_head=max(1, d // 32), d_model=d, d_ff=4 * d,
                          d_voice=d // 4, head_ff=2 * d)
        torch.manual_seed(0)
        m = build_model(cfg).eval()
        decode_with_cache(m, plan_like(1), rng)  # warm-up
        sec = min(decode_with_cache(m, cond, rng) for _ in range(rounds))
        n = len(cond) * 4
        rows.append({"d_model": d, "n_layer": layers, "n_head": cfg.n_head, "params": m.num_params(),
                     "us_per_voice_token": 1e6 * sec / n})
        print(f"untrained per-step model d_model {d}, {layers} layers ({m.num_params():,} params): "
              f"{1e6 * sec / n:.0f} us/voice token (16 bars, KV cache)")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None, help="default: the shipped checkpoint")
    ap.add_argument("--against", default=str(INTERLEAVED_CHECKPOINT),
                    help="second checkpoint, measured side by side (default: the interleaved ablation's)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--nocache-steps", type=int, default=32)
    ap.add_argument("--sizes", default="192:4,160:4,128:4,128:3,96:3",
                    help="d_model:n_layer pairs of untrained per-step models to time as well ('' for none)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint)
    models = {"checkpoint": model, "against": load_model(args.against)}
    rng = np.random.default_rng(0)
    out = {"hardware": f"{platform.processor() or platform.machine()} CPU, shared 2 cores, "
                       f"torch threads={args.threads}", "params": model.num_params(), "arch": model.cfg.arch,
           "config": model.cfg.to_dict(), "checkpoint": args.checkpoint or "shipped",
           "against": {"checkpoint": args.against, "arch": models["against"].cfg.arch,
                       "params": models["against"].num_params()}}
    for bars in (16, 64):
        cond = plan_like(bars)
        n = len(cond) * 4
        best = {name: float("inf") for name in models}
        for name, m in models.items():
            decode_with_cache(m, plan_like(1), rng)  # warm-up
        for _ in range(args.rounds if bars == 16 else max(1, args.rounds - 1)):
            for name, m in models.items():
                best[name] = min(best[name], decode_with_cache(m, cond, rng))
        for name, sec in best.items():
            row = {"tokens": n, "seconds": sec, "tokens_per_s": n / sec, "us_per_voice_token": 1e6 * sec / n}
            (out if name == "checkpoint" else out["against"])[f"kv_cache_{bars}_bars"] = row
            print(f"KV cache, {bars} bars, {models[name].cfg.arch:11s}: {n} voice tokens in {sec:.3f} s = "
                  f"{1e6 * sec / n:.0f} us/voice token")
    steps = args.nocache_steps
    sec = decode_without_cache(model, plan_like(16), steps)
    out["no_cache"] = {"tokens": steps * 4, "seconds": sec, "tokens_per_s": steps * 4 / sec,
                       "ms_per_token": 1000 * sec / (steps * 4), "note": f"first {steps} steps only (quadratic)"}
    print(f"no cache, first {steps} steps: {steps * 4} tokens in {sec:.3f} s = {steps * 4 / sec:,.0f} tok/s")
    # long-sequence scoring: full vs Museformer attention (same weights, attention pattern switched)
    cond = plan_like(64)
    tokens = torch.full((len(cond), 4), 0, dtype=torch.long)
    tokens[::4] = torch.tensor([74, 69, 62, 50])
    for attention in ("full", "museformer"):
        m = build_model(replace(model.cfg, attention=attention))
        m.load_state_dict(model.state_dict())
        m.eval()
        t0 = time.perf_counter()
        m.token_nll(tokens, cond)
        sec = time.perf_counter() - t0
        s0 = time.perf_counter()
        ses = m.session(cond)
        for _ in range(1024):
            ses.next_logits()
            ses.push(0)
        dec = time.perf_counter() - s0
        out[f"score_64_bars_{attention}"] = {"seconds": sec, "voice_tokens": len(cond) * 4,
                                             "decode_first_1024_tokens_s": dec}
        print(f"{attention:10s} attention: score a 64-bar piece ({len(cond) * 4} tokens) in {sec:.2f} s; "
              f"decode its first 1024 tokens in {dec:.2f} s")
    out["sizes"] = time_sizes(args.sizes, args.rounds, rng)
    from environment import environment

    out["environment"] = environment()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {out['peak_rss_mb']:.0f} MB")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
