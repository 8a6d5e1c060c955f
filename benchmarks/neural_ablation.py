"""Ablations of the chorale model under one fixed training budget.

Variants (same seed, same data order, same schedule and wall-time budget; run them side
by side, one process each, so the shared machine's load hits them alike):
  step-factorized-full         the shipped design: per-step, factorized "smart" embedding, full attention
  step-plain-full              one embedding row per token instead of pitch class + octave + kind
  step-factorized-museformer   Museformer-style fine (bars 0, -1, -2, -4, -8) + coarse attention
  interleaved-factorized-full  five positions per step [C, S, A, T, B] at (nearly) equal parameters

Prints params (total and voice-embedding), validation loss (nats per voice token on the
valid split, whole pieces, the averaged weights) and wall time, and merges them into
benchmarks/results/neural_ablation.json. Short runs: the numbers compare designs at a
small budget, they are not the shipped model's losses.

    python benchmarks/neural_ablation.py --data runs/chorales.npz --variant step-plain-full --minutes 20
"""
from __future__ import annotations

import argparse
import fcntl
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from partimento.neural.model import CONFIGS, build_model
from partimento.neural.train import TrainConfig, train

from neural_training_speed import INTERLEAVED_EQUAL

VARIANTS = {
    "step-factorized-full": dict(embedding="factorized", attention="full"),
    "step-plain-full": dict(embedding="plain", attention="full"),
    "step-factorized-museformer": dict(embedding="factorized", attention="museformer"),
    "interleaved-factorized-full": dict(embedding="factorized", attention="full", arch="interleaved"),
}
RESULTS = Path(__file__).parent / "results" / "neural_ablation.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--variant", choices=sorted(VARIANTS), action="append")
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=20.0, help="wall-time budget per variant (the schedule's length)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--window", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="runs/ablation")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.variant or sorted(VARIANTS):
        variant = dict(VARIANTS[name])
        base = INTERLEAVED_EQUAL if variant.pop("arch", "step") == "interleaved" else CONFIGS["small"]
        cfg = replace(base, window_steps=args.window, **variant)
        model = build_model(cfg)
        t0 = time.time()
        s = train(cfg, args.data, "cpu", Path(args.out) / name,
                  tcfg=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, warmup_steps=50,
                                   seed=0, threads=args.threads, max_minutes=args.minutes), progress=False)
        emb = model.voice_vec if cfg.arch == "step" else model.voice_emb
        row = {"variant": name, "arch": cfg.arch, **variant, "params": model.num_params(),
               "voice_embedding_params": sum(p.numel() for p in emb.parameters()),
               "valid_nll": s["best_valid"], "steps": s["steps"], "epochs": s["epochs"],
               "budget_minutes": args.minutes, "batch_size": args.batch_size, "window_steps": args.window, "wall_s": time.time() - t0,
               "train_tokens_per_s": sorted(r["train_tokens_per_s"] for r in s["history"])[len(s["history"]) // 2],
               "threads": args.threads, "curve": [(r["epoch"], r["train_loss"], r["valid_loss"]) for r in s["history"]],
               "hardware": "shared 2-core CPU (other jobs running)"}
        print(json.dumps(row))
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with open(Path(tempfile.gettempdir()) / "partimento-neural-ablation.lock", "w") as lock:  # side-by-side runs share the file
            fcntl.flock(lock, fcntl.LOCK_EX)
            doc = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
            doc[name] = row
            RESULTS.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
