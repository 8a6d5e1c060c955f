"""Sampling plans from a weighted grammar, with the target length honoured exactly.

Lark parses but does not sample, so this module reads the grammar as a probabilistic
context-free grammar (alternative weights normalised per rule; chord durations in
beats drawn from the grammar's duration weights) and samples top-down *conditioned on
length*, as in Kulitta: key, mode, duration and phrase length pass down the
derivation. ``Z[symbol, mode, final][n]`` — the probability that a symbol yields
exactly ``n`` beats — is solved once per grammar and metre (an inside computation over
lengths); each step then draws an alternative and a split of its length in proportion
to those numbers, so every draw finishes with exactly the requested length.
Termination is guaranteed because every alternative yields at least one chord and
unary cycles are rejected at load time. Above phrases the unit is the bar: phrase
rules carry a ``bars=`` distribution and the form rules split the piece into them.
One surface rule is not syntax: a seventh in the bass must be followed by a bass a step
below (:mod:`partimento.grammar.bass_line`). The chord drawn after such a chord is drawn
among the figures of its class that keep the rule (``V2`` then a tonic: ``I6``), and a
phrase that still breaks it (no figure of the class can) is drawn again.
"""
from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import numpy as np

from .bass_line import bass_step_ok, first_unresolved_bass_seventh, seventh_in_bass
from .errors import GrammarError, InputError, Location
from .metre import parse_metre
from .plan import ChordEvent, Phrase, Plan, Section
from .plan_values import MAX_BARS
from .theory import normalize_key

__all__ = ["Tables", "sample_plan", "derivation_graph", "relative_key", "key_relation", "is_chord_literal", "literal_value"]

_NUMERALS = ("I", "II", "III", "IV", "V", "VI", "VII")
_LETTERS = "CDEFGAB"
_LETTER_PC = (0, 2, 4, 5, 7, 9, 11)
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
MODES = ("major", "minor")
DEFAULT_PHRASE_BARS = {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0, 6: 1.0, 7: 1.0, 8: 1.0}
PHRASE_DRAWS = 200  # draws of one phrase before giving up on the bass-line rule (a rare draw breaks it)
CONSTRAINTS = ("phrase_bars", "modulate")


def literal_value(sym: str) -> str:
    return sym[1:-1]


def is_literal(sym: str) -> bool:
    return sym.startswith('"')


def is_chord_literal(sym: str) -> bool:
    return sym.startswith('"') and not sym.startswith('"@')


def _split_key(name: str) -> tuple[int, int, bool]:
    """(letter index, pitch class, minor) of a music21 key name."""
    k = normalize_key(name)
    letter = _LETTERS.index(k[0].upper())
    pc = (_LETTER_PC[letter] + k.count("#") - k.count("-")) % 12
    return letter, pc, k[0].islower()


@lru_cache(maxsize=None)
def relative_key(key: str, numeral: str) -> str:
    """The key on ``numeral`` of ``key``: ``relative_key("C", "V") == "G"``, ``("a", "III") == "C"``.

    Case gives the new key's mode; ``b``/``#`` prefixes alter the degree.
    """
    letter, pc, minor = _split_key(key)
    text = numeral.lstrip("@")
    acc = 0
    while text and text[0] in "b#-":
        acc += 1 if text[0] == "#" else -1
        text = text[1:]
    try:
        degree = _NUMERALS.index(text.upper())
    except ValueError:
        raise GrammarError(f"key={numeral} is not a Roman numeral of a key", expected=list(_NUMERALS)) from None
    new_minor = text.islower()
    scale = _MINOR if minor else _MAJOR
    new_pc = (pc + scale[degree] + acc) % 12
    new_letter = (letter + degree) % 7
    diff = (new_pc - _LETTER_PC[new_letter] + 6) % 12 - 6
    if abs(diff) > 2:
        raise GrammarError(f"key {numeral} of {key} cannot be spelled")
    name = _LETTERS[new_letter] + ("#" * diff if diff > 0 else "-" * -diff)
    return name.lower() if new_minor else name


@lru_cache(maxsize=None)
def key_relation(old: str, new: str) -> str:
    """The inverse of :func:`relative_key`: ``key_relation("C", "G") == "V"``."""
    letter, pc, minor = _split_key(old)
    nletter, npc, nminor = _split_key(new)
    degree = (nletter - letter) % 7
    scale = _MINOR if minor else _MAJOR
    acc = (npc - pc - scale[degree] + 6) % 12 - 6
    numeral = _NUMERALS[degree]
    numeral = numeral.lower() if nminor else numeral
    return ("#" * acc if acc > 0 else "b" * -acc) + numeral


