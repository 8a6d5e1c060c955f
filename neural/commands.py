"""``partimento data``, ``partimento train`` and ``partimento evaluate``."""
from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register"]


def register(subparsers, formatter_class=argparse.HelpFormatter) -> None:
    """Add the neural layer's sub-commands to the ``partimento`` parser."""
    from .dataset import default_cache_path
    from .model import CONFIGS

    p = subparsers.add_parser("data", help="encode the Bach chorales into a dataset cache (needs music21)",
                              formatter_class=formatter_class,
                              description="Parse every chorale of the fixed split from music21's corpus, "
                                          "encode tokens and plan fields, and write one .npz cache.")
    p.add_argument("--out", default=str(default_cache_path()), help="cache file to write")
    p.add_argument("--limit", type=int, default=None, help="only the first N chorales of each split (smoke tests)")
    p.set_defaults(func=_data)

    p = subparsers.add_parser("train", help="train a chorale model", formatter_class=formatter_class,
                              description="Train on the cache's train split, select on valid, write "
                                          "best.safetensors/last.safetensors (+ .json) into --out. "
                                          "Under torchrun, trains data-parallel with PyTorch DDP.")
    p.add_argument("--config", default="small", choices=sorted(CONFIGS), help="model size")
    p.add_argument("--data", default=None, help=f"dataset cache (default {default_cache_path()})")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/chorale", help="run folder")
    p.add_argument("--resume", default=None, help="run folder (or last.safetensors) to continue")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--max-minutes", type=float, default=0.0, help="wall-time budget; 0 = none")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--embedding", choices=["factorized", "plain"], default=None, help="override the config")
    p.add_argument("--attention", choices=["full", "museformer"], default=None, help="override the config")
    p.add_argument("--window", type=int, default=None, help="training window in 16th steps (override)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)

    p = subparsers.add_parser("evaluate", help="held-out NLL of a checkpoint", formatter_class=formatter_class,
                              description="Nats per voice token (one voice at one 16th step) on a split, "
                                          "with the plan and with the null plan.")
    p.add_argument("--split", default="test", choices=["test", "valid", "train"])
    p.add_argument("--checkpoint", default=None, help="checkpoint (.safetensors); default the shipped one")
    p.add_argument("--data", default=None, help=f"dataset cache (default {default_cache_path()})")
    p.add_argument("--format", default="text", choices=["text", "json"])
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    p.set_defaults(func=_evaluate)


def _data(args) -> int:
    from .dataset import build_cache

    path = build_cache(args.out, limit=args.limit)
    print(f"wrote {path}")
    return 0


def _train(args) -> int:
    from dataclasses import replace

    from .model import CONFIGS
    from .train import TrainConfig, train

    cfg = CONFIGS[args.config]
    overrides = {k: v for k, v in (("embedding", args.embedding), ("attention", args.attention),
                                   ("window_steps", args.window)) if v is not None}
    cfg = replace(cfg, **overrides)
    tcfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       max_minutes=args.max_minutes, threads=args.threads)
    summary = train(cfg, args.data, args.device, args.out, args.resume, tcfg, progress=not args.no_progress)
    if summary:
        print(f"best valid {summary['best_valid']:.4f} nats/token after {summary['epochs']} epochs; "
              f"checkpoint {summary['out']}/best.safetensors")
    return 0


def _evaluate(args) -> int:
    from .evaluate import evaluate, format_text
    from .train import pick_device

    doc = evaluate(args.split, args.checkpoint, args.data, str(pick_device(args.device)))
    print(json.dumps(doc, indent=1) if args.format == "json" else format_text(doc))
    return 0
