"""The tail the grammar benchmarks share: write the result JSON and say where it went.

``grammar_speed.py``, ``grammar_speed_compare.py``, ``grammar_plan_quality.py`` and
``grammar_coverage.py`` each end by writing one JSON file under ``benchmarks/results``;
this writes it atomically (a run stopped half-way leaves the previous file, not half a
file) in the one layout they use (indent 1, a final newline) and prints the path.
"""
from __future__ import annotations

import json
from pathlib import Path

from partimento.grammar.fileio import write_text_atomic

__all__ = ["write_result"]


def write_result(out: str | Path, result: dict, *, ensure_ascii: bool = True, note: str = "") -> Path:
    """Write ``result`` to ``out`` (folders made as needed) and print ``wrote OUT`` plus ``note``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(result, indent=1, ensure_ascii=ensure_ascii) + "\n")
    print(f"wrote {out}{' ' + note if note else ''}")
    return out
