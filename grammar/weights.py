"""Rule weights: reading, writing and applying ``weights.json`` files.

A weights file is plain JSON keyed by rule name and by the alternative's symbols as
written in the grammar (literals in double quotes), so it survives reordering of the
``.lark`` file and a theorist can read it::

    {"grammar": "harmony",
     "weights": {"tr": {"t": 40.0, "tr tr": 12.0, "dr tr": 31.0},
                 "dom_root": {"\\"V\\"": 50.0, "\\"V7\\"": 21.0}}}

Weights are relative within a rule (the sampler normalises them); a rule or
alternative the file does not name keeps the weight from the grammar file's ``w=``
annotation. ``partimento grammar fit`` writes such files from corpus counts.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import GrammarError, InputError, Location

__all__ = ["read_weights", "apply_weights", "weights_of", "write_weights"]


def read_weights(path: str | Path, text: str | None = None) -> dict[str, dict[str, float]]:
    """The ``weights`` mapping of a weights file (``text``: its contents, when the caller has read them);
    errors name the file and line."""
    path = Path(path)
    if text is None and not path.is_file():
        raise InputError("no such weights file", Location(file=str(path)))
    try:
        data = json.loads(path.read_text(encoding="utf-8") if text is None else text)
    except json.JSONDecodeError as e:
        raise GrammarError(f"the weights file is not valid JSON: {e.msg}",
                           Location(file=str(path), line=e.lineno, column=e.colno)) from None
    weights = data.get("weights") if isinstance(data, dict) else None
    if not isinstance(weights, dict):
        raise GrammarError("a weights file needs a 'weights' object keyed by rule name", Location(file=str(path)))
    return weights


def apply_weights(source, weights: dict[str, dict[str, Any]]) -> None:
    """Set alternative weights in a grammar source from a weights mapping (in place)."""
    for rule, alts in weights.items():
        r = source.rules.get(rule)
        if r is None:
            raise GrammarError(f"the weights name rule {rule!r}, which the grammar {source.name} does not have",
                               Location(file=source.path), expected=sorted(source.rules)[:20])
        if not isinstance(alts, dict):
            raise GrammarError(f"weights of rule {rule} must map alternatives to numbers")
        by_text: dict[str, list] = {}
        for a in r.alternatives:
            by_text.setdefault(a.text, []).append(a)
        for text, w in alts.items():
            if text not in by_text:
                raise GrammarError(f"rule {rule} has no alternative {text!r}", Location(file=source.path, line=r.line),
                                   expected=sorted(by_text))
            try:
                value = float(w)
            except (TypeError, ValueError):
                raise GrammarError(f"weight of {rule}: {text} is not a number") from None
            if value < 0:
                raise GrammarError(f"weight of {rule}: {text} is negative")
            for a in by_text[text]:
                a.weight = value / len(by_text[text])


def weights_of(source) -> dict[str, dict[str, float]]:
    """The current weights of a grammar source as a weights mapping."""
    out: dict[str, dict[str, float]] = {}
    for r in source.rules.values():
        d: dict[str, float] = {}
        for a in r.alternatives:
            d[a.text] = d.get(a.text, 0.0) + a.weight
        out[r.name] = d
    return out


def write_weights(path: str | Path, grammar_name: str, weights: dict[str, dict[str, float]],
                  extra: dict[str, Any] | None = None) -> Path:
    """Write a weights file atomically."""
    from .fileio import write_text_atomic

    data = {"grammar": grammar_name, "weights": weights}
    if extra:
        data.update(extra)
    return write_text_atomic(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
