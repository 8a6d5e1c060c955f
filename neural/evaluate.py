"""Held-out evaluation: nats per voice token on a split, with and without the plan.

A token is one voice at one sixteenth step (the TonicNet measure), so the number is
comparable in kind, though not in data, to TonicNet's 0.220 nats/token on its own JSB
split. The unconditioned figure runs the same weights with the learned null
conditioning (the model was trained with conditioning dropout), which shows what the
plan is worth.
"""
from __future__ import annotations

from pathlib import Path

from .checkpoint import SHIPPED_CHECKPOINT, load_model, resolve
from .dataset import ChoraleData, load_cache
from .encoding import N_VOICES
from .train import evaluate_pieces

__all__ = ["evaluate", "format_text"]

_VOICES = ("soprano", "alto", "tenor", "bass")


def evaluate(split: str = "test", checkpoint: str | Path | None = None, data: str | Path | ChoraleData | None = None,
             device: str = "cpu", unconditioned: bool = True) -> dict:
    """The JSON document of ``partimento evaluate`` (plus an ``unconditioned`` section)."""
    model = load_model(checkpoint, device)
    dataset = data if isinstance(data, ChoraleData) else load_cache(data)
    pieces = dataset.split(split)
    res = evaluate_pieces(model, pieces, conditioned=True)
    doc = {
        "split": split,
        "chorales": res["chorales"],
        "tokens": res["tokens"],
        "nll_nats_per_token": res["nll"],
        "nll_by_voice": dict(zip(_VOICES, res["by_voice"])),
        "params": model.num_params(),
        "checkpoint": str(resolve(checkpoint)[0] if checkpoint is not None else SHIPPED_CHECKPOINT),
    }
    if unconditioned:
        un = evaluate_pieces(model, pieces, conditioned=False)
        doc["unconditioned"] = {"nll_nats_per_token": un["nll"], "nll_by_voice": dict(zip(_VOICES, un["by_voice"]))}
    return doc


def format_text(doc: dict) -> str:
    lines = [f"{doc['split']}: {doc['chorales']} chorales, {doc['tokens']:,} voice tokens "
             f"(one voice at one 16th step), model {doc['params']:,} params",
             f"checkpoint: {doc['checkpoint']}",
             f"with the plan:    {doc['nll_nats_per_token']:.4f} nats/token  " +
             "  ".join(f"{v} {x:.4f}" for v, x in doc["nll_by_voice"].items())]
    if "unconditioned" in doc:
        u = doc["unconditioned"]
        lines.append(f"without the plan: {u['nll_nats_per_token']:.4f} nats/token  " +
                     "  ".join(f"{v} {x:.4f}" for v, x in u["nll_by_voice"].items()))
    lines.append("(TonicNet reports 0.220 nats/token on its own JSB split, a different split from ours.)")
    return "\n".join(lines)
