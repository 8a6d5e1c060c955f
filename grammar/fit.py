"""Learning rule weights from a corpus: count the alternatives that parses use.

Each phrase of each analysis is parsed with the grammar; every node of a parse tree
names the rule alternative it used (see :mod:`partimento.grammar.parsing`), and the
counts plus a smoothing pseudo-count become relative weights — the maximum-likelihood
PCFG estimate from the parsed phrases. Phrases that do not parse are reported and
contribute nothing. Ambiguous phrases count their most probable (Viterbi) tree.

**Smoothing.** An alternative the corpus never uses would get weight 0, and an alternative
of weight 0 is outside the language (the sampler never draws it, so the parser does not
accept it either). So a pseudo-count is added: ``smoothing`` per alternative on average,
spread either evenly (``prior="uniform"``, add-k) or in proportion to the weights written
in the grammar (``prior="written"``, a back-off to what the theorist wrote). How much is
chosen by cross-validation between two halves of a corpus
(:func:`cross_validate_smoothing`): fit on one half, score the other half's phrases by the
log probability of their most probable parse, swap.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from lark import Tree

from .errors import InputError, Location
from .parsing import ParseResult, alternative_of

__all__ = ["FitResult", "PRIORS", "SMOOTHING_CANDIDATES", "count_alternatives", "count_phrases", "smoothed_weights", "fit_weights",
           "heldout_log_likelihood", "cross_validate_smoothing"]

PRIORS = ("uniform", "written")
#: Pseudo-counts per alternative that :func:`cross_validate_smoothing` compares by default.
SMOOTHING_CANDIDATES = (0.0, 0.03, 0.1, 0.3, 0.5, 1.0, 2.0, 3.0, 10.0)


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


def count_phrases(grammar, phrases: Iterable[dict[str, Any]]) -> tuple[Counter, int]:
    """Alternative counts of the most probable trees of phrases given as ``{"tokens", "mode"}``
    (see :func:`partimento.grammar.corpus.read_phrases`), and how many parsed."""
    parser = grammar._parser
    trees = []
    for p in phrases:
        if parser.parse_tokens(p["tokens"], p["mode"])[0]:
            trees.append(parser.tree(p["tokens"], p["mode"]))
    return count_alternatives(grammar, trees), len(trees)


def smoothed_weights(grammar, counts: Counter, smoothing: float, prior: str = "uniform") -> dict[str, dict[str, float]]:
    """Weights from counts plus pseudo-counts, for every rule the counts touch (module docstring).

    An alternative gets ``count + smoothing * share``, where ``share`` is 1 (``uniform``) or
    its written weight over the rule's mean written weight (``written``; the grammar given
    must carry its written weights, ``load(name, weights=False)``). Rules without evidence are
    left out, so they keep the grammar's own weights.
    """
    if smoothing < 0:
        raise InputError("smoothing must be non-negative")
    if prior not in PRIORS:
        raise InputError(f"unknown prior {prior!r}", expected=list(PRIORS))
    weights: dict[str, dict[str, float]] = {}
    for rule in grammar.rules.values():
        if not any(counts.get((rule.name, a.index), 0) for a in rule.alternatives):
            continue  # no evidence (e.g. form rules above phrases): keep the grammar's own weights
        written = [a.weight for a in rule.alternatives]
        mean = sum(written) / len(written)
        w: dict[str, float] = {}
        for a in rule.alternatives:
            share = 1.0 if prior == "uniform" or mean <= 0 else a.weight / mean
            w[a.text] = w.get(a.text, 0.0) + counts.get((rule.name, a.index), 0) + smoothing * share
        weights[rule.name] = w
    return weights


def fit_weights(grammar, corpus: Iterable[Any], smoothing: float = 0.5, prior: str = "uniform") -> FitResult:
    """Parse every analysis in ``corpus`` (paths, RomanText, streams) and count alternatives.

    ``smoothing`` pseudo-counts are added per alternative (spread by ``prior``, see
    :func:`smoothed_weights`) so that alternatives the corpus never uses stay possible (set 0
    to forbid them).
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
    weights = smoothed_weights(grammar, counts, smoothing, prior)
    table: dict[str, dict[str, int]] = {}
    for name in weights:
        c: dict[str, int] = {}
        for a in grammar.rules[name].alternatives:
            c[a.text] = c.get(a.text, 0) + counts.get((name, a.index), 0)
        table[name] = c
    n_phr = sum(len(r.phrases) for r in results)
    n_ok = sum(p.parsed for r in results for p in r.phrases)
    return FitResult(grammar.name, weights, table, n_phr, n_ok, files)


