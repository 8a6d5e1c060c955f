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
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from .bass_line import bass_step_ok, first_unresolved_bass_seventh, seventh_in_bass
from .errors import GrammarError, InputError, Location
from .metre import parse_metre, strong_beat_offsets
from .analysis import label_cadence
from .derivation import AlternativeInfo, Derivation
from .plan import Phrase, Plan, Section, _LazyChords
from .plan_values import MAX_BARS
from .theory import invert_figure, is_open_figure, normalize_key, plain_figure

__all__ = ["Tables", "sample_plan", "relative_key", "key_relation", "is_chord_literal", "literal_value",
           "emitted_figure", "MAX_BARS", "SAMPLING_METRES"]

_NUMERALS = ("I", "II", "III", "IV", "V", "VI", "VII")
_LETTERS = "CDEFGAB"
_LETTER_PC = (0, 2, 4, 5, 7, 9, 11)
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
MODES = ("major", "minor")
DEFAULT_PHRASE_BARS = {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0, 6: 1.0, 7: 1.0, 8: 1.0}
PHRASE_DRAWS = 200  # draws of one phrase before giving up on the bass-line rule (a rare draw breaks it)
CONSTRAINTS = ("phrase_bars", "modulate")

#: Metres the sampler fills: even beats, simple or compound (each beat a chord's shortest length).
SAMPLING_METRES = ("2/2", "2/4", "3/4", "4/4", "3/2", "6/8", "9/8", "12/8")


def literal_value(sym: str) -> str:
    return sym[1:-1]


_EMITTED: dict[str, tuple[str, bool]] = {}


