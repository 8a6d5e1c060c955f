"""The neural layer: a small plan-conditioned transformer that writes SATB voice tokens.

Small public API (imported lazily so that reading a dataset cache does not import torch):
``load_model``, ``ChoraleModel``, ``ModelConfig``, ``plan_conditioning``, ``Conditioning``
and the token constants of :mod:`.encoding`.
"""
from __future__ import annotations

import importlib

__all__ = ["load_model", "ChoraleModel", "ModelConfig", "Conditioning", "plan_conditioning",
           "HOLD", "REST", "PITCH_OFFSET", "VOCAB_SIZE", "token_of", "pitch_of"]

_HOME = {"load_model": "checkpoint", "ChoraleModel": "model", "ModelConfig": "model",
         "Conditioning": "conditioning", "plan_conditioning": "conditioning", "HOLD": "encoding",
         "REST": "encoding", "PITCH_OFFSET": "encoding", "VOCAB_SIZE": "encoding", "token_of": "encoding",
         "pitch_of": "encoding"}


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
