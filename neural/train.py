"""Training, as a flat sequence of named steps: data, model, optimizer, loop, eval, checkpoint.

``partimento train`` calls :func:`train`. One process trains on CPU or one GPU; under
``torchrun`` (``WORLD_SIZE`` set) every process trains on its own random windows with
PyTorch DDP averaging the gradients and rank 0 evaluates and writes checkpoints. On
CUDA the forward runs under bf16 autocast. The run folder holds ``last.*`` (weights,
optimizer moments, counters: what ``--resume`` reads), ``best.*`` (lowest validation
loss so far: what gets shipped) and ``log.jsonl`` (one line per epoch).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from partimento.grammar.errors import CheckpointError, DataError, InputError, Location

from .checkpoint import load_tensors, read_meta, save_checkpoint
from .dataset import ChoraleData, Piece, load_cache, sample_batch
from .model import CONFIGS, ChoraleModel, ModelConfig
from .encoding import N_VOICES

__all__ = ["TrainConfig", "train", "evaluate_pieces", "pick_device"]


@dataclass
class TrainConfig:
    epochs: int = 20  # passes over the training tokens (one pass = total train steps / window windows)
    batch_size: int = 16  # windows per optimizer step (per process under DDP)
    lr: float = 2e-3  # peak AdamW learning rate
    weight_decay: float = 0.05  # AdamW weight decay on matrices
    warmup_steps: int = 100  # linear warmup before cosine decay
    grad_clip: float = 1.0  # max global gradient norm
    max_minutes: float = 0.0  # wall-time budget: the LR anneals over it and training stops there; 0 = none
    seed: int = 0  # seeds windows, transpositions, dropout and init
    threads: int = 0  # torch CPU threads; 0 = torch's default
    eval_max_pieces: int = 0  # validation pieces per epoch; 0 = all


def pick_device(name: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cuda`` without a GPU is an InputError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but no CUDA GPU is available", expected=["auto", "cpu"])
    if name not in ("cpu", "cuda"):
        raise InputError(f"unknown device {name!r}", expected=["auto", "cpu", "cuda"])
    return torch.device(name)


@torch.no_grad()
def evaluate_pieces(model: ChoraleModel, pieces: list[Piece], conditioned: bool = True) -> dict:
    """Summed NLL over whole pieces: nats per voice token overall and per voice."""
    total = np.zeros(N_VOICES)
    count = 0
    for p in pieces:
        nll = model.token_nll(torch.as_tensor(p.tokens), p.cond, conditioned=conditioned)  # (T, 4)
        total += nll.double().sum(0).cpu().numpy()
        count += nll.shape[0]
    if count == 0:
        raise DataError("nothing to evaluate: the split is empty")
    return {"nll": float(total.sum() / (count * N_VOICES)), "by_voice": (total / count).tolist(),
            "tokens": int(count * N_VOICES), "chorales": len(pieces)}


def _lr_at(step: int, total: int, cfg: TrainConfig, elapsed_s: float = 0.0) -> float:
    """Linear warmup, then cosine decay to 5 % over the steps or the time budget, whichever ends first."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    frac = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    if cfg.max_minutes:
        frac = max(frac, elapsed_s / (cfg.max_minutes * 60))
    frac = min(1.0, frac)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))