def emitted_figure(literal: str) -> tuple[str, bool]:
    """What a plan holds for a chord literal: (figure, inversion open).

    A plain figure (``V7``) leaves the inversion open; a figured-bass one is fixed and
    written as music21 writes it (``V53 -> V``, ``V753 -> V7``, ``V65`` unchanged).
    """
    hit = _EMITTED.get(literal)
    if hit is None:
        hit = _EMITTED[literal] = (plain_figure(literal), is_open_figure(literal))
    return hit


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
        self._children_cache: dict[str, list] = {}

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

    @cached_property
    def alternative_table(self) -> dict[str, AlternativeInfo]:
        """Every alternative as derivations describe it: text, weight, probability per mode, cadence."""
        table: dict[str, AlternativeInfo] = {}
        for r in self.rules.values():
            probs = [{id(a): round(p, 6) for a, p in self._alt_prob(r, m, True)} for m in (0, 1)]  # as JSON keeps them
            for a in r.alternatives:
                table[a.label] = AlternativeInfo(r.name, a.index, a.text, a.weight,
                                                 (probs[0].get(id(a)), probs[1].get(id(a))), a.cadence)
        return table

    @cached_property
    def alternative_json(self) -> dict[str, str]:
        """JSON of each alternative's table entry, filled as plans are written (see Derivation.to_json)."""
        return {}

    # ----------------------------------------------------------------- solving
    def _children_first(self) -> list[str]:
        """Rules in depth-first post-order, so a sweep of the fixpoint sees fresh child values."""
        rules = self.rules
        return _post_order(rules, lambda n: [s for a in rules[n].alternatives for s in a.symbols if not is_literal(s)])

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
        for d, p in _final_durations(src.final_durations, beats_per_bar).items():
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
        self._solve_by_length(order, probs, get, N, Z, (0, 1))
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
        self._solve_by_length(self.form_rules, probs, get, N, Z, (0,))
        out = {"Z": Z, "N": N, "probs": probs, "get": get, "beat": beat}
        self._beat_cache[ck] = out
        return out


    def _solve_by_length(self, names: list[str], probs: dict, get, N: int, Z: dict, finals: tuple[int, ...]) -> None:
        """Fill ``Z[(name, mode, final)]`` with the probability that ``name`` yields exactly 0..N-1 units.

        Key markers yield nothing and every other symbol at least one unit (a beat, or a bar
        above the phrase), so the probability of a length depends only on shorter lengths,
        except through unary rules, which are solved children first: one pass over the
        lengths with a dot product per symbol (an inside computation over lengths), instead
        of iterating whole-array convolutions to a fixpoint.
        """
        rules = self.rules
        solving = set(names)

        def body(a) -> list[str]:
            return [x for x in a.symbols if not x.startswith('"@')]

        # children first along unary edges (no unary cycles: checked at load)
        order = _post_order(names, lambda n: [k for k in (body(a)[0] for a in rules[n].alternatives
                                                            if len(body(a)) == 1) if k in solving])
        for name in names:
            for m in (0, 1):
                for f in finals:
                    Z[(name, m, f)] = np.zeros(N)
        delta = np.zeros(N)
        delta[0] = 1.0
        # per (name, mode, final): (probability, child mode, symbols, final flags, suffix arrays, repeat)
        entries: list[tuple] = []
        for name in order:
            for m in (0, 1):
                for f in finals:
                    lst = []
                    for a, p in probs[(name, m)]:
                        if f and a.symbols[-1].startswith('"@'):
                            continue  # a key marker cannot close a phrase
                        cm = _child_mode(a, m)
                        rep = _repeated(a) if a.repeat else None
                        syms = [x for x in body(a) if rep is None or x != rep[0]]
                        last_final = f if (rep is None or a.symbols[-1] != rep[0]) else 0
                        flags = [0] * (len(syms) - 1) + [last_final] if syms else []
                        lst.append((p, cm, syms, flags, [np.zeros(N) for _ in syms] + [delta], rep))
                    entries.append((Z[(name, m, f)], lst))
        for n in range(1, N):
            for target, lst in entries:
                total = 0.0
                for p, cm, syms, flags, suf, rep in lst:
                    k = len(syms)
                    for i in range(k - 2, -1, -1):  # shorter suffixes only: every symbol >= 1 unit
                        suf[i][n] = np.dot(get(syms[i], cm, flags[i])[1:n], suf[i + 1][n - 1:0:-1])
                    if rep is None:
                        total += p * (get(syms[0], cm, flags[0])[n] if k == 1 else suf[0][n])
                    else:
                        zr = get(rep[0], cm, 0)
                        acc = suf[0]
                        total += p * sum(zr[j] * acc[n - rep[1] * j] for j in range(1, n // rep[1] + 1))
                target[n] = total
            for _, lst in entries:  # the last symbols' values at n are known now
                for p, cm, syms, flags, suf, rep in lst:
                    if syms:
                        suf[len(syms) - 1][n] = get(syms[-1], cm, flags[-1])[n]


def _post_order(roots, children) -> list[str]:
    """Every node reachable from ``roots`` once, children before their parent (iterative DFS)."""
    order: list[str] = []
    seen: set[str] = set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(children(root)))]
        while stack:
            node, kids = stack[-1]
            kid = next(kids, None)
            if kid is None:
                stack.pop()
                order.append(node)
            elif kid not in seen:
                seen.add(kid)
                stack.append((kid, iter(children(kid))))
    return order


def _final_durations(weights: dict[int, float], beats_per_bar: int) -> dict[int, float]:
    """A phrase's last chord: the grammar's final lengths, kept to those that start on a strong
    beat (the chord ends at the bar line); all of them if none does (a grammar that asks for
    a weak-beat close gets it)."""
    lengths = _normalise(weights, cap=beats_per_bar)
    strong = strong_beat_offsets(beats_per_bar)
    out = {d: p for d, p in lengths.items() if (beats_per_bar - d) in strong}
    total = sum(out.values())
    return {d: p / total for d, p in out.items()} if total > 0 else lengths


_ZEROS: dict[int, np.ndarray] = {}