def _mode_of_numeral(numeral: str) -> int:
    text = numeral.lstrip("@b#-")
    return 1 if text[:1].islower() else 0


def _normalise(weights: dict[int, float], cap: int | None = None) -> dict[int, float]:
    """Weights as probabilities; lengths above ``cap`` count as ``cap`` (a chord fills the bar)."""
    items: dict[int, float] = {}
    for n, w in weights.items():
        n = n if cap is None else min(n, cap)
        items[n] = items.get(n, 0.0) + w
    total = sum(items.values())
    return {n: w / total for n, w in items.items()} if total > 0 else {}


class Tables:
    """Length tables of one grammar, solved lazily per (beats per bar, maximum length)."""

    def __init__(self, source) -> None:
        self.source = source
        self.rules = source.rules
        self._check_structure()
        self._beat_cache: dict[tuple, dict] = {}
        self._cdf_cache: dict[tuple, tuple[list[float], list[Any]]] = {}

    # ----------------------------------------------------------------- load-time checks
    def _check_structure(self) -> None:
        src = self.source
        rules = self.rules
        file = src.path
        for r in rules.values():
            for a in r.alternatives:
                for s in a.symbols:
                    if not is_literal(s) and s not in rules:
                        raise GrammarError(f"rule {r.name} uses {s}, which is not defined",
                                           Location(file=file, line=a.line))
                if a.key:
                    relative_key("C", a.key)  # raises for a bad numeral
                for s in a.symbols:
                    if s.startswith('"@') and (a.key is None or literal_value(s)[1:] != a.key or a.symbols[0] != s):
                        raise GrammarError(f"rule {r.name}: key-change marker {s} must open an alternative "
                                           f"annotated key={literal_value(s)[1:]}", Location(file=file, line=a.line))
                if a.cadence and a.cadence not in ("PAC", "IAC", "HC", "DC", "PC"):
                    raise GrammarError(f"unknown cadence {a.cadence}", Location(file=file, line=a.line),
                                       expected=["PAC", "IAC", "HC", "DC", "PC"])
        if src.start not in rules:
            raise GrammarError(f"the grammar has no rule '{src.start}' to sample from", Location(file=file))
        if src.parse_start not in rules:
            raise GrammarError(f"the grammar has no rule '{src.parse_start}' to parse phrases with",
                               Location(file=file))
        if not any(r.phrase for r in rules.values()):
            raise GrammarError("no rule is marked '// @phrase'", Location(file=file),
                               hint="Mark the rules that make one phrase with a comment line '// @phrase' above them.")
        # productive symbols (derive some chord string)
        productive: set[str] = set()
        changed = True
        while changed:
            changed = False
            for r in rules.values():
                if r.name in productive:
                    continue
                if any(all(is_literal(s) or s in productive for s in a.symbols) for a in r.alternatives):
                    productive.add(r.name)
                    changed = True
        bad = [n for n in rules if n not in productive]
        if bad:
            r = rules[bad[0]]
            raise GrammarError(f"rule {r.name} is non-productive: it never finishes (every alternative "
                               f"leads back to an unfinished rule)", Location(file=file, line=r.line),
                               expected=None, hint="Non-productive rules: " + ", ".join(bad) + ".")
        # unary cycles: A -> B (plus key markers) -> A adds no chord: unbounded
        graph: dict[str, set[str]] = {n: set() for n in rules}
        for r in rules.values():
            for a in r.alternatives:
                body = [s for s in a.symbols if not s.startswith('"@')]
                if len(body) == 1 and not is_literal(body[0]):
                    graph[r.name].add(body[0])
        state: dict[str, int] = {}

        def visit(n: str, path: list[str]) -> None:
            state[n] = 1
            for m in graph[n]:
                if state.get(m) == 1:
                    cyc = path[path.index(m):] + [m] if m in path else [n, m]
                    raise GrammarError(f"rule {m} can derive itself without adding a chord ("
                                       + " -> ".join(cyc) + "): its length is unbounded",
                                       Location(file=file, line=rules[m].line))
                if state.get(m) is None:
                    visit(m, path + [m])
            state[n] = 2

        for n in rules:
            if n not in state:
                visit(n, [n])
        # form level: rules reachable from start without crossing a phrase rule
        self.form_rules: list[str] = []
        seen: set[str] = set()
        stack = [src.start] if not rules[src.start].phrase else []
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            self.form_rules.append(n)
            for a in rules[n].alternatives:
                for s in a.symbols:
                    if is_literal(s):
                        raise GrammarError(f"form rule {n} names the chord {s}; above phrases only phrase "
                                           f"rules and form rules may appear", Location(file=file, line=a.line),
                                           hint="Mark the rule that makes a phrase with '// @phrase'.")
                    if not rules[s].phrase:
                        stack.append(s)
        self.beat_rules = [n for n in rules if n not in seen]

    # ----------------------------------------------------------------- solving
    def _children_first(self) -> list[str]:
        """Rules in depth-first post-order, so a sweep of the fixpoint sees fresh child values."""
        order: list[str] = []
        seen: set[str] = set()
        for root in self.rules:
            stack = [(root, iter(()))] if root in seen else [(root, None)]
            if root in seen:
                continue
            seen.add(root)
            stack = [(root, iter([s for a in self.rules[root].alternatives for s in a.symbols
                                  if not is_literal(s)]))]
            while stack:
                node, it = stack[-1]
                child = next(it, None)
                if child is None:
                    stack.pop()
                    order.append(node)
                elif child not in seen:
                    seen.add(child)
                    stack.append((child, iter([s for a in self.rules[child].alternatives for s in a.symbols
                                               if not is_literal(s)])))
        return order

    def _alt_prob(self, r, mode: int, allow_key: bool) -> list[tuple[Any, float]]:
        active = [a for a in r.alternatives if (a.mode is None or a.mode == MODES[mode])
                  and (allow_key or a.key is None) and a.weight > 0]
        total = sum(a.weight for a in active)
        return [(a, a.weight / total) for a in active] if total > 0 else []

    def beat_tables(self, n_max: int, allow_key: bool = True, beats_per_bar: int = 4) -> dict:
        """Solve Z[(symbol, mode, final)] for lengths 0..n_max beats (cached).

        A phrase's last chord lasts at most one bar, so it starts inside the phrase's last bar.
        """
        ck = (n_max, allow_key, beats_per_bar)
        if ck in self._beat_cache:
            return self._beat_cache[ck]
        src = self.source
        N = n_max + 1
        dur = np.zeros(N)
        for d, p in _normalise(src.durations, cap=beats_per_bar).items():
            if d < N:
                dur[d] = p
        fin = np.zeros(N)
        for d, p in _normalise(src.final_durations, cap=beats_per_bar).items():
            if d < N:
                fin[d] = p
        marker = np.zeros(N)
        marker[0] = 1.0
        Z: dict[tuple, np.ndarray] = {}
        rules = self.rules

        def leaf(sym: str, mode: int, final: int) -> np.ndarray:
            if sym.startswith('"@'):
                return marker if not final else np.zeros(N)
            return fin if final else dur

        def get(sym: str, mode: int, final: int) -> np.ndarray:
            if is_literal(sym):
                return leaf(sym, mode, final)
            return Z.get((sym, mode, final), _ZERO(N))

        probs = {(n, m): self._alt_prob(rules[n], m, allow_key) for n in rules for m in (0, 1)}
        order = self._children_first()
        # chord-class rules (every alternative one chord) are solved at once: P(n) = P(duration n)
        for name in list(order):
            alts = rules[name].alternatives
            if all(len(a.symbols) == 1 and is_chord_literal(a.symbols[0]) for a in alts):
                for m in (0, 1):
                    mass = sum(p for _, p in probs[(name, m)])
                    Z[(name, m, 0)] = dur * mass
                    Z[(name, m, 1)] = fin * mass
                order.remove(name)
        for _ in range((N + 1) * (len(rules) + 2)):
            changed = False
            for name in order:
                for m in (0, 1):
                    for f in (0, 1):
                        total = np.zeros(N)
                        for a, p in probs[(name, m)]:
                            total += p * _seq(a, m, f, get, N)[0]
                        old = Z.get((name, m, f))
                        if old is None or not np.array_equal(old, total):
                            Z[(name, m, f)] = total
                            changed = True
            if not changed:
                break
        out = {"Z": Z, "N": N, "probs": probs, "get": get}
        self._beat_cache[ck] = out
        return out

    def form_tables(self, bars: int, beats_per_bar: int, phrase_bars: dict[int, float] | None,
                    allow_key: bool) -> dict:
        """Z over bars for the form rules; phrase rules are leaves with their bar distributions."""
        ck = ("form", bars, beats_per_bar, tuple(sorted((phrase_bars or {}).items())), allow_key)
        if ck in self._beat_cache:
            return self._beat_cache[ck]
        rules = self.rules
        max_phrase = max(max((phrase_bars or r.bars or DEFAULT_PHRASE_BARS).keys())
                         for r in rules.values() if r.phrase)
        max_phrase = min(max_phrase, bars)
        beat = self.beat_tables(max_phrase * beats_per_bar, allow_key, beats_per_bar)
        N = bars + 1
        leaf_arrays: dict[tuple, np.ndarray] = {}
        for r in rules.values():
            if not r.phrase:
                continue
            dist = phrase_bars or r.bars or DEFAULT_PHRASE_BARS
            for m in (0, 1):
                arr = np.zeros(N)
                zb = beat["Z"].get((r.name, m, 1))
                for b, w in _normalise(dist).items():
                    if b < N and b * beats_per_bar < beat["N"] and zb is not None and zb[b * beats_per_bar] > 0:
                        arr[b] = w
                leaf_arrays[(r.name, m)] = arr
        Z: dict[tuple, np.ndarray] = {}

        def get(sym: str, mode: int, final: int) -> np.ndarray:
            if rules[sym].phrase and sym not in self.form_rules:
                return leaf_arrays[(sym, mode)]
            return Z.get((sym, mode, 0), _ZERO(N))

        probs = {(n, m): self._alt_prob(rules[n], m, allow_key) for n in self.form_rules for m in (0, 1)}
        for _ in range((N + 1) * (len(self.form_rules) + 2)):
            changed = False
            for name in self.form_rules:
                for m in (0, 1):
                    total = np.zeros(N)
                    for a, p in probs[(name, m)]:
                        total += p * _seq(a, m, 0, get, N)[0]
                    old = Z.get((name, m, 0))
                    if old is None or not np.array_equal(old, total):
                        Z[(name, m, 0)] = total
                        changed = True
            if not changed:
                break
        out = {"Z": Z, "N": N, "probs": probs, "get": get, "beat": beat}
        self._beat_cache[ck] = out
        return out


