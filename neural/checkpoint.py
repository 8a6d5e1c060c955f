"""Checkpoints: weights as safetensors, config and provenance as JSON, never pickle.

``name.safetensors`` holds the tensors, ``name.json`` the :class:`ModelConfig` plus
what produced it (losses, epochs, data). Loading never touches the network; every way a
checkpoint can be wrong (missing, corrupt, config not matching the weights) becomes a
:class:`CheckpointError` with the path, before torch sees a bad tensor.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from partimento.grammar.errors import CheckpointError, Location
from partimento.grammar.fileio import write_bytes_atomic, write_text_atomic

from .calibration import temperature_of
from .model import ARCHITECTURES, ChoraleModel, ModelConfig, model_class

__all__ = ["SHIPPED_CHECKPOINT", "INTERLEAVED_CHECKPOINT", "FORMAT_VERSION", "save_checkpoint", "load_model", "read_meta", "resolve",
           "model_weights"]

#: The checkpoint that ships in the package and that ``compose`` uses by default.
SHIPPED_CHECKPOINT = Path(__file__).parent / "checkpoints" / "chorale-compact.safetensors"
#: The interleaved model trained before the per-step one (the ablation's and the side-by-side benchmarks' baseline).
INTERLEAVED_CHECKPOINT = Path(__file__).parent / "checkpoints" / "chorale-interleaved.safetensors"
FORMAT_VERSION = 1


def resolve(path: str | Path | None) -> tuple[Path, Path]:
    """(weights, json) paths; accepts ``x.safetensors``, ``x.json``, ``x`` or a run folder."""
    p = SHIPPED_CHECKPOINT if path is None else Path(path)
    if p.is_dir():
        p = p / "best.safetensors"
    if p.suffix in (".json", ".safetensors"):
        p = p.with_suffix("")
    return p.with_suffix(".safetensors"), p.with_suffix(".json")


def save_checkpoint(model: ChoraleModel, path: str | Path, meta: dict[str, Any] | None = None,
                    extra_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Write ``path`` (.safetensors) and its .json atomically; returns the weights path."""
    from safetensors.torch import save

    weights, cfg_path = resolve(path)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    for k, v in (extra_tensors or {}).items():
        tensors[k] = v.detach().to("cpu").contiguous()
    doc = {"format": "partimento-chorale-model", "format_version": FORMAT_VERSION,
           "config": model.cfg.to_dict(), "params": model.num_params(), **(meta or {})}
    write_bytes_atomic(weights, save(tensors))
    write_text_atomic(cfg_path, json.dumps(doc, indent=1) + "\n")
    umask = os.umask(0)
    os.umask(umask)
    for p in (weights, cfg_path):  # temp files are created 0600; checkpoints are meant to be shared
        os.chmod(p, 0o666 & ~umask)
    return weights


def read_meta(path: str | Path | None = None) -> dict[str, Any]:
    """The JSON side of a checkpoint (config and provenance)."""
    weights, cfg_path = resolve(path)
    if not cfg_path.is_file():
        raise CheckpointError("checkpoint config not found", Location(file=str(cfg_path)),
                              hint="A checkpoint is a .safetensors file with a .json of the same name beside it.")
    try:
        doc = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint config is not valid JSON ({e})", Location(file=str(cfg_path))) from None
    if not isinstance(doc, dict) or doc.get("format") != "partimento-chorale-model" or "config" not in doc:
        raise CheckpointError("not a partimento chorale-model config", Location(file=str(cfg_path)))
    if doc.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint format version {doc.get('format_version')} is not {FORMAT_VERSION}",
                              Location(file=str(cfg_path)), hint="Retrain with this version of partimento.")
    return doc


def load_tensors(path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint (model weights and any extras such as optimizer moments)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights, _ = resolve(path)
    if not weights.is_file():
        hint = ("The shipped checkpoint is missing from the installation; reinstall partimento."
                if path is None else "Train one with `partimento train` or pass --checkpoint PATH.")
        raise CheckpointError("checkpoint weights not found", Location(file=str(weights)), hint=hint)
    try:
        return load_file(str(weights))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint weights are corrupt or unreadable ({e})", Location(file=str(weights))) from None


def model_weights(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A checkpoint's tensors without a run's extras (optimizer moments ``optim.*``, the EMA copy ``ema.*``)."""
    return {k: v for k, v in tensors.items() if not k.startswith(("optim.", "ema."))}


def _weights_architecture(tensors: dict[str, torch.Tensor]) -> str | None:
    """Which architecture a set of weights belongs to, from names only one of them has (None: neither)."""
    if "in_proj.weight" in tensors or "head.out.weight" in tensors:
        return "step"
    if "head.weight" in tensors and any(k.startswith("voice_emb.") for k in tensors):
        return "interleaved"
    return None


def load_model(path: str | Path | None = None, device: str | torch.device = "cpu") -> ChoraleModel:
    """The model of a checkpoint in eval mode; ``None`` = the shipped checkpoint (offline)."""
    weights, cfg_path = resolve(path)
    doc = read_meta(path)
    arch = doc["config"].get("arch", "interleaved") if isinstance(doc["config"], dict) else None
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"checkpoint config names an unknown architecture {arch!r}", Location(file=str(cfg_path)),
                              expected=list(ARCHITECTURES), hint="Retrain with this version of partimento.")
    try:
        cfg = ModelConfig.from_dict(doc["config"])
        model = model_class(cfg.arch)(cfg)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint config is invalid ({e})", Location(file=str(cfg_path))) from None
    tensors = model_weights(load_tensors(path))
    other = _weights_architecture(tensors)
    if other is not None and other != cfg.arch:
        raise CheckpointError(f"the config names the {cfg.arch!r} architecture but the weights are those of "
                              f"the {other!r} architecture", Location(file=str(cfg_path)),
                              hint="The .json beside the weights must be the one saved with them.")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if tuple(expected[k].shape) != tuple(tensors[k].shape))
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:4])}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:4])}")
        if wrong:
            parts.append("shape mismatch " + ", ".join(
                f"{k} {tuple(tensors[k].shape)} vs {tuple(expected[k].shape)}" for k in wrong[:4]))
        raise CheckpointError("the config does not match the weights: " + "; ".join(parts),
                              Location(file=str(weights)),
                              hint="The .json beside the weights must be the one saved with them.")
    model.load_state_dict(tensors)
    model.temperature = temperature_of(doc, cfg_path)
    try:
        model.to(device)
    except (RuntimeError, AssertionError) as e:
        raise CheckpointError(f"cannot move the model to device {device!r} ({e})") from None
    return model.eval()