def _mark_last(events: list[tuple], cadence: str | None, fermata: bool) -> None:
    """Give the last chord row a cadence and/or a fermata.

    Rows are tuples, not lists: a tuple of plain values leaves the garbage collector's
    books once it has been looked at, a list never does, and a caller who keeps a
    thousand sampled plans paid more for full collections over their rows than for
    sampling them. A phrase end is rare enough to rebuild its row.
    """
    row = events[-1]
    events[-1] = (*row[:4], cadence or row[4], bool(fermata) or row[5], *row[6:])


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

    # slots: a plan is about 90 draws, each reading several of these (a slot is read faster than a dict entry)
    __slots__ = ("t", "random", "rng", "beat_q", "pos", "phrase_index", "sevenths", "bass_seventh", "form", "beat",
                 "k", "cdf", "options", "resolving", "macro", "form_opts", "children", "lexical")

    def __init__(self, tables: Tables, form: dict, rng: random.Random, beats_per_bar: int, beat_q: float) -> None:
        self.t = tables
        self.random = rng.random
        self.rng = rng
        self.beat_q = beat_q  # quarter notes per beat
        self.pos = 0  # beats drawn so far: the next chord's onset
        self.phrase_index = 0
        self.sevenths = False  # whether the phrase being drawn has a seventh in the bass
        self.bass_seventh: tuple[str, str] | None = None  # the last chord, if its seventh is in the bass
        self.form = form
        self.beat = form["beat"]
        self.k = beats_per_bar
        self.cdf = tables._cdf_cache
        caches = form.get("caches")  # what draws learn about these tables, kept for the next plan
        if caches is None:
            beat_caches = self.beat.setdefault("caches", {"options": {}, "resolving": {}, "macro": {}})
            if "lexical" not in beat_caches:
                beat_caches["lexical"] = None
            caches = form["caches"] = {"form_options": {}, **{k: v for k, v in beat_caches.items()}}
        self.options = caches["options"]
        self.resolving = caches["resolving"]
        self.macro = caches["macro"]
        self.form_opts = caches["form_options"]
        self.children = tables._children_cache
        self.lexical = caches["lexical"]
        if self.lexical is None:
            self.lexical = caches["lexical"] = self.beat["caches"]["lexical"] = self._lexical_draws()

    def _emitted(self, figure: str, key: str) -> None:
        self.bass_seventh = (figure, key) if seventh_in_bass(figure) else None

    def _resolving_draws(self, sym: str, mode: int, key: str, cum: list[float], draws: list) -> tuple[list, list]:
        """The chord class's draws restricted to chords whose bass resolves the pending bass seventh.

        A chord left open is fixed in the inversion that gives the seventh its step down
        (V42 then a tonic left open: I6).
        """
        ck = (sym, mode, key, self.bass_seventh)
        entry = self.resolving.get(ck)
        if entry is None:
            fig, fkey = self.bass_seventh
            new_cum, new_draws, total, prev = [], [], 0.0, 0.0
            for c, draw in zip(cum, draws):
                a, figure, is_open, label = draw
                fitting = None
                if bass_step_ok(fig, fkey, figure, key):
                    fitting = draw
                elif is_open:
                    for inversion in (1, 2, 3):
                        try:
                            inverted = invert_figure(figure, inversion)
                        except InputError:
                            break
                        if bass_step_ok(fig, fkey, inverted, key):
                            fitting = (a, inverted, False, label)
                            break
                if fitting is not None:
                    total += c - prev
                    new_cum.append(total)
                    new_draws.append(fitting)
                prev = c
            # none fits: draw as usual, and the phrase is drawn again
            entry = self.resolving[ck] = (new_cum, new_draws) if new_draws else (cum, draws)
        return entry

    def _lexical_draws(self) -> dict:
        """Chord-class rules (every alternative one chord, no key change): chord draws by weight.

        Their length does not depend on the chord, so the chord is drawn on its own; each
        draw is (alternative, figure, inversion open, label).
        """
        out: dict = {}
        for name, r in self.t.rules.items():
            if not r.alternatives or not all(len(a.symbols) == 1 and is_chord_literal(a.symbols[0]) and not a.key
                                             for a in r.alternatives):
                continue
            for m in (0, 1):
                cum, draws, total = [], [], 0.0
                for a, p in self.beat["probs"].get((name, m), []):
                    total += p
                    cum.append(total)
                    draws.append((a, *emitted_figure(a.symbols[0][1:-1]), a.label))
                if draws:
                    out[(name, m)] = (cum, draws)
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
        cum, _, opts = self._alternative_options("beat", sym, mode, final, n)
        return cum, opts

    def _alternative_options(self, level: str, sym: str, mode: int, final: int, n: int) -> tuple[list[float], float, list]:
        """A rule's alternatives, each with every split of ``n`` units among its symbols (``None``
        for a let-binding, whose split is drawn when it is expanded), weighted and cumulated."""
        tables = self.beat if level == "beat" else self.form
        cum: list[float] = []
        opts: list = []
        total = 0.0
        for a, p in tables["probs"][(sym, mode)]:
            if a.repeat and _repeated(a) is not None:
                w = p * _seq_cached(self.t, level, a, mode, final, tables["get"], tables["N"])[0][n]
                pairs = [(w, None)] if w > 0 else []
            else:
                pairs = [(p * w, lengths) for w, lengths in self._splits(a, mode, final, n, level)]
            for w, lengths in pairs:
                total += w
                cum.append(total)
                opts.append((a, lengths))
        return cum, total, opts

    # ----------------------------------------------------------------- drawing a phrase
    # A phrase is drawn top-down. Most rules only pass a length on (a tonic region that is
    # one tonic unit that is one tonic chord), so one draw picks a whole chain of
    # one-symbol alternatives together with what ends it: a chord, or an alternative of
    # several symbols and the split of the length among them (_macro_options). That is the
    # same distribution as drawing rule by rule: an option's weight is the product of its
    # alternatives' probabilities and of the probabilities that its symbols yield their
    # lengths. Chords go straight into ``events`` as rows (the fields of ChordEvent in order,
    # see plan._LazyChords; onsets counted in beats from ``self.pos``) and the derivation
    # into ``nodes`` (the flat pre-order list of partimento.grammar.derivation).

    def draw(self, sym: str, key: str, parent_key: str | None, mode: int, n: int, final: int,
             events: list, nodes: list) -> None:
        """Derive ``sym`` to exactly ``n`` beats in ``key``."""
        if self.bass_seventh is not None:  # the next chord must resolve it: draw rule by rule
            self._slow(sym, key, parent_key, mode, n, final, events, nodes)
            return
        entry = self.macro.get((sym, mode, final, n))
        if entry is None:
            entry = self._macro_entry(sym, mode, final, n)
        self._draw_entry(entry, key, parent_key, events, nodes)

    def _macro_entry(self, sym: str, mode: int, final: int, n: int) -> tuple:
        """The macro options of (sym, mode, final, n), with what they were built for (cached)."""
        entry = self.macro.get((sym, mode, final, n))
        if entry is None:
            entry = self.macro[(sym, mode, final, n)] = (*self._macro_options(sym, mode, final, n),
                                                         sym, mode, final, n)
        return entry

    def _draw_entry(self, entry: tuple, key: str, parent_key: str | None, events: list, nodes: list) -> None:
        """One draw from a macro entry (cumulative weights, total, options, sym, mode, final, n), then its children.

        A child rule's entry is kept in its step once looked up (see :meth:`_steps`), so the
        common draw builds no key and looks nothing up.
        """
        opt = entry[2][bisect_right(entry[0], self.random() * entry[1])]
        seg = opt[1]
        if key == parent_key:
            nodes += seg
        else:
            nodes.append(seg[0])
            nodes.append(key)
            nodes += seg[2:]
        if opt[0] == 0:  # a chord
            figure = opt[2]
            bq = self.beat_q
            n = entry[6]
            events.append((self.pos * bq, n * bq, figure, key, opt[3], opt[4], self.phrase_index, opt[5]))
            self.pos += n
            if opt[6]:
                self.bass_seventh = (figure, key)
                self.sevenths = True
            return
        a = opt[2]
        lengths = opt[5]
        if lengths is None or a.key:
            self._expand(a, key, entry[4], entry[6], entry[5], events, nodes, opt[3], opt[4], lengths)
            return
        # the common case, inlined: children in the same key, no let-binding
        marks = opt[3] or opt[4]
        first = len(events) if marks else 0
        cm = opt[6]
        draw_entry = self._draw_entry
        for kind, value, is_open, length, last, cell in opt[7]:
            if kind == 2:
                if self.bass_seventh is not None:
                    self._slow(value, key, key, cm, length, last, events, nodes)
                    continue
                child = cell[0]
                if child is None:
                    child = cell[0] = self._macro_entry(value, cm, last, length)
                draw_entry(child, key, key, events, nodes)
            elif kind == 0:
                nodes += (value, 0, 0)
                self._chord(value, is_open, key, length, None, False, events)
            else:
                nodes += (value, 0, 0)
        if marks and len(events) > first:
            _mark_last(events, opt[3], opt[4])

    def _steps(self, a, mode: int, final: int, lengths: tuple[int, ...]) -> tuple[int, tuple]:
        """What drawing the children of ``a`` with these lengths does, worked out once per option:
        the children's mode, and per child (kind, value, open, length, final flag, cell) as in
        :meth:`_children`; a rule's cell keeps its macro entry once looked up."""
        children = self.children.get(a.label)
        if children is None:
            children = self.children[a.label] = self._children(a)
        last = len(children) - 1
        return _child_mode(a, mode), tuple((kind, value, is_open, lengths[i], final if i == last else 0, [None])
                                           for i, (kind, value, is_open) in enumerate(children))

    @staticmethod
    def _children(a) -> list[tuple[int, str, bool]]:
        """An alternative's symbols as (0, figure, open) for a chord, (1, marker, False), (2, rule, False)."""
        out = []
        for s in a.symbols:
            if s[0] != '"':
                out.append((2, s, False))
            elif s[1] == "@":
                out.append((1, s[1:-1], False))
            else:
                out.append((0, *emitted_figure(s[1:-1])))
        return out

    def _chord(self, figure: str, is_open: bool, key: str, n: int, cadence, fermata: bool, events: list) -> None:
        bq = self.beat_q
        events.append((self.pos * bq, n * bq, figure, key, cadence, fermata, self.phrase_index, is_open))
        self.pos += n
        if seventh_in_bass(figure):
            self.bass_seventh = (figure, key)
            self.sevenths = True
        else:
            self.bass_seventh = None

    def _expand(self, a, key: str, mode: int, n: int, final: int, events: list, nodes: list,
                cadence: str | None, fermata: bool, lengths) -> None:
        """The children of alternative ``a`` (its node already written), then the cadence and fermata."""
        if lengths is None:  # a let-binding: its split is drawn here
            lengths = self._split("beat", self.beat, a, mode, final, n)
        ckey = relative_key(key, a.key) if a.key else key
        cm = _child_mode(a, mode)
        syms = a.symbols
        last = len(syms) - 1
        first = len(events)
        memo: dict[str, tuple[list, list]] | None = {} if a.repeat else None
        for i, s in enumerate(syms):
            if s[0] == '"':  # a chord or a key marker, written in the alternative
                v = s[1:-1]
                if v[0] == "@":
                    nodes += (v, ckey if ckey != key else 0, 0)
                    continue
                figure, is_open = emitted_figure(v)
                nodes += (figure, ckey if ckey != key else 0, 0)
                self._chord(figure, is_open, ckey, lengths[i], None, False, events)
            elif memo is None:
                self.draw(s, ckey, key, cm, lengths[i], final if i == last else 0, events, nodes)
            elif s in memo:  # a let-binding: the same derivation again
                evs, nds = memo[s]
                bq = self.beat_q
                for e in evs:
                    events.append((self.pos * bq, *e[1:]))
                    self.pos += e[1] / bq
                nodes += nds
                if evs:
                    self._emitted(evs[-1][2], evs[-1][3])
            else:
                e0, n0 = len(events), len(nodes)
                self.draw(s, ckey, key, cm, lengths[i], final if i == last and syms.count(s) == 1 else 0,
                          events, nodes)
                memo[s] = (events[e0:], nodes[n0:])
        if len(events) > first and (cadence or fermata):
            _mark_last(events, cadence, fermata)

    def _slow(self, sym: str, key: str, parent_key: str | None, mode: int, n: int, final: int,
              events: list, nodes: list) -> None:
        """One rule at a time, so a chord class can be restricted to chords that resolve a bass seventh."""
        written_key = key if key != parent_key else 0
        lex = self.lexical.get((sym, mode))
        if lex is not None:
            cum, draws = self._resolving_draws(sym, mode, key, *lex)
            a, figure, is_open, label = draws[min(bisect_right(cum, self.random() * cum[-1]), len(draws) - 1)]
            nodes += (label, written_key, 1, figure, 0, 0)
            self._chord(figure, is_open, key, n, a.cadence, a.fermata, events)
            return
        ck = (sym, mode, final, n)
        entry = self.options.get(ck)
        if entry is None:
            entry = self.options[ck] = self._options(sym, mode, final, n)
        cum, opts = entry
        if not cum:
            raise GrammarError("no derivation of the requested length")
        a, lengths = opts[min(bisect_right(cum, self.random() * cum[-1]), len(opts) - 1)]
        nodes += (a.label, written_key, len(a.symbols))
        self._expand(a, key, mode, n, final, events, nodes, a.cadence, a.fermata, lengths)

    def _macro_options(self, sym: str, mode: int, final: int, n: int) -> tuple[list[float], float, list]:
        """Every chain of one-symbol alternatives from ``sym`` to what ends it (a chord, or an
        alternative of several symbols with a split of the length), weighted for ``n`` beats."""
        beat = self.beat
        probs = beat["probs"]
        get = beat["get"]
        N = beat["N"]
        leaf = get('"I"', mode, final)[n]  # every chord has the same length distribution
        cum: list[float] = []
        opts: list = []
        total = 0.0

        def merged(chain: tuple) -> tuple[str | None, bool]:
            cadence = next((c.cadence for c in chain if c.cadence), None)  # the outermost label wins
            return cadence, any(c.fermata for c in chain)

        def add(w: float, opt: tuple) -> None:
            nonlocal total
            total += w
            cum.append(total)
            opts.append(opt)

        def walk(name: str, w0: float, prefix: tuple, chain: tuple) -> None:
            if (name, mode) in self.lexical:
                lcum, draws = self.lexical[(name, mode)]
                prev = 0.0
                for c, (a, figure, is_open, label) in zip(lcum, draws):
                    w = w0 * (c - prev) * leaf
                    prev = c
                    if w > 0:
                        add(w, (0, prefix + (label, 0, 1, figure, 0, 0), figure, *merged(chain + (a,)), is_open,
                                seventh_in_bass(figure)))
                return
            for a, p in probs[(name, mode)]:
                w1 = w0 * p
                syms = a.symbols
                if len(syms) == 1 and not a.key and not a.repeat:
                    s = syms[0]
                    if s[0] != '"':
                        walk(s, w1, prefix + (a.label, 0, 1), chain + (a,))
                    elif s[1] != "@" and w1 * leaf > 0:  # a chord written in the alternative
                        figure, is_open = emitted_figure(s[1:-1])
                        add(w1 * leaf, (0, prefix + (a.label, 0, 1, figure, 0, 0), figure, *merged(chain + (a,)),
                                        is_open, seventh_in_bass(figure)))
                    continue
                seg = prefix + (a.label, 0, len(syms))
                cadence, fermata = merged(chain + (a,))
                if a.repeat and _repeated(a) is not None:  # a let-binding: its split is drawn when expanded
                    w = w1 * _seq_cached(self.t, "beat", a, mode, final, get, N)[0][n]
                    if w > 0:
                        add(w, (1, seg, a, cadence, fermata, None))
                    continue
                for w, lengths in self._splits(a, mode, final, n):
                    add(w1 * w, (1, seg, a, cadence, fermata, lengths, *self._steps(a, mode, final, lengths)))

        walk(sym, 1.0, (), ())
        if not opts:
            raise GrammarError("no derivation of the requested length")
        cum[-1] = float("inf")  # a draw of exactly ``total`` still lands on the last option
        return cum, total, opts

    def _splits(self, a, mode: int, final: int, n: int, level: str = "beat") -> list[tuple[float, tuple[int, ...]]]:
        """The lengths of an alternative's symbols that make ``n`` units, each with its probability."""
        tables = self.beat if level == "beat" else self.form
        get = tables["get"]
        cm = _child_mode(a, mode)
        k = len(a.symbols)
        arrays = [get(s, cm, final if i == k - 1 else 0) for i, s in enumerate(a.symbols)]
        suf = _seq_cached(self.t, level, a, mode, final, get, tables["N"])
        out: list[tuple[float, tuple[int, ...]]] = []
        if suf[0][n] <= 0:
            return out
        stack = [(0, n, 1.0, ())]
        while stack:
            i, rest, w, lens = stack.pop()
            if i == k - 1:
                w *= arrays[i][rest]
                if w > 0:
                    out.append((w, lens + (rest,)))
                continue
            zi = arrays[i]
            nxt = suf[i + 1]
            for m in range(rest + 1):
                if zi[m] > 0 and nxt[rest - m] > 0:
                    stack.append((i + 1, rest - m, w * zi[m], lens + (m,)))
        return out

    def _form_options(self, sym: str, mode: int, nbars: int) -> tuple[list[float], float, list]:
        """A form rule's alternatives with the splits of ``nbars`` among their symbols, weighted."""
        cum, total, opts = self._alternative_options("form", sym, mode, 0, nbars)
        if not opts:
            raise GrammarError("no derivation of the requested length")
        cum[-1] = float("inf")
        return cum, total, opts

    def form_node(self, sym: str, key: str, parent_key: str | None, mode: int, nbars: int, nodes: list) -> list:
        """Sample form structure, appending the derivation to ``nodes``; returns phrases and section marks."""
        rules = self.t.rules
        if rules[sym].phrase and sym not in self.t.form_rules:
            start, pos = len(nodes), self.pos
            for _ in range(PHRASE_DRAWS):  # redraw a phrase whose bass cannot resolve a seventh
                del nodes[start:]
                self.pos = pos
                self.bass_seventh = None
                self.sevenths = False
                events: list = []
                self.draw(sym, key, parent_key, mode, nbars * self.k, 1, events, nodes)
                if not self.sevenths or first_unresolved_bass_seventh([(e[2], e[3]) for e in events]) is None:
                    break
            self.phrase_index += 1
            return [("phrase", rules[sym].label or sym, key, events)]
        entry = self.form_opts.get((sym, mode, nbars))
        if entry is None:
            entry = self.form_opts[(sym, mode, nbars)] = self._form_options(sym, mode, nbars)
        a, lengths = entry[2][bisect_right(entry[0], self.random() * entry[1])]
        if lengths is None:
            lengths = self._split("form", self.form, a, mode, 0, nbars)
        ckey = relative_key(key, a.key) if a.key else key
        cm = _child_mode(a, mode)
        nodes += (a.label, key if key != parent_key else 0, len(a.symbols))
        items: list = []
        memo: dict[str, tuple[list, list]] = {}
        for s, m in zip(a.symbols, lengths):
            if a.repeat and s in memo:
                it, nds = memo[s]
                for x in it:
                    if x[0] == "phrase":
                        bq = self.beat_q
                        evs = []
                        for e in x[3]:
                            evs.append((self.pos * bq, *e[1:6], self.phrase_index, e[7]))
                            self.pos += e[1] / bq
                        self.phrase_index += 1
                        items.append((x[0], x[1], x[2], evs))
                    else:
                        items.append(x)
                nodes += nds
            else:
                n0 = len(nodes)
                it = self.form_node(s, ckey, key, cm, m, nodes)
                if a.repeat:
                    memo[s] = (it, nodes[n0:])
                items.extend(it)
        if rules[sym].section:
            items = [("section", rules[sym].section)] + items + [("end",)]
        return items