_ZEROS: dict[int, np.ndarray] = {}


def _ZERO(N: int) -> np.ndarray:
    z = _ZEROS.get(N)
    if z is None:
        z = _ZEROS[N] = np.zeros(N)
    return z


def _child_mode(a, mode: int) -> int:
    return _mode_of_numeral(a.key) if a.key else mode


def _seq(a, mode: int, final: int, get, N: int) -> list[np.ndarray]:
    """Suffix length distributions of an alternative: out[i][n] = P(symbols[i:] yield n)."""
    cm = _child_mode(a, mode)
    syms = a.symbols
    if a.repeat and _repeated(a) is not None:
        rep, count = _repeated(a)
        rest = [s for s in syms if s != rep]
        acc = np.zeros(N)
        acc[0] = 1.0
        for i, s in enumerate(rest):
            acc = np.convolve(get(s, cm, final if (i == len(rest) - 1 and syms[-1] != rep) else 0), acc)[:N]
        zr = get(rep, cm, 0)
        out = np.zeros(N)
        for j in range(1, N):
            if zr[j] > 0 and count * j < N:
                out[count * j:] += zr[j] * acc[: N - count * j]
        return [out, acc]
    return _suffixes(syms, cm, final, get, N)


def _suffixes(syms, mode: int, final: int, get, N: int) -> list[np.ndarray]:
    """out[i][n] = P(syms[i:] yield n units), the last symbol drawn with ``final``; out[k] = [1, 0, ...]."""
    k = len(syms)
    suf = [None] * (k + 1)
    acc = np.zeros(N)
    acc[0] = 1.0
    suf[k] = acc
    for i in range(k - 1, -1, -1):
        acc = np.convolve(get(syms[i], mode, final if i == k - 1 else 0), acc)[:N]
        suf[i] = acc
    return suf


