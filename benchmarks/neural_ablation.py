"""Ablations of the chorale model under one fixed training budget.

Variants (same seed, same data order, same wall-time budget when run side by side):
  factorized-full   the shipped design: factorized "smart" embedding, full attention
  plain-full        one embedding row per token instead of pitch class + octave + kind
  factorized-museformer  Museformer-style fine (bars 0, -1, -2, -4, -8) + coarse attention

Prints params (total and voice-embedding), validation loss (nats per voice token on the
valid split, whole pieces) and wall time, and merges them into
benchmarks/results/neural_ablation.json. Short runs: the numbers compare designs at a
small budget, they are not the shipped model's losses.

    python benchmarks/neural_ablation.py --data runs/chorales.npz --variant plain-full --minutes 8
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from partimento.neural.model import CONFIGS, ChoraleModel
from partimento.neural.train import TrainConfig, train

VARIANTS = {
    "factorized-full": dict(embedding="factorized", attention="full"),
    "plain-full": dict(embedding="plain", attention="full"),
    "factorized-museformer": dict(embedding="factorized", attention="museformer"),
}
RESULTS = Path(__file__).parent / "results" / "neural_ablation.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--variant", choices=sorted(VARIANTS), action="append")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--minutes", type=float, default=8.0, help="wall-time budget per variant (LR anneals over it)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="runs/ablation")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.variant or sorted(VARIANTS):
        cfg = replace(CONFIGS["small"], window_steps=args.window, **VARIANTS[name])
        model = ChoraleModel(cfg)
        t0 = time.time()
        s = train(cfg, args.data, "cpu", Path(args.out) / name,
                  tcfg=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, warmup_steps=20, seed=0,
                                   threads=args.threads, max_minutes=args.minutes), progress=False)
        row = {"variant": name, **VARIANTS[name], "params": model.num_params(),
               "voice_embedding_params": sum(p.numel() for p in model.voice_emb.parameters()),
               "valid_nll": s["best_valid"], "steps": s["steps"], "epochs": s["epochs"],
               "budget_minutes": args.minutes, "batch_size": args.batch_size, "window_steps": args.window, "wall_s": time.time() - t0,
               "train_tokens_per_s": s["history"][0]["train_tokens_per_s"], "threads": args.threads,
               "hardware": "shared 2-core CPU (other jobs running)"}
        print(json.dumps(row))
        doc = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
        doc[name] = row
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