_SEQ_CACHE_ATTR = "_seq_cache"


def _seq_cached(tables: Tables, level: str, a, mode: int, final: int, get, N: int):
    cache = tables.__dict__.setdefault(_SEQ_CACHE_ATTR, {})
    ck = (level, N, id(get), id(a), mode, final)
    v = cache.get(ck)
    if v is None:
        v = cache[ck] = _seq(a, mode, final, get, N)
    return v


def _parse_constraints(constraints: dict[str, Any]) -> tuple[dict[int, float] | None, bool]:
    if not constraints:
        return None, True
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


def _ranges(values: list[int]) -> str:
    """``[2, 4, 5, 6, 8]`` -> ``'2, 4-6, 8'``."""
    out: list[str] = []
    for v in values:
        if out and v == last + 1:
            out[-1] = f"{out[-1].split('-')[0]}-{v}"
        else:
            out.append(str(v))
        last = v
    return ", ".join(out)


@lru_cache(maxsize=64)
def _metre_facts(metre: str) -> tuple[str, int, float]:
    """(name, beats per bar, quarter notes per beat) of a metre the sampler fills; InputError otherwise."""
    met = parse_metre(metre)
    if met.name not in SAMPLING_METRES:
        raise InputError(f"grammars do not sample plans in {met.name}",
                         expected=list(SAMPLING_METRES),
                         hint="A metre of unequal beats (5/4, 7/8) needs a beat grouping the sampler does not know.")
    return met.name, met.beats_per_bar, float(met.beat_quarters)


