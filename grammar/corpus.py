"""The When-in-Rome development corpus as phrases: one reader for the coverage benchmark and the fit.

The corpus (``../shared/data/when-in-rome/``, see its README) holds When-in-Rome analyses of
Bach chorales outside the ``test`` split; its ``manifest.json`` names each file and the split of
its chorale. :func:`development_files` refuses a manifest that lists a ``test`` chorale, so
nothing is ever written from or fitted on one. :func:`read_phrases` reads each analysis once
(reading RomanText is the slow part) into the phrases that parsing, coverage and cross-validated
fitting work on.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import InputError, Location

__all__ = ["DEVELOPMENT_CORPUS", "development_files", "read_phrases", "halves"]

#: Where the development corpus lies beside the worktrees (``/work/shared/data/when-in-rome``).
DEVELOPMENT_CORPUS = Path(__file__).resolve().parent.parent.parent.parent / "shared" / "data" / "when-in-rome"


def development_files(corpus: str | Path = DEVELOPMENT_CORPUS) -> list[Path]:
    """The corpus files in manifest order; a manifest that lists a ``test`` chorale is refused."""
    corpus = Path(corpus)
    manifest = corpus / "manifest.json"
    if not manifest.is_file():
        raise InputError("no manifest.json in the development corpus", Location(file=str(manifest)))
    files = []
    for entry in json.loads(manifest.read_text(encoding="utf-8"))["files"]:
        if entry.get("chorale_split") == "test":
            raise InputError(f"{entry['file']} is a test chorale: the development corpus must not hold one",
                             Location(file=str(manifest)))
        files.append(corpus / entry["file"])
    return files


def read_phrases(files: list[Path]) -> list[dict[str, Any]]:
    """Every phrase of every analysis: ``file``, Riemenschneider ``number``, ``measure``, ``mode`` and
    the ``tokens`` the parser reads (figures in the local key, ``@V`` where the key changes)."""
    from .analysis import plan_from_romantext
    from .parsing import phrase_tokens

    out = []
    for f in files:
        plan = plan_from_romantext(f)
        for i in range(len(plan.phrases)):
            chords = [c for c in plan.chords if c.phrase == i]
            out.append({"file": f.name, "number": int("".join(ch for ch in f.stem if ch.isdigit()) or 0),
                        "measure": plan.metre_obj.measure_beat(chords[0].onset, plan.pickup)[0],
                        "mode": "minor" if chords[0].key[0].islower() else "major",
                        "tokens": phrase_tokens(chords)})
    return out


def halves(phrases: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The corpus split by Riemenschneider number: ``odd`` and ``even`` chorales."""
    return {"odd": [p for p in phrases if p["number"] % 2 == 1], "even": [p for p in phrases if p["number"] % 2 == 0]}
