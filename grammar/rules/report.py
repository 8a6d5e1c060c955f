"""A checked score's violations, as objects, text lines or JSON, each able to draw its bar."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..theory import VOICES
from .base import REST, Context, Severity, SonorityArray, Violation
from .spelling import note_name

__all__ = ["Report"]


@dataclass
class Report:
    """Every violation found in one score under one profile, in score order."""

    file: str | None
    profile: str
    violations: list[Violation]
    sonorities: SonorityArray = field(repr=False)
    ctx: Context = field(repr=False)
    parsed: Any = field(default=None, repr=False)  # sonority.ParsedScore when read with music21

    def __post_init__(self) -> None:
        for v in self.violations:
            v.context_source = self
            v.file = self.file

    def _repr_html_(self) -> str:
        """Jupyter: the score with each violation's notes coloured and the rule named."""
        from partimento.hybrid.render import report_html

        return report_html(self)

    @property
    def errors(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == Severity.ERROR]

    @property
    def warnings(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == Severity.WARNING]

    @property
    def ok(self) -> bool:
        """True when no error (warnings allowed)."""
        return not self.errors

    def counts(self) -> dict[str, int]:
        """Number of violations per rule id."""
        out: dict[str, int] = {}
        for v in self.violations:
            out[v.rule] = out.get(v.rule, 0) + 1
        return out

    def to_dict(self) -> dict:
        return {"file": self.file, "profile": self.profile, "violations": [v.to_dict() for v in self.violations]}

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def text_lines(self) -> list[str]:
        """``file:measure:beat rule voices — message``, one per violation."""
        name = self.file or "<score>"
        return [f"{name}:{v.measure}:{v.beat:g} {v.rule} {','.join(v.voices)} — {v.message}"
                + ("" if v.severity == Severity.ERROR else f" ({v.severity.value})")
                for v in self.violations]

    def bar_text(self, v: Violation) -> str:
        """The bar of ``v`` as a grid: one column per sonority, one line per voice, the spot marked."""
        s = self.sonorities
        rows = np.flatnonzero(s.measure == v.measure)
        if len(rows) == 0:
            rows = np.asarray([v.index])
        header = f"{self.file or '<score>'}, measure {v.measure}, beat {v.beat:g}: {v.rule} ({', '.join(v.voices)}) — {v.message}"
        cells = []
        for i in rows:
            k = self.ctx.keys[int(i)]
            col = []
            for voice in range(4):
                x = int(s.pitch[i, voice])
                txt = "—" if x == REST else (note_name(x, k) if s.attack[i, voice] else "~")
                if int(i) == v.index and VOICES[voice] in v.voices:
                    txt = f"[{txt if txt != '~' else note_name(x, k)}]"
                col.append(txt)
            cells.append((f"{s.beat[i]:g}", col))
        width = max(6, max(len(c) for _, col in cells for c in col) + 1, max(len(b) for b, _ in cells) + 1)
        lines = [header, "beat     " + "".join(b.ljust(width) for b, _ in cells)]
        for voice in range(4):
            lines.append(f"{VOICES[voice]:<9}" + "".join(col[voice].ljust(width) for _, col in cells))
        mark = "".join(("^" if int(i) == v.index else " ").ljust(width) for i in rows)
        lines.append(" " * 9 + mark.rstrip())
        return "\n".join(lines)