def sample_plan(grammar, key: str = "C", bars: int = 16, metre: str = "4/4", seed: int | None = None,
                **constraints: Any) -> Plan:
    """See :meth:`Grammar.sample`."""
    if not isinstance(bars, int) or isinstance(bars, bool) or bars <= 0:
        raise InputError(f"a plan needs at least one bar, got bars={bars!r}", expected=["a positive integer"])
    if bars > MAX_BARS:
        raise InputError(f"a plan has at most {MAX_BARS} bars, got bars={bars}", expected=[f"1 to {MAX_BARS}"],
                         hint="Sample a longer piece as several plans.")
    home = normalize_key(key)
    metre_name, k, beat_q = _metre_facts(metre) if type(metre) is str else _metre_facts.__wrapped__(metre)
    phrase_bars, allow_key = _parse_constraints(constraints)
    tables: Tables = grammar.tables
    mode = 1 if home[0].islower() else 0
    form = tables.form_tables(bars, k, phrase_bars, allow_key)
    start = grammar.source.start
    z = form["Z"].get((start, mode, 0)) if start in tables.form_rules else form["get"](start, mode, 0)
    if z is None or bars >= len(z) or z[bars] <= 0:
        possible = [n for n in range(1, min(bars, len(z) - 1) + 1) if z[n] > 0] if z is not None else []
        can = f"Up to {bars} bars it can make {MODES[mode]}-key plans of {_ranges(possible)} bars." if possible \
            else f"It can make no {MODES[mode]}-key plan of up to {bars} bars in {metre_name}."
        raise InputError(f"grammar {grammar.name} cannot make a {MODES[mode]}-key plan of {bars} bars in {metre_name}.",
                         hint=can)
    seed_value = seed if seed is not None else random.SystemRandom().randrange(2**31)
    rng = random.Random(seed_value)
    plan = Plan(key=home, metre=metre_name, bars=bars, grammar=grammar.name, seed=seed_value)
    sampler = _Sampler(tables, form, rng, k, beat_q)
    nodes: list = []
    items = sampler.form_node(start, home, None, mode, bars, nodes)
    chords: list[tuple] = []  # rows: the fields of ChordEvent in order (see plan._LazyChords)
    open_sections: list[tuple[str, float]] = []
    t = 0.0
    for item in items:
        if item[0] == "section":
            open_sections.append((item[1], t))
        elif item[0] == "end":
            label, start_t = open_sections.pop()
            plan.sections.append(Section(label=label, start=start_t, end=t))
        else:
            _, label, pkey, events = item
            last = events[-1]
            if not last[4]:
                _mark_last(events, label_cadence(events[-2][2] if len(events) > 1 else None, last[2]), False)
                last = events[-1]
            chords += events
            t = last[0] + last[1]
            plan.phrases.append(Phrase(events[0][0], t, pkey, last[4], label))
    plan.sections.sort(key=lambda s: (s.start, -s.end))
    if not plan.sections:
        plan.sections.append(Section(label="A", start=0.0, end=t))
    _LazyChords.set_rows(plan, chords)
    plan.derivation_tree = Derivation(nodes, tables.alternative_table, grammar.name, tables.alternative_json)
    return plan
