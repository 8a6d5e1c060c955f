"""The harmonizer's ear for the whole tune: small bidirectional GRUs over a melody's slots.

Counting chord pairs (:mod:`partimento.hybrid.harmony_model`) sees one step at a time; where a
phrase is heading (its local key, its cadence, a sequence) is spread over the whole
melody. This network reads the melody slot by slot in both directions and says, per slot,
how likely each bass pitch class, each chord root (both relative to the home tonic) and
each closely related local key is in Bach's setting. The harmonic search adds those
log-probabilities to its scores (:mod:`partimento.hybrid.harmony`); the network never
chooses a chord by itself.

Trained by ``tools/train_melody_net.py`` on the sopranos of the ``train`` split only (Bach's
bass and roots from his own notes; local keys from the Roman-numeral analyses where there
is one), early-stopped on held-out ``train`` chorales. The shipped file is an
:class:`Ensemble` of five such networks, each with its own seed and held-out tenth:
on the valid sopranos it raised the harmonizer's per-beat agreement with Bach's bass and
roots by 1-2 points over the first network alone
(``benchmarks/results/harmonize_net_ensemble_valid.json``). The weights ship as
``melody_net.safetensors`` with a JSON config and provenance, never pickle. Shapes: B
melodies, S slots, F = :data:`N_FEATURES` features per slot.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from partimento.grammar.theory import key_info

from .harmony_model import RELATED_KEYS, SLOT_KINDS, Slot

__all__ = ["N_FEATURES", "NetConfig", "Ensemble", "slot_features", "load_net", "predict", "NET_PATH"]

NET_PATH = Path(__file__).with_name("melody_net.safetensors")
N_FEATURES = 38
_PHRASE_SCALE = 16.0  # slots at which the distance to a phrase boundary saturates


@dataclass
class NetConfig:
    features: int = N_FEATURES  # per-slot input features (see slot_features)
    hidden: int = 64  # GRU width per direction
    layers: int = 2  # stacked bidirectional GRU layers
    dropout: float = 0.3  # between layers and before the heads (training only)


def slot_features(pitch: np.ndarray, attack: np.ndarray, slots: list[Slot], end_slots: list[int], home: str
                  ) -> np.ndarray:
    """(S, N_FEATURES) float32 features of a melody (``pitch``/``attack``: (T,) soprano) for ``home``.

    Per slot: the onset pitch class above the home tonic (one-hot, or silent), whether it
    is struck or held, the pitch classes struck inside the slot, the slot kind, whether a
    phrase ends here, the home mode, the slot's length, the soprano's height and its
    intervals from the previous and to the next slot, the distances to the phrase's start
    and end, and whether this is the last phrase end.
    """
    k = key_info(home)
    S = len(slots)
    x = np.zeros((S, N_FEATURES), np.float32)
    onset = np.array([int(pitch[s.start]) for s in slots])
    ends = sorted(set(end_slots))
    start_of = 0
    nxt = 0
    for j, sl in enumerate(slots):
        p = onset[j]
        if p >= 0:
            x[j, (p - k.tonic) % 12] = 1
            x[j, 13] = float(attack[sl.start])
        else:
            x[j, 12] = 1
        for t in range(sl.start + 1, sl.stop):
            if attack[t] and pitch[t] >= 0:
                x[j, 14 + (int(pitch[t]) - k.tonic) % 12] = 1
        x[j, 26 + sl.kind] = 1
        while nxt < len(ends) and ends[nxt] < j:
            start_of = ends[nxt] + 1
            nxt += 1
        end = ends[nxt] if nxt < len(ends) else S - 1
        x[j, 29] = float(j in ends)
        x[j, 30] = float(k.is_minor)
        x[j, 31] = (sl.stop - sl.start) / 8.0
        x[j, 32] = (p - 67) / 12.0 if p >= 0 else 0.0
        prev = onset[j - 1] if j > 0 else -1
        after = onset[j + 1] if j + 1 < S else -1
        x[j, 33] = (p - prev) / 12.0 if p >= 0 and prev >= 0 else 0.0
        x[j, 34] = (after - p) / 12.0 if p >= 0 and after >= 0 else 0.0
        x[j, 35] = min(1.0, (end - j) / _PHRASE_SCALE)
        x[j, 36] = min(1.0, (j - start_of) / _PHRASE_SCALE)
        x[j, 37] = float(bool(ends) and j == ends[-1])
    assert len(SLOT_KINDS) == 3
    return x


def _module(cfg: NetConfig):
    import torch
    from torch import nn

    class MelodyNet(nn.Module):
        """Linear in, bidirectional GRU, three heads: bass (12), root (12), local key (6)."""

        def __init__(self) -> None:
            super().__init__()
            self.cfg = cfg
            self.inp = nn.Linear(cfg.features, cfg.hidden)
            self.gru = nn.GRU(cfg.hidden, cfg.hidden, num_layers=cfg.layers, batch_first=True, bidirectional=True,
                              dropout=cfg.dropout if cfg.layers > 1 else 0.0)
            self.drop = nn.Dropout(cfg.dropout)
            self.bass = nn.Linear(2 * cfg.hidden, 12)
            self.root = nn.Linear(2 * cfg.hidden, 12)
            self.key = nn.Linear(2 * cfg.hidden, len(RELATED_KEYS["major"]))

        def forward(self, x: "torch.Tensor") -> dict[str, "torch.Tensor"]:  # x: (B, S, F)
            h, _ = self.gru(torch.relu(self.inp(x)))  # (B, S, 2H)
            h = self.drop(h)
            return {"bass": self.bass(h), "root": self.root(h), "key": self.key(h)}  # logits (B, S, 12|12|6)

    return MelodyNet()


def build(cfg: NetConfig | None = None):
    """A fresh network (for training)."""
    return _module(cfg or NetConfig())


class Ensemble:
    """Several networks of one config, each trained with its own seed and its own held-out tenth.

    :func:`predict` averages their probabilities (not their logits): a mixture is as
    sure as its members agree, and one member's overconfident slip costs less. Members
    are stored in one safetensors file, member ``i``'s tensors under ``m{i}.``.
    """

    def __init__(self, members: list) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one network")
        self.members = members


@lru_cache(maxsize=2)
def load_net(path: str | None = None):
    """The shipped network (or the one at ``path``) in eval mode: one network, or an :class:`Ensemble`
    when the JSON lists ``members``; None when no weights are there."""
    from safetensors.torch import load_file

    weights = Path(path) if path else NET_PATH
    meta_path = weights.with_suffix(".json")
    if not weights.is_file() or not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    cfg = NetConfig(**meta["config"])
    state = load_file(str(weights))
    if "members" not in meta:
        return _loaded(cfg, state)
    nets = []
    for i in range(len(meta["members"])):
        prefix = f"m{i}."
        nets.append(_loaded(cfg, {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}))
    return Ensemble(nets)


def _loaded(cfg: NetConfig, state: dict):
    net = _module(cfg)
    net.load_state_dict(state)
    net.eval()
    return net


def predict(net, features: np.ndarray) -> dict[str, np.ndarray]:
    """Log-probabilities per slot: {"bass": (S, 12), "root": (S, 12), "key": (S, 6)}.

    For an :class:`Ensemble`, the log of the members' mean probability.
    """
    import torch

    members = net.members if isinstance(net, Ensemble) else [net]
    x = torch.from_numpy(features)[None]
    with torch.no_grad():
        logs = [{k: torch.log_softmax(v[0], dim=-1).double() for k, v in m(x).items()} for m in members]
    if len(logs) == 1:
        return {k: v.numpy() for k, v in logs[0].items()}
    return {k: (torch.logsumexp(torch.stack([lp[k] for lp in logs]), dim=0) - np.log(len(logs))).numpy()
            for k in logs[0]}


def config_dict(cfg: NetConfig) -> dict:
    return asdict(cfg)
