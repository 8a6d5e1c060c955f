"""Training throughput of the chorale model: voice tokens per second and peak memory.

Times ``--steps`` optimizer steps (after one warm-up) of the given config on random
windows from the cache. On CPU always; on CUDA (bf16 autocast) only where a GPU exists —
otherwise the JSON says "not measured". Writes benchmarks/results/neural_training_speed.json.

    python benchmarks/neural_training_speed.py --data runs/chorales.npz --threads 2
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from partimento.neural.dataset import load_cache, sample_batch
from partimento.neural.model import CONFIGS, ChoraleModel

RESULTS = Path(__file__).parent / "results" / "neural_training_speed.json"


def measure(cfg, pieces, device: str, batch: int, steps: int) -> dict:
    torch.manual_seed(0)
    model = ChoraleModel(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else torch.autocast("cpu", enabled=False)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    tokens, t0 = 0, 0.0
    for i in range(steps + 1):
        if i == 1:
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        tok, cond, mask = sample_batch(pieces, batch, cfg.window_steps, rng)
        tok, cond, mask = (torch.as_tensor(x, device=device) for x in (tok, cond, mask))
        with amp:
            logits = model(tok, cond)
        nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tok.reshape(-1), reduction="none")
        m = mask.unsqueeze(-1).expand(-1, -1, 4).reshape(-1)
        loss = (nll * m).sum() / m.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 1:
            tokens += int(m.sum())
    if device == "cuda":
        torch.cuda.synchronize()
    sec = time.perf_counter() - t0
    row = {"device": device, "batch": batch, "window_steps": cfg.window_steps, "steps": steps,
           "seconds": sec, "voice_tokens_per_s": tokens / sec}
    if device == "cuda":
        row["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--config", default="small")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--window", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = replace(CONFIGS[args.config], window_steps=args.window)
    pieces = load_cache(args.data).split("train")
    out = {"config": args.config, "params": ChoraleModel(cfg).num_params(), "threads": args.threads}
    out["cpu"] = measure(cfg, pieces, "cpu", args.batch_size, args.steps)
    out["cpu"]["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"CPU ({args.threads} threads, shared machine): {out['cpu']['voice_tokens_per_s']:,.0f} voice tokens/s, "
          f"peak RSS {out['cpu']['peak_rss_mb']:.0f} MB")
    if torch.cuda.is_available():
        out["cuda"] = measure(cfg, pieces, "cuda", args.batch_size * 8, args.steps * 4)
        print(f"CUDA bf16: {out['cuda']['voice_tokens_per_s']:,.0f} voice tokens/s, "
              f"peak {out['cuda']['peak_gpu_mb']:.0f} MB")
    else:
        out["cuda"] = "not measured: no GPU on this machine"
        print("CUDA: not measured (no GPU)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