def _repeated(a) -> tuple[str, int] | None:
    for s in a.symbols:
        if not is_literal(s) and a.symbols.count(s) > 1:
            return s, a.symbols.count(s)
    return None


# --------------------------------------------------------------------- sampling
class _Sampler:
    """One draw: walks the grammar top-down with a seeded ``random.Random``."""

    def __init__(self, tables: Tables, form: dict, rng: random.Random, beats_per_bar: int) -> None:
        self.t = tables
        self.form = form
        self.beat = form["beat"]
        self.rng = rng
        self.k = beats_per_bar
        self.cdf = tables._cdf_cache
        self.options = tables.__dict__.setdefault("_options_cache", {}).setdefault(id(self.beat), {})
        self.lexical = tables.__dict__.setdefault("_lexical_cache", {}).get(id(self.beat))
        if self.lexical is None:
            self.lexical = tables.__dict__["_lexical_cache"][id(self.beat)] = self._lexical_draws()
        self.resolving = tables.__dict__.setdefault("_resolving_cache", {}).setdefault(id(self.beat), {})
        self.bass_seventh: tuple[str, str] | None = None  # the last chord, if its seventh is in the bass

    def _emitted(self, figure: str, key: str) -> None:
        self.bass_seventh = (figure, key) if seventh_in_bass(figure) else None

    def _resolving_draws(self, sym: str, mode: int, key: str, cum: list[float], alts: list) -> tuple[list, list]:
        """The chord class's draws restricted to figures whose bass resolves the pending bass seventh."""
        ck = (sym, mode, key, self.bass_seventh)
        entry = self.resolving.get(ck)
        if entry is None:
            fig, fkey = self.bass_seventh
            new_cum, new_alts, total, prev = [], [], 0.0, 0.0
            for c, a in zip(cum, alts):
                if bass_step_ok(fig, fkey, a.symbols[0][1:-1], key):
                    total += c - prev
                    new_cum.append(total)
                    new_alts.append(a)
                prev = c
            # none fits: draw as usual, and the phrase is drawn again
            entry = self.resolving[ck] = (new_cum, new_alts) if new_alts else (cum, alts)
        return entry

    def _lexical_draws(self) -> dict:
        """Chord-class rules (every alternative one chord, no key change): figure draws by weight.

        Their length does not depend on the figure, so the figure is drawn on its own.
        """
        out: dict = {}
        for name, r in self.t.rules.items():
            if not r.alternatives or not all(len(a.symbols) == 1 and is_chord_literal(a.symbols[0]) and not a.key
                                             for a in r.alternatives):
                continue
            for m in (0, 1):
                cum, alts, total = [], [], 0.0
                for a, p in self.beat["probs"].get((name, m), []):
                    total += p
                    cum.append(total)
                    alts.append(a)
                if alts:
                    out[(name, m)] = (cum, alts)
        return out

    def _draw(self, key: tuple, make) -> Any:
        entry = self.cdf.get(key)
        if entry is None:
            values, weights = make()
            cum: list[float] = []
            total = 0.0
            for w in weights:
                total += w
                cum.append(total)
            entry = self.cdf[key] = (cum, values)
        cum, values = entry
        if not cum or cum[-1] <= 0:
            raise GrammarError("no derivation of the requested length")
        return values[min(bisect_right(cum, self.rng.random() * cum[-1]), len(values) - 1)]

    def _choose(self, level: str, tables: dict, sym: str, mode: int, final: int, n: int):
        probs = tables["probs"][(sym, mode)]
        get = tables["get"]
        N = tables["N"]

        def make():
            vals, ws = [], []
            for a, p in probs:
                suf = _seq_cached(self.t, level, a, mode, final, get, N)
                w = p * suf[0][n]
                if w > 0:
                    vals.append(a)
                    ws.append(w)
            return vals, ws

        return self._draw((level, id(tables), "alt", sym, mode, final, n), make)

    def _split(self, level: str, tables: dict, a, mode: int, final: int, n: int) -> list[int]:
        """Lengths of the alternative's symbols, drawn given the total ``n``."""
        get = tables["get"]
        N = tables["N"]
        cm = _child_mode(a, mode)
        suf = _seq_cached(self.t, level, a, mode, final, get, N)
        syms = a.symbols
        if a.repeat and _repeated(a) is not None:
            rep, count = _repeated(a)
            rest = [s for s in syms if s != rep]
            zr = get(rep, cm, 0)
            acc = suf[1]

            def make_rep():
                vals = [j for j in range(1, N) if count * j <= n and zr[j] * acc[n - count * j] > 0]
                return vals, [zr[j] * acc[n - count * j] for j in vals]

            j = self._draw((level, id(tables), "rep", id(a), mode, final, n), make_rep)
            # split the rest with a plain suffix computation
            remaining = n - count * j
            lengths_rest = self._split_plain(level, tables, rest, cm, final if syms[-1] != rep else 0,
                                             remaining, ("rest", id(a), mode, final))
            it = iter(lengths_rest)
            return [j if s == rep else next(it) for s in syms]
        return self._draw_lengths(level, tables, syms, cm, suf, n, ("split", id(a), mode, final))

    def _split_plain(self, level, tables, syms, mode, final, n, tag) -> list[int]:
        """Lengths of ``syms`` summing to ``n`` (no repeat), suffix table computed here."""
        if not syms:
            return []
        suf = _suffixes(syms, mode, final, tables["get"], tables["N"])
        return self._draw_lengths(level, tables, syms, mode, suf, n, tag)

    def _draw_lengths(self, level, tables, syms, mode: int, suf, n: int, tag: tuple) -> list[int]:
        """Draw each symbol's length left to right given ``suf[i][r]`` = P(syms[i:] yield r)."""
        get = tables["get"]
        out, remaining = [], n
        for i in range(len(syms) - 1):
            zi = get(syms[i], mode, 0)
            nxt = suf[i + 1]

            def make(zi=zi, nxt=nxt, remaining=remaining):
                vals = [m for m in range(remaining + 1) if zi[m] > 0 and nxt[remaining - m] > 0]
                return vals, [zi[m] * nxt[remaining - m] for m in vals]

            m = self._draw((level, id(tables), tag, i, remaining), make)
            out.append(m)
            remaining -= m
        out.append(remaining)
        return out

    def _options(self, sym: str, mode: int, final: int, n: int) -> tuple[list[float], list]:
        """Every (alternative, lengths of its symbols) that yields ``n`` beats, with cumulative weights.

        One draw then picks the alternative and the split together; built once per
        (symbol, mode, final, n) and cached, so a draw is a dictionary lookup and a bisection.
        """
        beat = self.beat
        get = beat["get"]
        opts: list = []
        cum: list[float] = []
        total = 0.0
        for a, p in beat["probs"][(sym, mode)]:
            if a.repeat and _repeated(a) is not None:
                suf = _seq_cached(self.t, "beat", a, mode, final, get, beat["N"])
                w = p * suf[0][n]
                if w > 0:
                    total += w
                    cum.append(total)
                    opts.append((a, None))
                continue
            cm = _child_mode(a, mode)
            k = len(a.symbols)
            arrays = [get(s, cm, final if i == k - 1 else 0) for i, s in enumerate(a.symbols)]
            suf = _seq_cached(self.t, "beat", a, mode, final, get, beat["N"])
            if suf[0][n] <= 0:
                continue
            stack = [(0, n, p, ())]
            while stack:
                i, rest, w, lens = stack.pop()
                if i == k - 1:
                    w *= arrays[i][rest]
                    if w > 0:
                        total += w
                        cum.append(total)
                        opts.append((a, lens + (rest,)))
                    continue
                zi = arrays[i]
                nxt = suf[i + 1]
                for m in range(rest + 1):
                    if zi[m] > 0 and nxt[rest - m] > 0:
                        stack.append((i + 1, rest - m, w * zi[m], lens + (m,)))
        return cum, opts

    # events: [figure, key, beats, cadence, fermata]
    def phrase(self, sym: str, key: str, mode: int, n: int, final: int) -> tuple[list, tuple]:
        """Sample ``sym`` to exactly ``n`` beats; returns (events, derivation node)."""
        if sym[0] == '"':
            v = sym[1:-1]
            if v[0] == "@":
                return [], (v, key, ())
            self._emitted(v, key)
            return [[v, key, n, None, False]], (v, key, ())
        lex = self.lexical.get((sym, mode))
        if lex is not None:  # a chord-class rule: draw the figure directly
            cum, alts = lex
            if self.bass_seventh is not None:
                cum, alts = self._resolving_draws(sym, mode, key, cum, alts)
            a = alts[min(bisect_right(cum, self.rng.random() * cum[-1]), len(alts) - 1)]
            v = a.symbols[0][1:-1]
            self._emitted(v, key)
            return [[v, key, n, a.cadence, a.fermata]], (f"{sym}#{a.index}", key, ((v, key, ()),))
        ck = (sym, mode, final, n)
        entry = self.options.get(ck)
        if entry is None:
            entry = self.options[ck] = self._options(sym, mode, final, n)
        cum, opts = entry
        if not cum:
            raise GrammarError("no derivation of the requested length")
        a, lengths = opts[min(bisect_right(cum, self.rng.random() * cum[-1]), len(opts) - 1)]
        if lengths is None:  # a let-binding: split as before
            lengths = self._split("beat", self.beat, a, mode, final, n)
        ckey = relative_key(key, a.key) if a.key else key
        cm = _child_mode(a, mode)
        syms = a.symbols
        if len(syms) == 1 and syms[0][0] == '"' and syms[0][1] != "@":  # a chord: no recursion
            v = syms[0][1:-1]
            self._emitted(v, ckey)
            events = [[v, ckey, n, a.cadence, a.fermata]]
            return events, (f"{sym}#{a.index}", key, ((v, ckey, ()),))
        events: list = []
        kids = []
        memo: dict[str, tuple[list, tuple]] | None = {} if a.repeat else None
        last = len(syms) - 1
        for i, (s, m) in enumerate(zip(syms, lengths)):
            if memo is not None and s in memo:
                ev, node = memo[s]
                ev = [list(e) for e in ev]
                if ev:
                    self._emitted(ev[-1][0], ev[-1][1])
            else:
                ev, node = self.phrase(s, ckey, cm, m, final if (i == last and not (memo is not None and syms.count(s) > 1)) else 0)
                if memo is not None:
                    memo[s] = ([list(e) for e in ev], node)
            events.extend(ev)
            kids.append(node)
        if events:
            if a.cadence:
                events[-1][3] = a.cadence
            if a.fermata:
                events[-1][4] = True
        return events, (f"{sym}#{a.index}", key, tuple(kids))

    def form_node(self, sym: str, key: str, mode: int, nbars: int) -> tuple[list, tuple]:
        """Sample form structure; returns (items, node): items are phrases and section marks."""
        rules = self.t.rules
        if rules[sym].phrase and sym not in self.t.form_rules:
            for _ in range(PHRASE_DRAWS):  # redraw a phrase whose bass cannot resolve a seventh
                self.bass_seventh = None
                events, node = self.phrase(sym, key, mode, nbars * self.k, 1)
                if first_unresolved_bass_seventh(events) is None:
                    break
            return [("phrase", rules[sym].label or sym, key, events)], node
        a = self._choose("form", self.form, sym, mode, 0, nbars)
        lengths = self._split("form", self.form, a, mode, 0, nbars)
        ckey = relative_key(key, a.key) if a.key else key
        cm = _child_mode(a, mode)
        items: list = []
        kids = []
        memo: dict[str, tuple[list, tuple]] = {}
        for s, m in zip(a.symbols, lengths):
            if a.repeat and s in memo:
                it, node = memo[s]
                it = [(x[0], x[1], x[2], [list(e) for e in x[3]]) if x[0] == "phrase" else x for x in it]
            else:
                it, node = self.form_node(s, ckey, cm, m)
                if a.repeat:
                    memo[s] = (it, node)
            items.extend(it)
            kids.append(node)
        if rules[sym].section:
            items = [("section", rules[sym].section)] + items + [("end",)]
        return items, (f"{sym}#{a.index}", key, tuple(kids))


