"""Held-out evaluation: nats per voice token on a split, honestly broken down.

A token is one voice at one sixteenth step (the TonicNet measure). The document reports:

* the NLL overall and per voice, with the plan and with the null plan (the same weights;
  the model was trained with conditioning dropout), which shows what the plan is worth;
* the NLL on the **unseen-tune** subset: held-out chorales whose soprano tune no training
  chorale shares (method and threshold in :mod:`.tunes`), against the rest — Bach
  harmonized many tunes more than once, and a tune seen in training flatters the figure;
* the NLL **by token kind**: an onset (a new note: an attack) or a hold (the note goes on;
  a rest is counted apart), at a chord change of the plan or between chord changes (passing
  notes, suspensions), with each kind's share of the tokens and of the loss.

Comparing with TonicNet's 0.220 nats/token: the encodings differ. TonicNet (Peracha 2019)
predicts one token per voice per sixteenth as we do, on its own JSB split, but it has no
hold token (a held note repeats its pitch token, so "same pitch as before" is easy) and it
also predicts a chord token per step, which is part of its sequence and its average. Our
model has a hold token and is told the plan: chord pitch classes, root, bass pitch class,
key, cadences, so the chord tones and the bass's pitch class are revealed rather than
predicted. The numbers are comparable in unit, not in difficulty, in either direction.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .checkpoint import SHIPPED_CHECKPOINT, load_model, resolve
from .dataset import ChoraleData, Piece, load_cache
from .encoding import PITCH_OFFSET, REST
from .tunes import MIN_RUN, SHARED_TUNE_THRESHOLD, match_tunes

__all__ = ["evaluate", "format_text", "token_kinds", "TONICNET_NOTE"]

_VOICES = ("soprano", "alto", "tenor", "bass")
TONICNET_NOTE = ("TonicNet reports 0.220 nats/token on its own JSB split; its encoding has no hold token and predicts "
                 "a chord token per step, while ours has a hold token and the plan reveals chord tones and the bass "
                 "pitch class: the same unit, not the same task.")
_KINDS = ("onset_at_chord_change", "onset_between_changes", "hold_at_chord_change", "hold_between_changes", "rest")


def token_kinds(piece: Piece) -> np.ndarray:
    """(T, 4) index into ``_KINDS`` for every voice token of a piece."""
    tok = piece.tokens
    change = piece.cond.field("onset")[:, None].astype(bool) | (np.arange(len(tok)) == 0)[:, None]  # (T, 1)
    kind = np.where(tok >= PITCH_OFFSET, np.where(change, 0, 1), np.where(change, 2, 3))
    return np.where(tok == REST, 4, kind)


def _summary(nll: np.ndarray, kinds: np.ndarray | None = None) -> dict:
    """Totals of concatenated per-token NLLs (N, 4): overall, per voice, and by kind."""
    out = {"tokens": int(nll.size), "nll": float(nll.mean()) if nll.size else float("nan"),
           "nll_by_voice": dict(zip(_VOICES, nll.mean(0).tolist())) if nll.size else {}}
    if kinds is not None:
        total = float(nll.sum())
        by = {}
        groups = {name: kinds == i for i, name in enumerate(_KINDS)}
        groups["onset"] = groups["onset_at_chord_change"] | groups["onset_between_changes"]
        groups["hold"] = groups["hold_at_chord_change"] | groups["hold_between_changes"]
        groups["at_chord_change"] = groups["onset_at_chord_change"] | groups["hold_at_chord_change"]
        groups["between_changes"] = groups["onset_between_changes"] | groups["hold_between_changes"]
        for name, sel in groups.items():
            n = int(sel.sum())
            by[name] = {"tokens": n, "share_of_tokens": n / nll.size, "nll": float(nll[sel].mean()) if n else None,
                        "share_of_loss": float(nll[sel].sum()) / total if total else None}
        out["by_kind"] = by
    return out


@torch.no_grad()
def _piece_nlls(model, pieces: list[Piece], conditioned: bool,
                temperatures: tuple[float, ...]) -> list[list[np.ndarray]]:
    """Per temperature, per piece the (T, 4) NLL: one forward pass per piece serves every temperature."""
    out: list[list[np.ndarray]] = [[] for _ in temperatures]
    for p in pieces:
        logits = model.piece_logits(torch.as_tensor(p.tokens), p.cond, conditioned)
        for k, t in enumerate(temperatures):
            out[k].append(model.nll_at(logits, p.tokens, t).double().cpu().numpy())
    return out


def _piece_nll(model, pieces: list[Piece], conditioned: bool) -> list[np.ndarray]:
    """Per piece the (T, 4) NLL at the model's temperature (its calibration; 1.0 without)."""
    return _piece_nlls(model, pieces, conditioned, (model.temperature,))[0]


