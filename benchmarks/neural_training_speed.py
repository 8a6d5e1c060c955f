"""Training throughput, per-step model against interleaved model at (nearly) equal parameters, side by side.

Both architectures train on the same random windows from the cache with AdamW, timed in
one process and alternating in rounds (``--rounds`` rounds of ``--steps`` optimizer
steps each, after one untimed warm-up step per model), so load on the shared machine
hits both alike; each model's median over rounds is reported, and the ratio of medians.
Optionally (``--compile``) the per-step model again under ``torch.compile``, with the
compile time reported apart, and (``--bf16``) under bf16 autocast. On CUDA, where a GPU
exists, the same side by side with bf16 autocast; otherwise the JSON says "not measured".
Writes benchmarks/results/neural_training_speed.json.

    python benchmarks/neural_training_speed.py --data runs/chorales.npz --threads 2 --compile
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from partimento.neural.dataset import load_cache, sample_batch
from partimento.neural.model import CONFIGS, ModelConfig, build_model
from partimento.neural.train import hardware

RESULTS = Path(__file__).parent / "results" / "neural_training_speed.json"

#: The interleaved model whose parameter count is closest to the per-step "small" config (2.09 M vs 2.06 M).
INTERLEAVED_EQUAL = ModelConfig(arch="interleaved", n_layer=4, n_head=6, d_model=192, d_ff=896)


class Trainer:
    """One model, its optimizer and its own random stream; ``run(n)`` times n optimizer steps."""

    def __init__(self, cfg, pieces, device: str, batch: int, compile_: bool = False, bf16: bool = False) -> None:
        torch.manual_seed(0)
        self.model = build_model(cfg).to(device).train()
        self.forward = torch.compile(self.model) if compile_ else self.model
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-3)
        self.rng = np.random.default_rng(0)
        self.cfg, self.pieces, self.device, self.batch = cfg, pieces, device, batch
        self.amp = torch.autocast(device, dtype=torch.bfloat16, enabled=bf16 or device == "cuda")

    def step(self) -> int:
        tok, cond, mask = sample_batch(self.pieces, self.batch, self.cfg.window_steps, self.rng)
        tok, cond, mask = (torch.as_tensor(x, device=self.device) for x in (tok, cond, mask))
        with self.amp:
            logits = self.forward(tok, cond)
        nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tok.reshape(-1), reduction="none")
        m = mask.unsqueeze(-1).expand(-1, -1, 4).reshape(-1)
        loss = (nll * m).sum() / m.sum()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return int(m.sum())

    def run(self, steps: int) -> float:
        """Voice tokens per second over ``steps`` optimizer steps."""
        if self.device == "cuda":
            torch.cuda.synchronize()
        t0, tokens = time.perf_counter(), 0
        for _ in range(steps):
            tokens += self.step()
        if self.device == "cuda":
            torch.cuda.synchronize()
        return tokens / (time.perf_counter() - t0)


def side_by_side(models: dict, rounds: int, steps: int) -> dict:
    out = {}
    for name, tr in models.items():
        t0 = time.perf_counter()
        tr.step()  # warm-up (and, for a compiled model, the compilation)
        out[name] = {"params": tr.model.num_params(), "arch": tr.cfg.arch, "first_step_s": time.perf_counter() - t0,
                     "rounds": []}
    for r in range(rounds):
        for name, tr in models.items():
            out[name]["rounds"].append(tr.run(steps))
            print(f"round {r + 1}: {name:24s} {out[name]['rounds'][-1]:8,.0f} voice tokens/s", flush=True)
    for row in out.values():
        row["voice_tokens_per_s"] = statistics.median(row["rounds"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--config", default="small", help="the per-step config")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--window", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3, help="optimizer steps per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compile", action="store_true", help="also the per-step model under torch.compile")
    ap.add_argument("--bf16", action="store_true", help="also the per-step model under bf16 autocast on CPU")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    step_cfg = replace(CONFIGS[args.config], window_steps=args.window)
    inter_cfg = replace(INTERLEAVED_EQUAL, window_steps=args.window)
    pieces = load_cache(args.data).split("train")
    models = {"per-step": Trainer(step_cfg, pieces, "cpu", args.batch_size),
              "interleaved": Trainer(inter_cfg, pieces, "cpu", args.batch_size)}
    if args.compile:
        models["per-step compiled"] = Trainer(step_cfg, pieces, "cpu", args.batch_size, compile_=True)
    if args.bf16:
        models["per-step bf16"] = Trainer(step_cfg, pieces, "cpu", args.batch_size, bf16=True)
    cpu = side_by_side(models, args.rounds, args.steps)
    ratio = cpu["per-step"]["voice_tokens_per_s"] / cpu["interleaved"]["voice_tokens_per_s"]
    out = {"hardware": hardware("cpu"), "threads": args.threads, "batch": args.batch_size, "window_steps": args.window,
           "steps_per_round": args.steps, "rounds": args.rounds, "cpu": cpu, "per_step_over_interleaved": ratio,
           "note": "shared 2-core machine: absolute numbers move with the load, the side-by-side ratio is the figure"}
    for name in ("per-step compiled", "per-step bf16"):
        if name in cpu:
            out[f"{name.split()[-1]}_over_eager"] = cpu[name]["voice_tokens_per_s"] / cpu["per-step"]["voice_tokens_per_s"]
    print(f"per-step {cpu['per-step']['params']:,} params: {cpu['per-step']['voice_tokens_per_s']:,.0f} voice tokens/s; "
          f"interleaved {cpu['interleaved']['params']:,} params: {cpu['interleaved']['voice_tokens_per_s']:,.0f}; "
          f"ratio {ratio:.1f}x")
    for name in ("per-step compiled", "per-step bf16"):
        if name in cpu:
            print(f"{name}: {cpu[name]['voice_tokens_per_s']:,.0f} voice tokens/s "
                  f"({cpu[name]['voice_tokens_per_s'] / cpu['per-step']['voice_tokens_per_s']:.2f}x eager fp32; "
                  f"first step {cpu[name]['first_step_s']:.0f} s)")
    if torch.cuda.is_available():
        gpu = side_by_side({"per-step": Trainer(step_cfg, pieces, "cuda", args.batch_size * 8),
                            "interleaved": Trainer(inter_cfg, pieces, "cuda", args.batch_size * 8)},
                           args.rounds, args.steps * 4)
        out["cuda"] = gpu
        print(f"CUDA bf16: per-step {gpu['per-step']['voice_tokens_per_s']:,.0f}, interleaved "
              f"{gpu['interleaved']['voice_tokens_per_s']:,.0f} voice tokens/s")
    else:
        out["cuda"] = "not measured: no GPU on this machine"
        print("CUDA: not measured (no GPU)")
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