_SEQ_CACHE_ATTR = "_seq_cache"


def _seq_cached(tables: Tables, level: str, a, mode: int, final: int, get, N: int):
    cache = tables.__dict__.setdefault(_SEQ_CACHE_ATTR, {})
    ck = (level, N, id(get), id(a), mode, final)
    v = cache.get(ck)
    if v is None:
        v = cache[ck] = _seq(a, mode, final, get, N)
    return v


def _parse_constraints(constraints: dict[str, Any]) -> tuple[dict[int, float] | None, bool]:
    unknown = [k for k in constraints if k not in CONSTRAINTS]
    if unknown:
        raise InputError(f"unknown constraint {unknown[0]!r}", expected=list(CONSTRAINTS))
    pb = constraints.get("phrase_bars")
    phrase_bars = None
    if pb is not None:
        values = [pb] if isinstance(pb, int) else list(pb)
        if not values or any(not isinstance(v, int) or v <= 0 for v in values):
            raise InputError(f"phrase_bars must be positive integers, got {pb!r}")
        phrase_bars = {v: 1.0 for v in values}
    return phrase_bars, bool(constraints.get("modulate", True))


def sample_plan(grammar, key: str = "C", bars: int = 16, metre: str = "4/4", seed: int | None = None,
                **constraints: Any) -> Plan:
    """See :meth:`Grammar.sample`."""
    if not isinstance(bars, int) or bars <= 0:
        raise InputError(f"a plan needs at least one bar, got bars={bars!r}", expected=["a positive integer"])
    if bars > MAX_BARS:  # the form tables grow with the length: refuse before minutes of work
        raise InputError(f"a plan has at most {MAX_BARS} bars, got bars={bars}",
                         expected=[f"a whole number from 1 to {MAX_BARS}"])
    home = normalize_key(key)
    met = parse_metre(metre)
    ratio = met.bar_quarters / met.beat_quarters
    if ratio.denominator != 1:
        raise InputError(f"metre {metre} has no whole number of beats per bar")
    k = int(ratio)
    phrase_bars, allow_key = _parse_constraints(constraints)
    tables: Tables = grammar.tables
    mode = 1 if home[0].islower() else 0
    form = tables.form_tables(bars, k, phrase_bars, allow_key)
    start = grammar.source.start
    z = form["Z"].get((start, mode, 0)) if start in tables.form_rules else form["get"](start, mode, 0)
    if z is None or bars >= len(z) or z[bars] <= 0:
        raise InputError(f"grammar {grammar.name} cannot make a {MODES[mode]}-key plan of {bars} bars in {metre}",
                         hint="Try another number of bars (e.g. a multiple of 4) or another grammar.")
    seed_value = seed if seed is not None else random.SystemRandom().randrange(2**31)
    rng = random.Random(seed_value)
    sampler = _Sampler(tables, form, rng, k)
    items, root = sampler.form_node(start, home, mode, bars)
    beat_q = float(met.beat_quarters)
    plan = Plan(key=home, metre=met.name, bars=bars, grammar=grammar.name, seed=seed_value)
    t = 0.0
    open_sections: list[tuple[str, float]] = []
    for item in items:
        if item[0] == "section":
            open_sections.append((item[1], t))
        elif item[0] == "end":
            label, start_t = open_sections.pop()
            plan.sections.append(Section(label=label, start=start_t, end=t))
        else:
            _, label, pkey, events = item
            p_index = len(plan.phrases)
            p_start = t
            prev_fig = None
            for fig, ekey, beats, cad, ferm in events:
                plan.chords.append(ChordEvent(onset=t, duration=beats * beat_q, figure=fig, key=ekey,
                                              cadence=None, fermata=ferm, phrase=p_index))
                t += beats * beat_q
            last = plan.chords[-1]
            if events[-1][3]:
                last.cadence = events[-1][3]
            else:
                from .analysis import label_cadence

                prev_fig = plan.chords[-2].figure if len(events) > 1 else None
                last.cadence = label_cadence(prev_fig, last.figure)
            plan.phrases.append(Phrase(start=p_start, end=t, key=pkey, cadence=last.cadence, label=label))
    plan.sections.sort(key=lambda s: (s.start, -s.end))
    if not plan.sections:
        plan.sections.append(Section(label="A", start=0.0, end=t))
    plan._derivation_factory = partial(derivation_graph, root)  # built on first access
    return plan


def derivation_graph(root: tuple) -> "nx.DiGraph":
    """The derivation tree as a networkx DiGraph: nodes carry ``symbol``, ``alternative``, ``key``."""
    import networkx as nx

    g = nx.DiGraph()
    stack = [(root, None, 0)]
    counter = 0
    while stack:
        (label, key, kids), parent, order = stack.pop()
        node = counter
        counter += 1
        sym, _, alt = label.partition("#")
        attrs = {"symbol": sym, "key": key, "order": order}  # order: position among its siblings
        if alt:
            attrs["alternative"] = int(alt)
        else:
            attrs["figure"] = sym
        g.add_node(node, **attrs)
        if parent is not None:
            g.add_edge(parent, node)
        for i in range(len(kids) - 1, -1, -1):
            stack.append((kids[i], node, i))
    return g
