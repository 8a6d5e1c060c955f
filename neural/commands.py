"""``partimento data``, ``partimento train``, ``partimento evaluate`` and ``partimento calibrate``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["register"]


def register(subparsers, formatter_class=argparse.HelpFormatter) -> None:
    """Add the neural layer's sub-commands to the ``partimento`` parser."""
    from .config import CONFIGS, TrainConfig  # (not .model or .train: building the parser must not import torch)
    from .dataset import default_cache_path

    p = subparsers.add_parser("data", help="encode the Bach chorales into a dataset cache (needs music21)",
                              formatter_class=formatter_class,
                              description="Parse every chorale of the fixed split from music21's corpus, "
                                          "encode tokens and plan fields, and write one .npz cache "
                                          "(train and evaluate build it themselves when it is missing).",
                              epilog="example:\n  partimento data --out runs/chorales.npz")
    p.add_argument("--out", default=str(default_cache_path()), help="cache file to write")
    p.add_argument("--limit", type=int, default=None, help="only the first N chorales of each split (smoke tests)")
    p.set_defaults(func=_data)

    p = subparsers.add_parser("train", help="train a chorale model", formatter_class=formatter_class,
                              description="Train on the cache's train split, select on valid, write "
                                          "best.safetensors/last.safetensors (+ .json) into --out. One "
                                          "schedule (warm-up, then cosine to a floor) runs over --epochs or "
                                          "--max-minutes, whichever ends first; --resume continues it exactly. "
                                          "Under torchrun, trains data-parallel with PyTorch DDP (--batch-size "
                                          "is the global batch).",
                              epilog="example:\n  partimento train --config small --data runs/chorales.npz "
                                     "--max-minutes 150 --threads 2 --out runs/main\n"
                                     "  partimento train --resume runs/main --data runs/chorales.npz\n"
                                     "  partimento train --init neural/checkpoints/chorale-compact.safetensors "
                                     "--teacher runs/a/best.safetensors --lr 5e-4 --max-minutes 45 --out runs/warm")
    p.add_argument("--config", default=None, choices=sorted(CONFIGS),
                   help="model size and architecture (interleaved-*: the ablation's layout; default small, or "
                        "the --init checkpoint's)")
    p.add_argument("--data", default=str(default_cache_path()), help="dataset cache (built when missing)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--out", default="runs/chorale", help="run folder")
    p.add_argument("--resume", default=None, help="run folder (or last.safetensors) to continue; flags not given "
                                                  "keep the run's own values")
    p.add_argument("--epochs", default=argparse.SUPPRESS, type=int, help=f"upper bound on epochs (default {TrainConfig.epochs})")
    p.add_argument("--max-minutes", default=argparse.SUPPRESS, type=float,
                   help="wall-time budget: the schedule's length and the stop (default none)")
    p.add_argument("--seed", default=argparse.SUPPRESS, type=int, help=f"default {TrainConfig.seed}")
    p.add_argument("--batch-size", default=argparse.SUPPRESS, type=int,
                   help=f"windows per optimizer step over all processes (default {TrainConfig.batch_size})")
    p.add_argument("--lr", default=argparse.SUPPRESS, type=float, help=f"peak learning rate (default {TrainConfig.lr})")
    p.add_argument("--warmup-steps", default=argparse.SUPPRESS, type=int, help=f"default {TrainConfig.warmup_steps}")
    p.add_argument("--ema-decay", default=argparse.SUPPRESS, type=float,
                   help=f"weight averaging per step, 0 = off (default {TrainConfig.ema_decay})")
    p.add_argument("--precision", default=argparse.SUPPRESS, choices=["auto", "fp32", "bf16"],
                   help="bf16 = autocast (default auto: bf16 on CUDA, fp32 on CPU)")
    p.add_argument("--compile", action="store_true", default=argparse.SUPPRESS, help="torch.compile the training forward")
    p.add_argument("--threads", default=argparse.SUPPRESS, type=int, help="torch CPU threads (0 = default)")
    p.add_argument("--stop-after-epochs", default=argparse.SUPPRESS, type=int,
                   help="end this invocation after N epochs; --resume continues the same schedule")
    p.add_argument("--embedding", choices=["factorized", "plain"], default=None, help="override the config")
    p.add_argument("--attention", choices=["full", "museformer"], default=None, help="override the config")
    p.add_argument("--window", type=int, default=None, help="training window in 16th steps (override)")
    p.add_argument("--dropout", type=float, default=None,
                   help="dropout on block outputs and the in-step head (override; the shipped checkpoint "
                        "was trained with 0.2 against the train/valid gap: see its JSON)")
    p.add_argument("--teacher", action="append", default=argparse.SUPPRESS, metavar="CHECKPOINT",
                   help="distil from this trained checkpoint (repeat for several: their predictions are averaged)")
    p.add_argument("--distill", default=argparse.SUPPRESS, type=float,
                   help=f"weight of the teachers' prediction in the loss, the true token's is 1 - this "
                        f"(default {TrainConfig.distill})")
    p.add_argument("--init", default=argparse.SUPPRESS, metavar="CHECKPOINT",
                   help="start from this trained checkpoint's weights and config with a new schedule (a warm start; "
                        "--dropout may change, the architecture may not)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)

    p = subparsers.add_parser("evaluate", help="held-out NLL of a checkpoint", formatter_class=formatter_class,
                              description="Nats per voice token (one voice at one 16th step) on a split: overall, "
                                          "per voice, on the unseen-tune subset (chorales whose soprano tune no "
                                          "training chorale shares), by token kind (onset or hold, at a chord "
                                          "change or between), and with the null plan. A calibrated checkpoint "
                                          "(partimento calibrate) is reported with its temperature applied, the raw "
                                          "NLL beside it. Builds the data cache when it is missing.",
                              epilog="example:\n  partimento evaluate --split test --format json")
    p.add_argument("--split", default="test", choices=["test", "valid", "train"])
    p.add_argument("--checkpoint", default=None, help="checkpoint (.safetensors); default the shipped one")
    p.add_argument("--data", default=str(default_cache_path()), help="dataset cache (built when missing)")
    p.add_argument("--format", default="text", choices=["text", "json"])
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    p.set_defaults(func=_evaluate)

    p = subparsers.add_parser("calibrate", help="fit a checkpoint's temperature on valid", formatter_class=formatter_class,
                              description="Fit the one temperature that minimizes the checkpoint's NLL on the valid "
                                          "chorales (its logits divided by it) and write it into the checkpoint's "
                                          "JSON; `evaluate` then reports the calibrated model. Decoding reads the raw "
                                          "logits, so what compose writes does not change. Test chorales are never "
                                          "read. Builds the data cache when it is missing.",
                              epilog="example:\n  partimento calibrate runs/compact/best.safetensors")
    p.add_argument("checkpoint", help="checkpoint (.safetensors) whose JSON receives the temperature")
    p.add_argument("--data", default=str(default_cache_path()), help="dataset cache (built when missing)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    p.set_defaults(func=_calibrate)


def _calibrate(args) -> int:
    from .calibration import calibrate
    from .dataset import ensure_cache
    from .train import pick_device

    data = ensure_cache(args.data)
    rec = calibrate(args.checkpoint, data, str(pick_device(args.device)))
    print(f"{args.checkpoint}: temperature {rec['temperature']:g} fitted on valid ({rec['chorales']} chorales, "
          f"{rec['tokens']:,} voice tokens): {rec['nll_before']:.4f} -> {rec['nll_after']:.4f} nats/token; "
          f"written to its JSON")
    return 0


def _data(args) -> int:
    from .dataset import build_cache

    path = build_cache(args.out, limit=args.limit)
    print(f"wrote {path}")
    return 0


#: CLI flag -> TrainConfig field; a flag left out keeps the default (or, on --resume, the run's value).
_TRAIN_FLAGS = {"epochs": "epochs", "max_minutes": "max_minutes", "seed": "seed", "batch_size": "batch_size",
                "lr": "lr", "warmup_steps": "warmup_steps", "ema_decay": "ema_decay", "precision": "precision",
                "compile": "compile", "threads": "threads", "stop_after_epochs": "stop_after_epochs",
                "teacher": "teachers", "distill": "distill", "init": "init"}


def _train(args) -> int:
    import shlex
    import sys
    from dataclasses import replace

    from partimento.grammar.errors import InputError

    from .dataset import ensure_cache
    from .config import CONFIGS, TrainConfig
    from .train import resume_train_config, train

    if args.dropout is not None and not 0.0 <= args.dropout < 1.0:
        raise InputError(f"--dropout {args.dropout} is out of range", expected=["a value in [0, 1)"])

    given = {field: getattr(args, flag) for flag, field in _TRAIN_FLAGS.items() if hasattr(args, flag)}
    base = resume_train_config(args.resume) if args.resume else TrainConfig()
    base = replace(base, stop_after_epochs=0)  # a stop applies to one invocation only
    tcfg = replace(base, **given)
    shape = {k: v for k, v in (("embedding", args.embedding), ("attention", args.attention),
                               ("window_steps", args.window)) if v is not None}
    if tcfg.init and not args.resume:  # a warm start: the model is the checkpoint's
        if args.config is not None or shape:
            flags = ["--config"] * (args.config is not None) + [f"--{k.split('_')[0]}" for k in shape]
            raise InputError(f"--init takes the model from {tcfg.init}; {', '.join(flags)} would change it",
                             expected=["--init with --dropout at most"])
        from .checkpoint import load_model

        cfg = load_model(tcfg.init).cfg  # (its config and weights checked as for any checkpoint)
    else:
        cfg = replace(CONFIGS[args.config or "small"], **shape)
    if args.dropout is not None:
        cfg = replace(cfg, dropout=args.dropout)
    data = ensure_cache(args.data, progress=not args.no_progress)
    arguments = {k: v for k, v in vars(args).items() if k not in ("func", "command", "debug")}
    provenance = {"arguments": arguments}
    if Path(sys.argv[0]).name == "partimento":  # run from the shell: the command line as typed
        provenance["command"] = "partimento " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    summary = train(cfg, data, args.device, args.out, args.resume, tcfg, progress=not args.no_progress,
                    provenance=provenance)
    if summary:
        print(f"best valid {summary['best_valid']:.4f} nats/token after {summary['epochs']} epochs; "
              f"checkpoint {summary['out']}/best.safetensors")
    return 0


def _evaluate(args) -> int:
    from .evaluate import evaluate, format_text
    from .train import pick_device

    from .dataset import ensure_cache

    data = ensure_cache(args.data)  # progress on stderr: stdout stays the report
    doc = evaluate(args.split, args.checkpoint, data, str(pick_device(args.device)))
    print(json.dumps(doc, indent=1) if args.format == "json" else format_text(doc))
    return 0