def evaluate(split: str = "test", checkpoint: str | Path | None = None, data: str | Path | ChoraleData | None = None,
             device: str = "cpu", unconditioned: bool = True) -> dict:
    """The JSON document of ``partimento evaluate``."""
    model = load_model(checkpoint, device)
    dataset = data if isinstance(data, ChoraleData) else load_cache(data)
    pieces = dataset.split(split)
    calibrated = model.temperature != 1.0  # then the raw NLL too, from the same logits
    nll, *raw = _piece_nlls(model, pieces, True, (model.temperature, 1.0) if calibrated else (model.temperature,))
    kinds = [token_kinds(p) for p in pieces]
    whole = _summary(np.concatenate(nll), np.concatenate(kinds))
    doc = {
        "split": split,
        "chorales": len(pieces),
        "tokens": whole["tokens"],
        "nll_nats_per_token": whole["nll"],
        "nll_by_voice": whole["nll_by_voice"],
        "by_kind": whole["by_kind"],
        "params": model.num_params(),
        "arch": model.cfg.arch,
        "checkpoint": str(resolve(checkpoint)[0] if checkpoint is not None else SHIPPED_CHECKPOINT),
    }
    if calibrated:  # the raw model beside the calibrated one (see neural/calibration.py)
        s = _summary(np.concatenate(raw[0]))
        doc["calibration"] = {"temperature": model.temperature,
                              "note": "every NLL here divides the logits by this temperature, fitted on valid "
                                      "(partimento calibrate); decoding reads the raw logits",
                              "uncalibrated_nll_nats_per_token": s["nll"],
                              "uncalibrated_nll_by_voice": s["nll_by_voice"]}
    train_pieces = [p for p in dataset.pieces if p.split == "train"]
    unseen = None
    if split != "train" and train_pieces:
        matches = match_tunes([(p.name, p.tokens) for p in pieces], [(p.name, p.tokens) for p in train_pieces])
        unseen = np.array([not m.shared for m in matches])
        doc["tunes"] = {
            "method": ("soprano notes (repeats merged) as semitone intervals; overlap = share of the chorale's "
                       f"intervals in common runs of >= {MIN_RUN} intervals with one training chorale "
                       "(difflib.SequenceMatcher); the tune is shared when the overlap is >= the threshold"),
            "min_run_intervals": MIN_RUN, "threshold": SHARED_TUNE_THRESHOLD,
            "matches": [{"chorale": m.name, "best_train_match": m.best, "overlap": round(m.overlap, 3),
                         "shared": m.shared} for m in matches]}
        for name, sel in (("unseen_tune", unseen), ("seen_tune", ~unseen)):
            part = [x for x, s in zip(nll, sel) if s]
            if part:
                s = _summary(np.concatenate(part))
                doc[name] = {"chorales": int(sel.sum()), "tokens": s["tokens"], "nll_nats_per_token": s["nll"],
                             "nll_by_voice": s["nll_by_voice"]}
    if unconditioned:
        un = _piece_nll(model, pieces, conditioned=False)
        s = _summary(np.concatenate(un))
        doc["unconditioned"] = {"nll_nats_per_token": s["nll"], "nll_by_voice": s["nll_by_voice"]}
        if unseen is not None and unseen.any():
            doc["unconditioned"]["unseen_tune_nll"] = float(np.concatenate(
                [x for x, u in zip(un, unseen) if u]).mean())
    doc["tonicnet"] = TONICNET_NOTE
    return doc


def format_text(doc: dict) -> str:
    lines = [f"{doc['split']}: {doc['chorales']} chorales, {doc['tokens']:,} voice tokens "
             f"(one voice at one 16th step), {doc.get('arch', '?')} model, {doc['params']:,} params",
             f"checkpoint: {doc['checkpoint']}",
             f"with the plan:    {doc['nll_nats_per_token']:.4f} nats/token  " +
             "  ".join(f"{v} {x:.4f}" for v, x in doc["nll_by_voice"].items())]
    if "calibration" in doc:
        c = doc["calibration"]
        lines.append(f"  (calibrated: logits / {c['temperature']:g}, fitted on valid; uncalibrated "
                     f"{c['uncalibrated_nll_nats_per_token']:.4f} nats/token)")
    for name, label in (("unseen_tune", "unseen tunes:"), ("seen_tune", "seen tunes:")):
        if name in doc:
            lines.append(f"  {label:<16}{doc[name]['nll_nats_per_token']:.4f} nats/token over {doc[name]['chorales']} "
                         f"chorales")
    if "tunes" in doc:
        t = doc["tunes"]
        lines.append(f"  (a tune is seen when >= {t['threshold']:.0%} of its soprano intervals lie in common runs of "
                     f">= {t['min_run_intervals']} intervals with one training chorale, transposition-invariant)")
    if "unconditioned" in doc:
        u = doc["unconditioned"]
        lines.append(f"without the plan: {u['nll_nats_per_token']:.4f} nats/token  " +
                     "  ".join(f"{v} {x:.4f}" for v, x in u["nll_by_voice"].items()))
    lines.append("by token kind:    nats/token  share of tokens  share of loss")
    for name in ("onset", "hold", "onset_at_chord_change", "onset_between_changes", "hold_at_chord_change",
                 "hold_between_changes", "rest"):
        k = doc["by_kind"][name]
        if k["tokens"]:
            lines.append(f"  {name.replace('_', ' '):<24}{k['nll']:8.4f}  {k['share_of_tokens']:14.1%}  "
                         f"{k['share_of_loss']:12.1%}")
    lines.append(f"({doc['tonicnet']})")
    return "\n".join(lines)