def heldout_log_likelihood(grammar, phrases: list[dict[str, Any]]) -> dict[str, Any]:
    """How well a weighted grammar predicts phrases it was not fitted on: the log probability of
    each phrase's most probable parse, summed (nats), per chord, and the phrases it cannot parse."""
    parser = grammar._parser
    total, chords, unparsed = 0.0, 0, 0
    for p in phrases:
        score = parser.best_log_prob(p["tokens"], p["mode"])
        if score is None:
            unparsed += 1
            continue
        total += score
        chords += sum(1 for t in p["tokens"] if not t.startswith("@"))
    return {"phrases": len(phrases), "parsed": len(phrases) - unparsed, "unparsed": unparsed,
            "log_prob": total, "nats_per_chord": -total / chords if chords else None}


def cross_validate_smoothing(grammar, halves: dict[str, list[dict[str, Any]]],
                             candidates: Iterable[float] = SMOOTHING_CANDIDATES,
                             priors: Iterable[str] = PRIORS) -> dict[str, Any]:
    """Choose the smoothing (amount and prior) by two-fold cross-validation.

    ``grammar`` carries its written weights; ``halves`` maps two names to phrase lists. For
    every candidate, weights are fitted on one half and the other half is scored
    (:func:`heldout_log_likelihood`), then the halves swap. The best candidate parses the most
    held-out phrases, then has the highest held-out log probability of the phrases that every
    candidate parses (so a candidate that drops a phrase is not rewarded for dropping it).
    """
    (a_name, a), (b_name, b) = list(halves.items())
    counts = {a_name: count_phrases(grammar, a)[0], b_name: count_phrases(grammar, b)[0]}
    folds = ((a_name, b_name, b), (b_name, a_name, a))
    table = []
    for prior in priors:
        for k in candidates:
            entry: dict[str, Any] = {"prior": prior, "smoothing": k, "parsed": 0, "phrases": 0, "_scores": {}}
            for fit_on, measure_on, held in folds:
                weighted = grammar.with_weights(smoothed_weights(grammar, counts[fit_on], k, prior))
                scores = [weighted._parser.best_log_prob(p["tokens"], p["mode"]) for p in held]
                parsed = sum(s is not None for s in scores)
                entry[f"{fit_on}->{measure_on}"] = {"parsed": parsed, "phrases": len(scores)}
                entry["parsed"] += parsed
                entry["phrases"] += len(scores)
                entry["_scores"][f"{fit_on}->{measure_on}"] = scores
            table.append(entry)
    if not table:
        raise InputError("no smoothing candidates to compare")
    # compare log probabilities among the candidates that parse the most held-out phrases, over
    # the phrases all of those parse
    most = max(e["parsed"] for e in table)
    contenders = [e for e in table if e["parsed"] == most]
    for e in table:
        total = 0.0
        for fold, scores in e["_scores"].items():
            for i, s in enumerate(scores):
                if all(c["_scores"][fold][i] is not None for c in contenders):
                    total += s if s is not None else float("-inf")
        e["held_out_log_prob"] = total
    best = max(contenders, key=lambda e: e["held_out_log_prob"])
    for e in table:
        del e["_scores"]
    return {"table": table, "best": {"prior": best["prior"], "smoothing": best["smoothing"]},
            "criterion": "most held-out phrases parsed, then the highest held-out log probability (nats) of the "
                         "phrases that every such candidate parses"}
