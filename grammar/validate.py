"""``partimento grammar check``: everything wrong with a user's grammar, each with its line.

Checks, in order: Lark syntax (line and column from Lark), the sampler's subset and
annotations, rules that are used but not defined, unreachable rules (from ``start``
and from the phrase rule ``parse`` uses), non-productive rules (never finish), rules
whose length is unbounded (unary cycles), and chord literals that music21 cannot read
as Roman numerals in the mode they are used in.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import GrammarError, Location, PartimentoError, PlanError, _sentence

__all__ = ["Issue", "check_grammar"]


@dataclass
class Issue:
    """One finding: ``error`` stops the grammar from loading, ``warning`` does not."""

    severity: str  # "error" | "warning"
    kind: str  # "syntax", "undefined", "unreachable", "non-productive", "unbounded", "roman-numeral", ...
    message: str
    location: Location

    def __str__(self) -> str:
        where = str(self.location)
        return f"{where}: {self.severity}: {self.kind}: {self.message}" if where else f"{self.severity}: {self.kind}: {self.message}"


def check_grammar(path: str | Path) -> list[Issue]:
    """All issues of a ``.lark`` file (an empty list means it loads, samples and parses)."""
    from .grammar import Grammar, _resolve, read_source
    from .sampler import is_chord_literal, literal_value
    from .theory import chord_identity

    name, file, text = _resolve(path)
    try:
        source = read_source(text, name, file)
    except GrammarError as e:
        kind = "syntax" if type(e).__name__ == "GrammarSyntaxError" else "annotation"
        expected = (" Expected one of: " + ", ".join(e.expected) + ".") if e.expected else ""
        return [Issue("error", kind, _sentence(e.message) + expected + (" " + _sentence(e.hint) if e.hint else ""), e.location)]
    issues: list[Issue] = []
    rules = source.rules
    for r in rules.values():
        for a in r.alternatives:
            for s in a.symbols:
                if not s.startswith('"') and s not in rules:
                    issues.append(Issue("error", "undefined", f"rule {r.name} uses {s}, which is not defined",
                                        Location(file=file, line=a.line)))
    # reachability from start and from the parse start
    reach: set[str] = set()
    stack = [n for n in (source.start, source.parse_start) if n in rules]
    while stack:
        n = stack.pop()
        if n in reach:
            continue
        reach.add(n)
        for a in rules[n].alternatives:
            stack.extend(s for s in a.symbols if s in rules)
    for r in rules.values():
        if r.name not in reach:
            issues.append(Issue("warning", "unreachable",
                                f"rule {r.name} cannot be reached from '{source.start}' or '{source.parse_start}'",
                                Location(file=file, line=r.line)))
    # productivity
    productive: set[str] = set()
    changed = True
    while changed:
        changed = False
        for r in rules.values():
            if r.name not in productive and any(
                    all(s.startswith('"') or s in productive for s in a.symbols) for a in r.alternatives):
                productive.add(r.name)
                changed = True
    for r in rules.values():
        if r.name not in productive:
            issues.append(Issue("error", "non-productive",
                                f"rule {r.name} never finishes: every alternative leads back to an unfinished rule",
                                Location(file=file, line=r.line)))
    # Roman numerals: every chord literal must be one music21 reads, in each mode it is used in
    seen: set[tuple[str, str, int]] = set()
    for r in rules.values():
        for a in r.alternatives:
            for i, s in enumerate(a.symbols):
                if not is_chord_literal(s):
                    continue
                fig = literal_value(s)
                col = a.columns[i] if i < len(a.columns) else 0
                modes = [a.mode] if a.mode else ["major", "minor"]
                for mode in modes:
                    if (fig, mode, a.line) in seen:
                        continue
                    seen.add((fig, mode, a.line))
                    if chord_identity(fig, mode) is None:
                        issues.append(Issue("error", "roman-numeral",
                                            f"{fig!r} (rule {r.name}) is not a Roman numeral music21 can read "
                                            f"in {mode}", Location(file=file, line=a.line, column=col or None)))
                        break
    if not any(i.severity == "error" for i in issues):
        try:
            Grammar(source)
        except PartimentoError as e:
            kind = "unbounded" if "unbounded" in e.message else "structure"
            issues.append(Issue("error", kind, e.message, e.location))
    return issues
