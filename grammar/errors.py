"""Errors a user can cause, each carrying where it happened and what was expected.

Every layer raises a subclass of :class:`PartimentoError`. The CLI catches exactly
this family, prints :meth:`PartimentoError.describe` as one paragraph and exits with
``exit_code`` (2 for bad input, 3 for an unsatisfiable plan); anything else is a bug
and keeps its traceback.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Location",
    "PartimentoError",
    "InputError",
    "GrammarError",
    "GrammarSyntaxError",
    "PlanError",
    "ScoreError",
    "CheckpointError",
    "DataError",
    "UnsatisfiableError",
    "SearchExhausted",
]


@dataclass(frozen=True)
class Location:
    """Where in a file or score something happened; every field optional."""

    file: str | None = None
    line: int | None = None  # 1-based line in a text file (grammar, RomanText)
    column: int | None = None  # 1-based column in a text file
    measure: int | None = None  # measure number as printed in the score
    beat: float | None = None  # 1-based beat within the measure
    voice: str | None = None  # "soprano" | "alto" | "tenor" | "bass"

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file:
            parts.append(str(self.file))
        if self.line is not None:
            parts.append(f"line {self.line}" + (f", column {self.column}" if self.column is not None else ""))
        if self.measure is not None:
            parts.append(f"measure {self.measure}")
        if self.beat is not None:
            parts.append(f"beat {self.beat:g}")
        if self.voice:
            parts.append(f"voice {self.voice}")
        return ", ".join(parts)


class PartimentoError(Exception):
    """Base of every error a user can cause; the CLI exits with ``exit_code``."""

    exit_code: int = 2

    def __init__(self, message: str, location: Location | None = None, *,
                 expected: list[str] | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location or Location()
        self.expected = list(expected or [])
        self.hint = hint

    def describe(self) -> str:
        """One readable paragraph: where, what, what was expected, what to do (each a sentence)."""
        where = str(self.location)
        text = _sentence(f"{where}: {self.message}" if where else self.message)
        if self.expected:
            more = " …" if len(self.expected) > 20 else ""
            text += " Expected one of: " + ", ".join(str(e) for e in self.expected[:20]) + more + "."
        if self.hint:
            text += " " + _sentence(self.hint)
        return text

    def __str__(self) -> str:
        return self.describe()


def _sentence(text: str) -> str:
    """``text`` ending as a sentence (a full stop added unless it ends in one already), so that
    sentences joined into one paragraph never run together ("4/4 Try another")."""
    text = str(text).rstrip()
    if text and text[-1] not in ".!?…:\n":
        text += "."
    return text


class InputError(PartimentoError):
    """A bad argument or option value (unknown key, bars=0, a missing file)."""


class GrammarError(PartimentoError):
    """A grammar that cannot be used: unknown name, non-productive rule, bad weights."""


class GrammarSyntaxError(GrammarError):
    """A ``.lark`` file Lark cannot read; carries line and column."""


class PlanError(PartimentoError):
    """A plan or analysis that cannot be read or used (unknown chord figure, empty phrase)."""


class ScoreError(PartimentoError):
    """A score that cannot be read or checked (not four voices, empty, unreadable)."""


class CheckpointError(PartimentoError):
    """A missing or corrupt checkpoint, or a config that does not match its weights."""


class DataError(PartimentoError):
    """A dataset cache that is missing, stale (older code version) or empty."""


class UnsatisfiableError(PartimentoError):
    """The plan cannot be realized under the hard rules; names the spot and the rules."""

    exit_code = 3

    def __init__(self, message: str, location: Location | None = None, *,
                 rules: list[str] | None = None, hint: str | None = None) -> None:
        super().__init__(message, location, hint=hint)
        self.rules = list(rules or [])

    def describe(self) -> str:
        text = super().describe()
        if self.rules:
            text += " Conflicting rules: " + ", ".join(self.rules) + "."
        return text


class SearchExhausted(UnsatisfiableError):
    """The decoder's search ran out of its backtracking budget on a plan the up-front check let through.

    Unlike a refusal (a chord no voice can write, found before decoding), this says only
    that this seed's search did not find a setting: another seed may. ``infill`` and
    ``harmonize`` start again from seeds derived from the caller's before they give up.
    """

