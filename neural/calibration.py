"""A checkpoint's temperature: one scalar, fitted on ``valid``, that makes its probabilities honest.

Every model trained here overfits the 280 training chorales (the distilled checkpoint's
training loss ends at 0.17 nats per voice token against 0.28 on ``valid``), so on chorales it
has not seen it is too sure of itself. Dividing the logits by a temperature above 1
(temperature scaling, Guo et al. 2017) fixes most of that: it changes no token's rank, only
how much probability the model claims. The temperature is chosen on ``valid`` alone (the
split model selection already uses); ``test`` is never read here.

:func:`calibrate` stores it in the checkpoint's JSON (``calibration``: the temperature and the
``valid`` NLL before and after), :func:`~partimento.neural.checkpoint.load_model` reads it into
``model.temperature``, and :meth:`~partimento.neural.model.ChoraleModel.token_nll` divides by it,
so ``partimento evaluate`` reports the calibrated model (and the raw one beside it).

Decoding reads the raw logits, so the music is the same with or without a calibration:
sampling at ``temperature`` T (``compose``'s default 1.0) draws from the calibrated model at
T / t, t the checkpoint's temperature. Distillation reads a calibrated teacher's calibrated
distribution (``neural/train.py``).
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from partimento.grammar.errors import CheckpointError, Location
from partimento.grammar.fileio import write_text_atomic

__all__ = ["fit_temperature", "split_logits", "fit_model", "calibrate", "temperature_of", "TEMPERATURE_RANGE"]

#: The temperatures the search may choose from (a fitted value at either end means something is wrong).
TEMPERATURE_RANGE = (0.25, 4.0)


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor, iterations: int = 60) -> tuple[float, float, float]:
    """(temperature, NLL at 1, NLL at the temperature) minimizing the mean NLL of ``targets`` under ``logits / t``.

    ``logits`` (N, V), ``targets`` (N,). The NLL is convex in 1/t, so a golden-section search
    over log t within :data:`TEMPERATURE_RANGE` finds the minimum to ~1e-12 in 60 steps.
    """
    if logits.ndim != 2 or targets.shape != logits.shape[:1] or len(targets) == 0:
        raise ValueError(f"need (N, V) logits and (N,) targets with N > 0, got {tuple(logits.shape)} and "
                         f"{tuple(targets.shape)}")
    logits = logits.double()

    def nll(log_t: float) -> float:
        return float(F.cross_entropy(logits / math.exp(log_t), targets))

    lo, hi = math.log(TEMPERATURE_RANGE[0]), math.log(TEMPERATURE_RANGE[1])
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(iterations):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(b)
    best = (a + b) / 2
    return math.exp(best), nll(0.0), nll(best)


def split_logits(model, pieces) -> tuple[torch.Tensor, torch.Tensor]:
    """The raw logits (N, V) and true tokens (N,) of every voice token of ``pieces``, with their plans."""
    out, tokens = [], []
    for p in pieces:
        logits = model.piece_logits(torch.as_tensor(p.tokens), p.cond)  # (T, 4, V)
        out.append(logits.reshape(-1, logits.shape[-1]).cpu())
        tokens.append(torch.as_tensor(p.tokens, dtype=torch.long).reshape(-1))
    return torch.cat(out), torch.cat(tokens)


def temperature_of(doc: dict[str, Any], cfg_path: str | Path) -> float:
    """The calibrated temperature a checkpoint's JSON records (1.0 when it has none)."""
    cal = doc.get("calibration")
    if cal is None:
        return 1.0
    t = cal.get("temperature") if isinstance(cal, dict) else None
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) \
            or not TEMPERATURE_RANGE[0] <= t <= TEMPERATURE_RANGE[1]:
        raise CheckpointError(f"checkpoint calibration temperature {t!r} is not a number in "
                              f"[{TEMPERATURE_RANGE[0]}, {TEMPERATURE_RANGE[1]}]", Location(file=str(cfg_path)),
                              hint="Fit it again with `partimento calibrate CHECKPOINT`, or delete the "
                                   "\"calibration\" entry.")
    return float(t)


def fit_model(model, pieces) -> dict[str, Any]:
    """The calibration record of ``model`` on ``pieces`` (the valid chorales): its temperature, rounded as
    stored, and the NLL before and at it. Nothing is written (:func:`calibrate` writes it)."""
    logits, targets = split_logits(model, pieces)
    t, before, _ = fit_temperature(logits, targets)
    t = round(t, 4)
    return {"temperature": t, "split": "valid", "chorales": len(pieces), "tokens": int(len(targets)),
            "nll_before": before, "nll_after": float(F.cross_entropy(logits.double() / t, targets)),
            "method": "one temperature dividing the logits, golden-section search on the valid NLL"}


def calibrate(checkpoint: str | Path, data=None, device: str = "cpu") -> dict[str, Any]:
    """Fit ``checkpoint``'s temperature on ``valid`` and write it into its JSON; returns the record written."""
    import json

    from .checkpoint import load_model, read_meta, resolve
    from .dataset import ChoraleData, load_cache

    weights, cfg_path = resolve(checkpoint)
    model = load_model(checkpoint, device)
    dataset = data if isinstance(data, ChoraleData) else load_cache(data)
    pieces = dataset.split("valid")
    if not pieces:
        raise CheckpointError("the dataset has no valid chorales to calibrate on", Location(file=str(weights)))
    record = fit_model(model, pieces)
    doc = read_meta(checkpoint)
    doc["calibration"] = record
    mode = cfg_path.stat().st_mode & 0o777
    write_text_atomic(cfg_path, json.dumps(doc, indent=1) + "\n")
    os.chmod(cfg_path, mode)  # the atomic write's temp file is 0600; keep the file as it was
    return record
