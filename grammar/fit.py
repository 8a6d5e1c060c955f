"""Learning rule weights from a corpus: count the alternatives that parses use.

Each phrase of each analysis is parsed with the grammar; every node of a parse tree
names the rule alternative it used (see :mod:`partimento.grammar.parsing`), and the
counts plus a smoothing pseudo-count become relative weights — the maximum-likelihood
PCFG estimate from the parsed phrases. Phrases that do not parse are reported and
contribute nothing. Ambiguous phrases count the one tree Lark's Earley parser resolves
to.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from lark import Tree

from .errors import InputError, Location
from .parsing import ParseResult, alternative_of

__all__ = ["FitResult", "count_alternatives", "fit_weights"]


@dataclass
class FitResult:
    """Learned weights with the evidence behind them."""

    grammar: str
    weights: dict[str, dict[str, float]]
    counts: dict[str, dict[str, int]]
    phrases: int = 0
    parsed: int = 0
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"grammar": self.grammar, "weights": self.weights, "counts": self.counts,
                "phrases": self.phrases, "parsed": self.parsed, "files": self.files}


def count_alternatives(grammar, trees: Iterable[Tree]) -> Counter:
    """(rule, alternative index) -> number of uses in the given parse trees.

    Every node of a tree names the alternative it used, chord classes included (the node
    above a chord names the figure of the class it matched).
    """
    names = grammar._parser.rule_names
    counts: Counter = Counter()
    for tree in trees:
        if tree is None:
            continue
        for node in tree.iter_subtrees():
            alt = alternative_of(node.data)
            if alt is not None and alt[0] in names:
                counts[(names[alt[0]], alt[2])] += 1
    return counts


def fit_weights(grammar, corpus: Iterable[Any], smoothing: float = 0.5) -> FitResult:
    """Parse every analysis in ``corpus`` (paths, RomanText, streams) and count alternatives.

    ``smoothing`` is added to every alternative's count so that alternatives the corpus
    never uses stay possible (set 0 to forbid them).
    """
    if smoothing < 0:
        raise InputError("smoothing must be non-negative")
    results: list[ParseResult] = []
    files: list[str] = []
    for item in corpus:
        results.append(grammar.parse(item))
        for p in results[-1].phrases:
            p.tree  # noqa: B018 - build the Lark tree now (counting needs it)
        files.append(str(item) if isinstance(item, (str, Path)) else type(item).__name__)
    if not results:
        raise InputError("no corpus files given", expected=["FILE.rntxt ..."])
    counts = count_alternatives(grammar, (p.tree for r in results for p in r.phrases))
    weights: dict[str, dict[str, float]] = {}
    table: dict[str, dict[str, int]] = {}
    for rule in grammar.rules.values():
        if not any(counts.get((rule.name, a.index), 0) for a in rule.alternatives):
            continue  # no evidence (e.g. form rules above phrases): keep the grammar's own weights
        w: dict[str, float] = {}
        c: dict[str, int] = {}
        for a in rule.alternatives:
            n = counts.get((rule.name, a.index), 0)
            c[a.text] = c.get(a.text, 0) + n
            w[a.text] = w.get(a.text, 0.0) + n + smoothing
        weights[rule.name] = w
        table[rule.name] = c
    n_phr = sum(len(r.phrases) for r in results)
    n_ok = sum(p.parsed for r in results for p in r.phrases)
    return FitResult(grammar.name, weights, table, n_phr, n_ok, files)
