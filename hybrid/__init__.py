"""The hybrid layer: grammar plans realized by the model under the rules' masks.

``from partimento.hybrid import compose, harmonize, realize, infill, Result``. Names are
imported on first use so that ``import partimento.hybrid.cli`` stays fast (torch and
music21 load only when music is actually made).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["compose", "harmonize", "realize", "infill", "Result"]

if TYPE_CHECKING:  # pragma: no cover
    from .api import compose, harmonize, infill, realize
    from .result import Result


def __getattr__(name: str) -> Any:
    if name in ("compose", "harmonize", "realize", "infill"):
        from . import api

        return getattr(api, name)
    if name == "Result":
        from .result import Result

        return Result
    raise AttributeError(f"module 'partimento.hybrid' has no attribute {name!r}")