def _optim_tensors(opt: torch.optim.Optimizer, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """AdamW moments as flat named tensors, so resume state is safetensors too."""
    out = {}
    for name, p in model.named_parameters():
        st = opt.state.get(p, {})
        for k in ("exp_avg", "exp_avg_sq", "step"):
            if k in st:
                out[f"optim.{name}.{k}"] = torch.as_tensor(st[k]).float().reshape(-1) if k == "step" else st[k]
    return out


def _restore_optim(opt: torch.optim.Optimizer, model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    for name, p in model.named_parameters():
        if f"optim.{name}.exp_avg" in tensors:
            opt.state[p] = {"exp_avg": tensors[f"optim.{name}.exp_avg"].to(p.device),
                            "exp_avg_sq": tensors[f"optim.{name}.exp_avg_sq"].to(p.device),
                            "step": tensors[f"optim.{name}.step"].reshape(()).clone()}


def train(config: str | ModelConfig = "small", data: str | Path | ChoraleData | None = None,
          device: str = "auto", out: str | Path = "runs/chorale", resume: str | Path | None = None,
          tcfg: TrainConfig | None = None, progress: bool = True,
          log: Callable[[str], None] | None = None) -> dict:
    """Train (or resume) a model; returns the run summary (also written to ``out/summary.json``)."""
    tcfg = tcfg or TrainConfig()
    log = log or (lambda line: print(line, flush=True))
    # ---------------------------------------------------------------- step 1: processes and device
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    dev = pick_device(device)
    if world > 1:
        import torch.distributed as dist

        local = int(os.environ.get("LOCAL_RANK", "0"))
        if dev.type == "cuda":
            torch.cuda.set_device(local)
            dev = torch.device("cuda", local)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    main = rank == 0

    # ---------------------------------------------------------------- step 2: data
    dataset = data if isinstance(data, ChoraleData) else load_cache(data)
    train_pieces, valid_pieces = dataset.split("train"), dataset.split("valid")
    if tcfg.eval_max_pieces:
        valid_pieces = valid_pieces[:tcfg.eval_max_pieces]

    # ---------------------------------------------------------------- step 3: model (fresh or resumed)
    out = Path(out)
    state = {"epoch": 0, "step": 0, "best_valid": float("inf"), "history": [], "train_seconds": 0.0}
    if resume is not None:
        resume = Path(resume)
        meta = read_meta(resume / "last.safetensors" if resume.is_dir() else resume)
        mcfg = ModelConfig.from_dict(meta["config"])
        state.update(meta.get("train_state", {}))
        out = resume if resume.is_dir() else resume.parent
    else:
        mcfg = config if isinstance(config, ModelConfig) else CONFIGS.get(config)
        if mcfg is None:
            raise InputError(f"unknown model config {config!r}", expected=sorted(CONFIGS))
    torch.manual_seed(tcfg.seed)
    model = ChoraleModel(mcfg).to(dev)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tcfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=tcfg.lr, betas=(0.9, 0.98))
    if resume is not None:
        tensors = load_tensors(resume / "last.safetensors" if resume.is_dir() else resume)
        try:
            model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("optim.")})
        except RuntimeError as e:
            raise CheckpointError(f"cannot resume: the weights do not match the config ({e})".split("\n")[0],
                                  Location(file=str(resume))) from None
        _restore_optim(opt, model, tensors)
    if main and out is not None:
        out.mkdir(parents=True, exist_ok=True)
    ddp = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else torch.autocast("cpu", enabled=False)

    # ---------------------------------------------------------------- step 4: the loop
    window = mcfg.window_steps
    train_steps = sum(len(p.tokens) for p in train_pieces)
    steps_per_epoch = max(1, math.ceil(train_steps / (window * tcfg.batch_size * world)))
    total_steps = steps_per_epoch * tcfg.epochs
    if main:
        log(f"model {model.num_params():,} params ({mcfg.embedding} embedding, {mcfg.attention} attention) on {dev}"
            f"{f' x{world} processes' if world > 1 else ''}; {len(train_pieces)} train / {len(valid_pieces)} valid "
            f"chorales; {steps_per_epoch} steps per epoch of {tcfg.batch_size}x{window} steps")
    start_time = time.time() - state["train_seconds"]
    stopped_early = False
    summary: dict = {}
    while state["epoch"] < tcfg.epochs:
        epoch = state["epoch"]
        rng = np.random.default_rng([tcfg.seed, epoch, rank])  # windows and transpositions
        torch.manual_seed(tcfg.seed * 1000 + epoch * 10 + rank)  # dropout
        model.train()
        losses, tokens_seen, t0 = [], 0, time.time()
        bar = range(steps_per_epoch)
        if progress and main:
            from tqdm import tqdm

            bar = tqdm(bar, desc=f"epoch {epoch + 1}/{tcfg.epochs}", unit="step", leave=False)
        for _ in bar:
            tok, cond, mask = sample_batch(train_pieces, tcfg.batch_size, window, rng)
            keep = rng.random(tcfg.batch_size) >= mcfg.cond_dropout
            tok_t = torch.as_tensor(tok, device=dev)
            cond_t = torch.as_tensor(cond, device=dev)
            mask_t = torch.as_tensor(mask, device=dev).unsqueeze(-1).expand(-1, -1, N_VOICES)
            for g in opt.param_groups:
                g["lr"] = _lr_at(state["step"], total_steps, tcfg, time.time() - start_time)
            with amp:
                logits = ddp(tok_t, cond_t, torch.as_tensor(keep, device=dev))  # (B, W, 4, vocab)
            nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tok_t.reshape(-1), reduction="none")
            loss = (nll * mask_t.reshape(-1)).sum() / mask_t.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
            opt.step()
            state["step"] += 1
            losses.append(loss.item())
            tokens_seen += int(mask_t.sum())
            if progress and main and hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
            if tcfg.max_minutes and time.time() - start_time > tcfg.max_minutes * 60:
                stopped_early = True
                break
        # ------------------------------------------------------------ step 5: eval and checkpoint
        state["epoch"] = epoch + 1
        state["train_seconds"] = time.time() - start_time
        epoch_seconds = time.time() - t0  # training only, before the validation pass
        if main:
            valid = evaluate_pieces(model, valid_pieces)
            record = {"epoch": epoch + 1, "step": state["step"], "train_loss": float(np.mean(losses)),
                      "valid_loss": valid["nll"], "valid_by_voice": valid["by_voice"],
                      "train_tokens_per_s": tokens_seen * world / max(epoch_seconds, 1e-9),
                      "elapsed_s": state["train_seconds"], "lr": opt.param_groups[0]["lr"]}
            state["history"].append(record)
            improved = valid["nll"] < state["best_valid"]
            if improved:
                state["best_valid"] = valid["nll"]
            meta = {"train_state": state, "train_config": asdict(tcfg), "data": dataset.source,
                    "device": str(dev), "world_size": world}
            if improved:
                save_checkpoint(model, out / "best.safetensors", {**meta, "valid_loss": valid["nll"],
                                                                  "epoch": epoch + 1})
            save_checkpoint(model, out / "last.safetensors", meta, _optim_tensors(opt, model))
            with open(out / "log.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")
            log(f"epoch {epoch + 1}: train {record['train_loss']:.4f}  valid {valid['nll']:.4f} nats/token"
                f"{'  (best)' if improved else ''}  {record['train_tokens_per_s']:.0f} tok/s  "
                f"{state['train_seconds'] / 60:.1f} min")
        if stopped_early:
            if main:
                log(f"stopping: time budget of {tcfg.max_minutes} minutes reached")
            break
    if main:
        summary = {"best_valid": state["best_valid"], "epochs": state["epoch"], "steps": state["step"],
                   "train_seconds": state["train_seconds"], "params": model.num_params(),
                   "config": mcfg.to_dict(), "train_config": asdict(tcfg), "out": str(out),
                   "history": state["history"]}
        (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return summary
