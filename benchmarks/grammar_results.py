"""The tail the grammar benchmarks share: write the result JSON and say where it went.

``grammar_speed.py``, ``grammar_speed_compare.py``, ``grammar_plan_quality.py`` and
``grammar_coverage.py`` each end by writing one JSON file under ``benchmarks/results``;
this writes it atomically (a run stopped half-way leaves the previous file, not half a
file) in the one layout they use (indent 1, a final newline) and prints the path.
"""
from __future__ import annotations

import json
import resource
from pathlib import Path

from partimento.grammar.fileio import write_text_atomic

__all__ = ["write_result", "children_cpu_seconds"]


def write_result(out: str | Path, result: dict, *, ensure_ascii: bool = True, note: str = "") -> Path:
    """Write ``result`` to ``out`` (folders made as needed) and print ``wrote OUT`` plus ``note``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(result, indent=1, ensure_ascii=ensure_ascii) + "\n")
    print(f"wrote {out}{' ' + note if note else ''}")
    return out


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's finished child processes (the CLI runs timed)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
