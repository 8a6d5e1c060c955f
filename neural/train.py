"""Training, as a flat sequence of named steps: processes, data, model, optimizer, loop, eval, checkpoint.

``partimento train`` calls :func:`train`. One process trains on CPU or one GPU; under
``torchrun`` (``WORLD_SIZE`` set) the processes split each global batch of
``batch_size`` windows (every process draws the same global batch from the same
random stream and keeps its slice), PyTorch DDP averages the gradients, and rank 0
evaluates and writes checkpoints. Each process's loss is normalized by the global
token count / world size, so the averaged gradient is the gradient of the global
batch's mean loss: a data-parallel run follows the single-process run with the same
global batch (``tests/neural/test_distributed.py``).

The schedule (:mod:`.schedule`) runs once over the whole budget. An exponential moving
average of the weights (EMA) is what gets validated and shipped. The run folder holds
``last.*`` after every epoch (weights, EMA, AdamW moments, step and time counters,
the random stream's state: what ``--resume`` reads, so a stopped run continues exactly
where it was), ``best.*`` (the averaged weights with the lowest validation loss so far:
what gets shipped), ``log.jsonl`` (one line per epoch) and ``summary.json``.

Distillation (``teachers``): trained models, loaded frozen, read each batch as the student
does (same windows, same transposition, same conditioning dropped) and their predicted
distributions, averaged, become a second target: the loss per token is ``(1 - distill)``
times the cross-entropy with the true token plus ``distill`` times the cross-entropy with
the teachers' average. Averaging models of different sizes predicts held-out chorales
better than any one of them (the checkpoint shipped before distillation and two kept candidates, averaged:
0.272 nats/token on ``valid`` against 0.3035 to 0.3050 each;
``benchmarks/results/neural_ensemble_valid.json``), and the
student learns that average at the cost of one model at decoding time. A teacher whose
checkpoint is calibrated (``partimento calibrate``: a temperature fitted on ``valid``) gives its
calibrated distribution (its logits divided by its temperature): the three teachers above,
each calibrated, average to 0.2688 on ``valid`` instead of 0.2722
(``benchmarks/results/neural_ensemble_valid_calibrated.json``). The temperatures are part of
the teachers' fingerprint, so a resume with a teacher calibrated since is refused. The logged
``train_loss`` stays the cross-entropy with the true tokens, so curves compare with runs
without teachers; ``valid_loss`` is always the true tokens'.

A warm start (``init``): the run begins from a trained checkpoint's weights (its averaged
weights, which the EMA then starts from) with a new schedule, new teachers if any, and the
checkpoint's model config; the checkpoint's sha256 is recorded beside the teachers'. Unlike
``--resume``, nothing of the old run's optimizer, schedule or random stream is kept: it is
for refining a shipped model against a stronger ensemble at a lower learning rate.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from partimento.grammar.errors import CheckpointError, DataError, InputError, Location

from .checkpoint import load_model, load_tensors, model_weights, read_meta, resolve, save_checkpoint
from .config import TrainConfig
from .dataset import CODE_VERSION, ChoraleData, Piece, load_cache, sample_batch
from .encoding import N_VOICES
from .model import CONFIGS, ChoraleModel, ModelConfig, build_model
from .schedule import learning_rate, progress as schedule_progress

__all__ = ["TrainConfig", "train", "evaluate_pieces", "pick_device", "hardware", "file_sha256",
           "resume_train_config", "load_teachers"]


def load_teachers(paths: tuple[str, ...], device: torch.device) -> tuple[list[ChoraleModel], list[dict]]:
    """The frozen teacher models of a distillation run and their fingerprints (path, sha256)."""
    models, prints = [], []
    for path in paths:
        weights = resolve(path)[0]
        model = load_model(weights, device).eval()
        _check_encoding(weights, "the teacher", "predictions")
        for p in model.parameters():
            p.requires_grad_(False)
        models.append(model)
        prints.append({"path": str(path), "sha256": file_sha256(weights), "temperature": model.temperature})
    return models, prints


def _check_teachers(meta: dict, where: Path, prints: list[dict]) -> None:
    """A resumed distillation run must read the same teachers (else exit 2, saying which differs)."""
    saved = meta.get("teachers") or []
    if [(t["sha256"], t.get("temperature", 1.0)) for t in saved] != [(t["sha256"], t["temperature"]) for t in prints]:
        was = ", ".join(f"{t['path']} ({t['sha256'][:12]}…, temperature {t.get('temperature', 1.0):g})"
                        for t in saved) or "none"
        now = ", ".join(f"{t['path']} ({t['sha256'][:12]}…, temperature {t['temperature']:g})" for t in prints) or "none"
        raise CheckpointError(f"cannot resume: the run was trained with the teachers {was}, this invocation has "
                              f"{now}", Location(file=str(where)),
                              hint="Resume with the run's own teachers (its train_config lists them), or start a new run.")


def _check_encoding(weights: Path, role: str, what: str) -> None:
    """A checkpoint read by a run (a teacher, a warm start) must speak this code's token encoding (else exit 2)."""
    version = read_meta(weights).get("code_version")
    if version not in (None, CODE_VERSION):  # (a checkpoint without training metadata: trusted as it loads)
        raise CheckpointError(f"{role} was trained with encoding {version!r}, this code is {CODE_VERSION!r}: "
                              f"its {what} would mean other tokens", Location(file=str(weights)))


