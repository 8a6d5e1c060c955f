"""An Earley parser over integer symbols that returns the most probable parse tree.

Grammars and phrases are small (a few hundred productions, 5 to 60 chords), but a phrase
is parsed for every analysis, every fitted weight and every round-trip test, so the chart
holds plain integer tuples: an item ``(production, dot, origin)``. Terminals are matched
by *sets*: each token comes with the set of terminal ids it matches (a chord matches every
terminal that names it, whatever its spelling or, for an open terminal, its inversion),
which Lark's Earley parser cannot do through its public API.

:meth:`EarleyParser.recognize` decides whether a phrase parses and, if not, where it
stopped and what was expected there. :meth:`EarleyParser.best_tree` then reads the Viterbi
tree out of the same chart: among all derivations, the one whose productions (and, for a
terminal class, matched alternatives) have the highest product of probabilities. That is
the tree :mod:`partimento.grammar.fit` counts and the derivation a parsed chord explains
itself with.

Productions must be non-empty and the grammar free of unary cycles
(:class:`~partimento.grammar.sampler.Tables` rejects both at load time).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Sequence

__all__ = ["EarleyParser", "Chart", "Node"]

NEG_INF = float("-inf")


@dataclass
class Chart:
    """What :meth:`EarleyParser.recognize` leaves for tree building: item sets per position."""

    accepted: bool
    stop: int  # index of the token where the parse got stuck (len(tokens) when it reached the end)
    expected: set[int]  # terminal ids that would have fitted at ``stop``
    items: list[set]  # items[i]: {(production, dot, origin)} after reading i tokens
    matches: list  # matches[i]: terminal ids token i matches
    start: int  # the start nonterminal


@dataclass
class Node:
    """One node of a best tree: a production over tokens ``[start, end)``, children in order.

    A child is a :class:`Node` or, for a terminal, the token's index in the phrase.
    """

    production: int
    start: int
    end: int
    children: list


class EarleyParser:
    """Earley recognition and Viterbi trees for one integer grammar.

    ``lhs[p]`` and ``rhs[p]`` describe production ``p``; symbol ids below ``n_nt`` are
    nonterminals, the rest terminals. ``log_prob[p]`` scores a production.
    """

    def __init__(self, n_nt: int, lhs: Sequence[int], rhs: Sequence[tuple[int, ...]],
                 log_prob: Sequence[float]) -> None:
        self.n_nt = n_nt
        self.lhs = list(lhs)
        self.rhs = [tuple(r) for r in rhs]
        self.log_prob = list(log_prob)
        by_lhs: dict[int, list[int]] = {}
        for p, a in enumerate(self.lhs):
            by_lhs.setdefault(a, []).append(p)
        self.by_lhs = by_lhs
        # prediction closure: the productions a nonterminal can start with, transitively
        self.closure: dict[int, tuple[int, ...]] = {}
        for x in range(n_nt):
            seen_nt = {x}
            stack = [x]
            prods: list[int] = []
            while stack:
                y = stack.pop()
                for p in by_lhs.get(y, ()):
                    prods.append(p)
                    first = self.rhs[p][0]
                    if first < n_nt and first not in seen_nt:
                        seen_nt.add(first)
                        stack.append(first)
            self.closure[x] = tuple(prods)
        # FIRST sets: the terminals a production's derivations can start with (no empty rules, so
        # those of its first symbol), for predicting only what the next token can start
        first_nt: dict[int, set[int]] = {x: set() for x in range(n_nt)}
        changed = True
        while changed:
            changed = False
            for p, body in enumerate(self.rhs):
                f = first_nt[self.lhs[p]]
                head = body[0]
                add = first_nt[head] if head < n_nt else {head}
                if not add <= f:
                    f |= add
                    changed = True
        self.first: list[frozenset[int]] = [frozenset(first_nt[b[0]] if b[0] < n_nt else {b[0]}) for b in self.rhs]
        self._predict: dict[tuple[int, frozenset], tuple[int, ...]] = {}

    # ----------------------------------------------------------------- recognition
    def recognize(self, matches: Sequence[frozenset[int]], start: int) -> Chart:
        """Run Earley over tokens given as the sets of terminal ids each one matches.

        Predictions are filtered by the next token (an item whose production cannot start
        with it can never advance), which keeps the chart to the items a parse can use;
        a phrase that does not parse is run again unfiltered, so its error names every
        terminal the grammar expected where it stopped.
        """
        chart = self._recognize(matches, start, True)
        if not chart.accepted:
            chart = self._recognize(matches, start, False)
        return chart

    def _predictions(self, x: int, m: frozenset) -> tuple[int, ...]:
        """The productions of ``closure[x]`` that can start with a terminal in ``m``."""
        key = (x, m)
        hit = self._predict.get(key)
        if hit is None:
            first = self.first
            hit = self._predict[key] = tuple(p for p in self.closure[x] if not first[p].isdisjoint(m))
        return hit

    def _recognize(self, matches: Sequence[frozenset[int]], start: int, filtered: bool) -> Chart:
        n_nt = self.n_nt
        lhs, rhs, closure = self.lhs, self.rhs, self.closure
        predictions = self._predictions
        n = len(matches)
        items: list[set] = [set() for _ in range(n + 1)]
        waiting: list[dict[int, list]] = [dict() for _ in range(n + 1)]
        nxt: list = [(p, 0, 0) for p in (predictions(start, matches[0]) if filtered and n else closure[start])]
        for i in range(n + 1):
            m_i = matches[i] if i < n else frozenset()
            seen_i = items[i]
            agenda = [it for it in nxt if it not in seen_i]
            seen_i.update(agenda)
            wait_i = waiting[i]
            predicted: set[int] = set()
            term_wait: list = []
            nxt = []
            while agenda:
                item = agenda.pop()
                p, dot, orig = item
                body = rhs[p]
                if dot == len(body):
                    for p2, d2, o2 in waiting[orig].get(lhs[p], ()):
                        it = (p2, d2 + 1, o2)
                        if it not in seen_i:
                            seen_i.add(it)
                            agenda.append(it)
                    continue
                x = body[dot]
                if x < n_nt:
                    wait_i.setdefault(x, []).append(item)
                    if x not in predicted:
                        predicted.add(x)
                        for p2 in (predictions(x, m_i) if filtered else closure[x]):
                            it = (p2, 0, i)
                            if it not in seen_i:
                                seen_i.add(it)
                                agenda.append(it)
                        # a nonterminal completed earlier at this position (no empty rules: never)
                else:
                    term_wait.append((x, item))
            if i == n:
                ok = any(lhs[p] == start and dot == len(rhs[p]) and o == 0 for p, dot, o in seen_i)
                return Chart(ok, n, {x for x, _ in term_wait}, items, list(matches), start)
            for x, (p, dot, orig) in term_wait:
                if x in m_i:
                    nxt.append((p, dot + 1, orig))
            if not nxt:
                return Chart(False, i, {x for x, _ in term_wait}, items, list(matches), start)
        raise AssertionError("unreachable")  # pragma: no cover

    # ----------------------------------------------------------------- best tree
    def best_tree(self, chart: Chart, terminal_score=None) -> tuple[float, Node]:
        """The most probable derivation of an accepted chart, as nested :class:`Node` objects.

        ``terminal_score(terminal, position)`` adds a log probability for a terminal
        matched at a token position (a chord class's alternative); default 0.
        """
        if not chart.accepted:
            raise ValueError("the phrase was not accepted")
        n = len(chart.matches)
        items = chart.items
        lhs, rhs, log_prob, n_nt = self.lhs, self.rhs, self.log_prob, self.n_nt
        # done[j][A] -> origins i with A completed over [i, j), and by which productions
        done: list[dict[int, dict[int, list[int]]]] = [dict() for _ in range(n + 1)]
        for j in range(n + 1):
            dj = done[j]
            for p, dot, o in items[j]:
                if dot == len(rhs[p]):
                    dj.setdefault(lhs[p], {}).setdefault(o, []).append(p)
        matches = chart.matches
        tscore = terminal_score or (lambda x, t: 0.0)
        memo_sym: dict[tuple[int, int, int], tuple[float, Node | None]] = {}
        memo_seq: dict[tuple[int, int, int, int], tuple[float, list]] = {}

        def best_sym(a: int, i: int, j: int) -> tuple[float, Node | None]:
            key = (a, i, j)
            hit = memo_sym.get(key)
            if hit is not None:
                return hit
            memo_sym[key] = (NEG_INF, None)  # guards against (impossible) unary cycles
            best: tuple[float, Node | None] = (NEG_INF, None)
            for p in done[j].get(a, {}).get(i, ()):
                s, kids = best_seq(p, len(rhs[p]), i, j)
                s += log_prob[p]
                if s > best[0]:
                    best = (s, Node(p, i, j, kids))
            memo_sym[key] = best
            return best

        def best_seq(p: int, k: int, i: int, j: int) -> tuple[float, list]:
            """Best derivation of rhs[p][:k] over [i, j), given item (p, k, i) at j."""
            if k == 0:
                return (0.0, []) if i == j else (NEG_INF, [])
            key = (p, k, i, j)
            hit = memo_seq.get(key)
            if hit is not None:
                return hit
            x = rhs[p][k - 1]
            best: tuple[float, list] = (NEG_INF, [])
            if x >= n_nt:
                t = j - 1
                if t >= i and x in matches[t] and (p, k - 1, i) in items[t]:
                    s, kids = best_seq(p, k - 1, i, t)
                    if s > NEG_INF:
                        best = (s + tscore(x, t), kids + [t])
            else:
                for m in done[j].get(x, {}):
                    if m < i or (p, k - 1, i) not in items[m]:
                        continue
                    s1, node = best_sym(x, m, j)
                    if node is None:
                        continue
                    s0, kids = best_seq(p, k - 1, i, m)
                    if s0 + s1 > best[0]:
                        best = (s0 + s1, kids + [node])
            memo_seq[key] = best
            return best

        limit = sys.getrecursionlimit()
        need = 200 + 20 * n
        if limit < need:
            sys.setrecursionlimit(need)
        try:
            score, root = best_sym(chart.start, 0, n)
        finally:
            if limit < need:
                sys.setrecursionlimit(limit)
        if root is None:  # pragma: no cover - an accepted chart always has a tree
            raise ValueError("no tree in an accepted chart")
        return score, root


def log_probabilities(weights: Sequence[float]) -> list[float]:
    """Normalised log probabilities of weights (zero weights get -inf)."""
    total = sum(weights)
    return [math.log(w / total) if w > 0 and total > 0 else NEG_INF for w in weights]