def _load_init(path: str) -> tuple[dict[str, torch.Tensor], dict]:
    """A warm start's weights (read and checked as :func:`load_model` reads any checkpoint) and its fingerprint."""
    weights = resolve(path)[0]
    _check_encoding(weights, "the --init checkpoint", "weights")
    return load_model(weights).state_dict(), {"path": str(path), "sha256": file_sha256(weights)}


def pick_device(name: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cuda`` without a GPU is an InputError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but no CUDA GPU is available", expected=["auto", "cpu"])
    if name not in ("cpu", "cuda"):
        raise InputError(f"unknown device {name!r}", expected=["auto", "cpu", "cuda"])
    return torch.device(name)


def hardware(device: torch.device | str = "cpu") -> dict:
    """What a run ran on, for the checkpoint's provenance and the model card."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = {"cpu": cpu, "cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
           "torch": torch.__version__, "python": platform.python_version(), "device": str(device)}
    if str(device).startswith("cuda") and torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name()
    return out


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


# ---------------------------------------------------------------- weight averaging
def _ema_fn(decay: float):
    """multi_avg_fn for AveragedModel: EMA whose decay warms up as (1+n)/(10+n)."""
    def update(ema: list[torch.Tensor], current: list[torch.Tensor], n: torch.Tensor) -> None:
        n = float(n)
        d = min(decay, (1.0 + n) / (10.0 + n))
        torch._foreach_lerp_(ema, current, 1.0 - d)

    return update


def _make_ema(model: ChoraleModel, decay: float):
    from torch.optim.swa_utils import AveragedModel

    return AveragedModel(model, multi_avg_fn=_ema_fn(decay), use_buffers=False) if decay > 0 else None


# ---------------------------------------------------------------- optimizer state as safetensors
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


def _resume_path(resume: str | Path) -> Path:
    resume = Path(resume)
    return resume / "last.safetensors" if resume.is_dir() else resume


def resume_train_config(resume: str | Path) -> TrainConfig:
    """The TrainConfig a run was started with (what ``--resume`` continues unless told otherwise)."""
    return TrainConfig.from_dict(read_meta(_resume_path(resume)).get("train_config", {}))


def _check_resume(meta: dict, where: Path, dataset: ChoraleData, data_sha: str | None) -> None:
    """A resume must run the same code version on the same data cache (else exit 2, saying which differs)."""
    version = meta.get("code_version")
    if version != CODE_VERSION:
        raise CheckpointError(f"cannot resume: the run was trained with encoding {version!r}, this code is "
                              f"{CODE_VERSION!r}", Location(file=str(where)),
                              hint="Start a new run (tokens or conditioning changed meaning).")
    saved = meta.get("data_sha256")
    if saved and data_sha and saved != data_sha:
        raise CheckpointError(f"cannot resume: the run was trained on the data cache {meta.get('data')!r} "
                              f"(sha256 {saved[:12]}…), but {dataset.source!r} is a different cache "
                              f"(sha256 {data_sha[:12]}…)", Location(file=str(where)),
                              hint="Pass the cache the run was started with as --data, or start a new run.")


def _params_digest(model: torch.nn.Module) -> str:
    """sha256 of every parameter's bytes: equal digests mean bit-identical weights."""
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def train(config: str | ModelConfig = "small", data: str | Path | ChoraleData | None = None,
          device: str = "auto", out: str | Path = "runs/chorale", resume: str | Path | None = None,
          tcfg: TrainConfig | None = None, progress: bool = True,
          log: Callable[[str], None] | None = None, provenance: dict | None = None) -> dict:
    """Train (or resume) a model; returns the run summary (also written to ``out/summary.json``).

    On resume the saved TrainConfig is used unless ``tcfg`` is given (the CLI fills the
    flags you did not pass from the saved config).
    """
    log = log or (lambda line: print(line, flush=True))
    resume_meta = read_meta(_resume_path(resume)) if resume is not None else None
    if tcfg is None:  # a resume continues the run's own config; a stop applied to the invocation that stopped
        tcfg = (replace(TrainConfig.from_dict(resume_meta.get("train_config", {})), stop_after_epochs=0)
                if resume_meta else TrainConfig())
    # ---------------------------------------------------------------- step 1: processes and device
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if tcfg.batch_size < 1 or tcfg.batch_size % world:
        raise InputError(f"the batch of {tcfg.batch_size} windows cannot be split evenly over {world} processes",
                         expected=[f"a --batch-size that is a multiple of {world}"])
    local_batch = tcfg.batch_size // world
    dev = pick_device(device)
    if tcfg.teachers and not 0.0 <= tcfg.distill <= 1.0:
        raise InputError(f"--distill {tcfg.distill} is out of range", expected=["a weight in [0, 1]"])
    if tcfg.precision not in ("auto", "fp32", "bf16"):
        raise InputError(f"unknown precision {tcfg.precision!r}", expected=["auto", "fp32", "bf16"])
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    main = rank == 0

    # ---------------------------------------------------------------- step 2: data
    dataset = data if isinstance(data, ChoraleData) else load_cache(data)
    data_sha = file_sha256(dataset.source) if dataset.source and Path(dataset.source).is_file() else None
    train_pieces, valid_pieces = dataset.split("train"), dataset.split("valid")
    if tcfg.eval_max_pieces:
        valid_pieces = valid_pieces[:tcfg.eval_max_pieces]

    # ---------------------------------------------------------------- step 3: model (fresh or resumed)
    out = Path(out)
    state = {"epoch": 0, "step": 0, "best_valid": float("inf"), "history": [], "train_seconds": 0.0,
             "ema_updates": 0}
    tensors: dict[str, torch.Tensor] = {}
    teachers, teacher_prints = load_teachers(tcfg.teachers, dev)
    init_tensors, init_print = (_load_init(tcfg.init) if tcfg.init and resume_meta is None
                                else ({}, (resume_meta or {}).get("init")))  # (a resume keeps the run's record)
    if resume_meta is not None:
        where = _resume_path(resume)
        _check_resume(resume_meta, where, dataset, data_sha)
        _check_teachers(resume_meta, where, teacher_prints)
        try:
            mcfg = ModelConfig.from_dict(resume_meta["config"])
        except TypeError as e:
            raise CheckpointError(f"cannot resume: the checkpoint's config is invalid ({e})",
                                  Location(file=str(where))) from None
        state.update(resume_meta.get("train_state", {}))
        out = where.parent
        tensors = load_tensors(where)
    else:
        mcfg = config if isinstance(config, ModelConfig) else CONFIGS.get(config)
        if mcfg is None:
            raise InputError(f"unknown model config {config!r}", expected=sorted(CONFIGS))
    torch.manual_seed(tcfg.seed)
    try:
        model = build_model(mcfg).to(dev)
    except ValueError as e:
        raise InputError(f"invalid model config: {e}") from None
    if init_tensors:
        try:
            model.load_state_dict(init_tensors)
        except RuntimeError as e:
            raise CheckpointError(f"--init: the weights do not fit the model config ({e})".split("\n")[0],
                                  Location(file=tcfg.init),
                                  hint="A warm start takes the checkpoint's own config; do not override it.") from None
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tcfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=tcfg.lr, betas=(0.9, 0.98))
    ema = _make_ema(model, tcfg.ema_decay)
    rng = np.random.default_rng(tcfg.seed)  # the one random stream: windows, transpositions, dropout seeds
    if resume_meta is not None:
        try:
            model.load_state_dict(model_weights(tensors))
            if ema is not None and any(k.startswith("ema.") for k in tensors):
                ema.module.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
                ema.n_averaged.fill_(int(state.get("ema_updates", 0)))
        except RuntimeError as e:
            raise CheckpointError(f"cannot resume: the weights do not match the config ({e})".split("\n")[0],
                                  Location(file=str(_resume_path(resume)))) from None
        _restore_optim(opt, model, tensors)
        if "rng" in resume_meta:
            rng.bit_generator.state = resume_meta["rng"]
    if main:
        out.mkdir(parents=True, exist_ok=True)
    ddp = model
    if world > 1:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel

        local = int(os.environ.get("LOCAL_RANK", "0"))
        if dev.type == "cuda":
            torch.cuda.set_device(local)
            dev = torch.device("cuda", local)
            model.to(dev)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        ddp = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    forward = torch.compile(ddp) if tcfg.compile else ddp
    bf16 = tcfg.precision == "bf16" or (tcfg.precision == "auto" and dev.type == "cuda")
    amp = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)

    # ---------------------------------------------------------------- step 4: the loop
    window = mcfg.window_steps
    train_steps = sum(len(p.tokens) for p in train_pieces)
    steps_per_epoch = max(1, math.ceil(train_steps / (window * tcfg.batch_size)))
    total_steps = steps_per_epoch * tcfg.epochs
    budget_s = tcfg.max_minutes * 60
    if main:
        log(f"model {model.num_params():,} params ({mcfg.arch}, {mcfg.embedding} embedding, {mcfg.attention} "
            f"attention) on {dev}{f' x{world} processes' if world > 1 else ''}{', bf16 autocast' if bf16 else ''}"
            f"{', compiled' if tcfg.compile else ''}; {len(train_pieces)} train / {len(valid_pieces)} valid chorales; "
            f"{steps_per_epoch} steps per epoch of {tcfg.batch_size}x{window} steps"
            + (f"; resuming at epoch {state['epoch']}, step {state['step']}" if resume_meta else ""))
    start_time = time.time() - state["train_seconds"]
    elapsed = lambda: time.time() - start_time
    summary: dict = {}
    epochs_run = 0
    done = lambda: state["epoch"] >= tcfg.epochs or (budget_s > 0 and elapsed() >= budget_s)
    if main and done():
        log("nothing to do: the run's schedule is complete (pass a larger --max-minutes or --epochs to extend it)")
    while not done():
        epoch = state["epoch"]
        torch.manual_seed(int(rng.integers(2 ** 62)) + rank)  # dropout, drawn from the saved stream
        model.train()
        losses, tokens_seen, t0 = [], 0, time.time()
        bar = range(steps_per_epoch)
        if progress and main:
            from tqdm import tqdm

            bar = tqdm(bar, desc=f"epoch {epoch + 1}", unit="step", leave=False)
        for _ in bar:
            tok, cond, mask = sample_batch(train_pieces, tcfg.batch_size, window, rng)  # the global batch
            keep = rng.random(tcfg.batch_size) >= mcfg.cond_dropout
            global_tokens = float(mask.sum() * N_VOICES)
            part = slice(rank * local_batch, (rank + 1) * local_batch)
            tok_t = torch.as_tensor(tok[part], device=dev)
            cond_t = torch.as_tensor(cond[part], device=dev)
            mask_t = torch.as_tensor(mask[part], device=dev).unsqueeze(-1).expand(-1, -1, N_VOICES)
            frac = schedule_progress(state["step"], total_steps, elapsed(), budget_s)
            lr = learning_rate(state["step"], frac, tcfg.lr, tcfg.warmup_steps, tcfg.lr_floor)
            for g in opt.param_groups:
                g["lr"] = lr
            keep_t = torch.as_tensor(keep[part], device=dev)
            with amp:
                logits = forward(tok_t, cond_t, keep_t)  # (b, W, 4, vocab)
            flat = logits.float().reshape(-1, logits.shape[-1])  # (b·W·4, vocab)
            nll = F.cross_entropy(flat, tok_t.reshape(-1), reduction="none")
            summed = (nll * mask_t.reshape(-1)).sum()
            if teachers:  # the teachers' average distribution, read on the same windows
                with torch.no_grad(), amp:
                    target = sum(F.softmax(t(tok_t, cond_t, keep_t).float() / t.temperature, -1)  # calibrated
                                 for t in teachers) / len(teachers)
                soft = -(target.reshape(flat.shape) * F.log_softmax(flat, -1)).sum(-1)  # (b·W·4,)
                mixed = ((1.0 - tcfg.distill) * nll + tcfg.distill * soft) * mask_t.reshape(-1)
                loss = mixed.sum() / (global_tokens / world)
            else:
                loss = summed / (global_tokens / world)  # DDP averages: the global batch's mean
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
            opt.step()
            if ema is not None:
                ema.update_parameters(model)
            state["step"] += 1
            total = summed.detach()
            if world > 1:
                import torch.distributed as dist

                dist.all_reduce(total)
            losses.append(float(total) / global_tokens)
            tokens_seen += int(global_tokens)
            if progress and main and hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}", lr=f"{lr:.2e}")
            if budget_s > 0 and elapsed() >= budget_s:
                break
        # ------------------------------------------------------------ step 5: eval and checkpoint
        state["epoch"] = epoch + 1
        epochs_run += 1
        epoch_seconds = time.time() - t0  # training only, before the validation pass
        if ema is not None:
            state["ema_updates"] = int(ema.n_averaged)
        if main:
            shipped = ema.module if ema is not None else model
            valid = evaluate_pieces(shipped, valid_pieces)
            record = {"epoch": epoch + 1, "step": state["step"], "train_loss": float(np.mean(losses)),
                      "valid_loss": valid["nll"], "valid_by_voice": valid["by_voice"],
                      "train_tokens_per_s": tokens_seen / max(epoch_seconds, 1e-9),
                      "elapsed_s": elapsed(), "lr": lr, "progress": frac}
            if ema is not None and (epoch % 5 == 4 or done()):  # the raw weights too, now and then (for the card)
                record["valid_loss_raw"] = evaluate_pieces(model, valid_pieces)["nll"]
            state["history"].append(record)
            improved = valid["nll"] < state["best_valid"]
            if improved:
                state["best_valid"] = valid["nll"]
            state["train_seconds"] = elapsed()
            meta = {"train_state": state, "train_config": asdict(tcfg), "data": dataset.source,
                    "data_sha256": data_sha, "code_version": CODE_VERSION, "device": str(dev),
                    "world_size": world, "hardware": hardware(dev), "provenance": provenance or {},
                    "teachers": teacher_prints, "init": init_print,
                    "weights": "ema" if ema is not None else "raw", "rng": rng.bit_generator.state}
            if improved:
                save_checkpoint(shipped, out / "best.safetensors", {**meta, "valid_loss": valid["nll"],
                                                                    "epoch": epoch + 1})
            extra = _optim_tensors(opt, model)
            if ema is not None:
                extra.update({f"ema.{k}": v for k, v in ema.module.state_dict().items()})
            save_checkpoint(model, out / "last.safetensors", meta, extra)
            with open(out / "log.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")
            log(f"epoch {epoch + 1}: train {record['train_loss']:.4f}  valid {valid['nll']:.4f} nats/token"
                f"{'  (best)' if improved else ''}  lr {lr:.2e}  {record['train_tokens_per_s']:.0f} tok/s  "
                f"{state['train_seconds'] / 60:.1f} min")
        else:
            state["train_seconds"] = elapsed()
        if tcfg.stop_after_epochs and epochs_run >= tcfg.stop_after_epochs and not done():
            if main:
                log(f"stopping after {epochs_run} epochs as asked; `--resume {out}` continues the same schedule")
            break
    if main and budget_s > 0 and elapsed() >= budget_s:
        log(f"stopping: the time budget of {tcfg.max_minutes:g} minutes is spent (the schedule is at its floor)")
    digests = [_params_digest(model)]
    if world > 1:
        import torch.distributed as dist

        gathered: list = [None] * world
        dist.all_gather_object(gathered, digests[0])
        digests = gathered
        dist.barrier()  # lets gloo's worker thread release the gather before the group is destroyed (else: deadlock)
    if main:
        summary = {"best_valid": state["best_valid"], "epochs": state["epoch"], "steps": state["step"],
                   "train_seconds": state["train_seconds"], "params": model.num_params(),
                   "config": mcfg.to_dict(), "train_config": asdict(tcfg), "out": str(out),
                   "world_size": world, "rank_weight_sha256": digests, "history": state["history"]}
        (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    if world > 1:
        import gc

        import torch.distributed as dist

        # Free DDP's reducer while the group is still registered. If the reducer held the last
        # reference, the group would be destroyed inside pybind's dealloc with the GIL held, while
        # gloo's run-loop thread, finishing the barrier's work, waits for the GIL to free a
        # tensor: a deadlock (seen 2 in ~10 loaded runs of tests/neural/test_distributed.py).
        # The group's own Python handle releases the GIL when it is destroyed.
        del forward, ddp
        gc.collect()
        dist.destroy_process_group()
    return summary

