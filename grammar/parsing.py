"""Parsing analyses with the grammar that samples: Lark's Earley parser, phrase by phrase.

The grammar is re-emitted as plain Lark with one copy of every rule per mode (so
``minor``-only alternatives stay out of major phrases, and ``key=`` alternatives switch
copies) and one alias per alternative (``tr__maj__2``), so a parse tree says exactly which
alternative was used; that is what :mod:`partimento.grammar.fit` counts. A phrase's
tokens are its figures relative to the local key, with ``@V``-style tokens where the
key changes inside the phrase. Errors are located at the measure and beat of the chord
where Lark got stuck, with the figures it expected there. A phrase the grammar derives
must also keep the sampler's one surface rule (:mod:`partimento.grammar.bass_line`: a
seventh in the bass falls by step), so a grammar parses exactly the phrases it can sample.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree
from lark.lexer import Lexer

from .bass_line import first_unresolved_bass_seventh
from .errors import GrammarError, InputError, Location, PlanError
from .plan import Plan
from .sampler import MODES, is_literal, key_relation, literal_value, relative_key, _mode_of_numeral

__all__ = ["ParseError", "PhraseParse", "ParseResult", "PhraseParser", "Recognizer", "phrase_tokens", "alternative_of"]

_SUFFIX = ("maj", "min")
_UNKNOWN = "__UNKNOWN_CHORD__"


@dataclass
class ParseError:
    """Where a phrase stopped parsing: the chord, its place, and what would have fitted."""

    measure: int | None
    beat: float | None
    token: str
    expected: list[str]
    index: int = 0  # position of the token in the phrase

    def to_dict(self) -> dict[str, Any]:
        return {"measure": self.measure, "beat": self.beat, "token": self.token, "expected": self.expected}

    def __str__(self) -> str:
        where = f"measure {self.measure}, beat {self.beat:g}: " if self.measure is not None else f"token {self.index + 1}: "
        exp = ", ".join(self.expected[:12]) + (" …" if len(self.expected) > 12 else "")
        return f"{where}{self.token!r} does not fit; expected one of {exp}"


@dataclass
class PhraseParse:
    """One phrase: its span in measures, its tokens, and whether it parsed (tree) or where it stopped."""

    start_measure: int | None
    end_measure: int | None
    key: str
    tokens: list[str]
    parsed: bool = False
    error: ParseError | None = None
    _tree_factory: Any = field(default=None, repr=False, compare=False)
    _tree: Tree | None = field(default=None, repr=False, compare=False)

    @property
    def tree(self) -> Tree | None:
        """The Lark parse tree (built by Lark's Earley parser on first access), or None."""
        if self._tree is None and self.parsed and self._tree_factory is not None:
            self._tree = self._tree_factory()
        return self._tree

    def to_dict(self) -> dict[str, Any]:
        return {"start_measure": self.start_measure, "end_measure": self.end_measure, "parsed": self.parsed,
                "error": self.error.to_dict() if self.error else None}


@dataclass
class ParseResult:
    """The phrases of one analysis, each parsed or with its located error."""

    file: str | None
    grammar: str
    phrases: list[PhraseParse] = field(default_factory=list)
    plan: Plan | None = None

    @property
    def coverage(self) -> float:
        """Share of phrases that parse (0.0 for no phrases)."""
        return sum(p.parsed for p in self.phrases) / len(self.phrases) if self.phrases else 0.0

    @property
    def ok(self) -> bool:
        return bool(self.phrases) and all(p.parsed for p in self.phrases)

    @property
    def trees(self) -> list[Tree | None]:
        return [p.tree for p in self.phrases]

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "coverage": self.coverage, "phrases": [p.to_dict() for p in self.phrases]}

    def describe(self) -> str:
        lines = [f"{self.file or '<input>'}: {sum(p.parsed for p in self.phrases)}/{len(self.phrases)} phrases "
                 f"parse with {self.grammar} (coverage {self.coverage:.0%})"]
        for i, p in enumerate(self.phrases, 1):
            span = f"m{p.start_measure}-{p.end_measure}" if p.start_measure is not None else f"phrase {i}"
            lines.append(f"  {span}: {'ok' if p.parsed else 'FAIL ' + str(p.error)}    {' '.join(p.tokens)}")
        return "\n".join(lines)


def phrase_tokens(chords) -> list[str]:
    """Figures of a phrase, with ``@X`` tokens where the local key changes."""
    out: list[str] = []
    key = None
    for c in chords:
        if key is not None and c.key != key:
            out.append("@" + key_relation(key, c.key))
        key = c.key
        out.append(c.figure)
    return out


class PhraseParser:
    """Lark Earley parsers (major and minor start) for one grammar."""

    def __init__(self, grammar) -> None:
        self.grammar = grammar
        source = grammar.source
        # lexical rules (every alternative one chord literal) become terminals that match a
        # whole class of figures: far fewer Earley items than one alternative per figure
        self.lexical: dict[tuple[str, int], dict[str, int]] = {}
        for r in source.rules.values():
            if r.alternatives and all(len(a.symbols) == 1 and is_literal(a.symbols[0]) and not a.key
                                      and not literal_value(a.symbols[0]).startswith("@") for a in r.alternatives):
                for mode in (0, 1):
                    figs: dict[str, int] = {}
                    for a in r.alternatives:
                        if a.mode is None or a.mode == MODES[mode]:
                            figs.setdefault(literal_value(a.symbols[0]), a.index)
                    self.lexical[(r.name, mode)] = figs
        self.lark_text = self._emit(source, {n for n, _ in self.lexical})
        self.recognizer = Recognizer(source, self.lexical)
        self.rule_names = {r.lower(): r for r in source.rules}
        self._lark: Lark | None = None

    @property
    def lark(self) -> Lark:
        """Lark's Earley parser for trees, built on first use (class-aware terminal matching)."""
        if self._lark is None:
            self._lark = self._build_lark()
        return self._lark

    def _build_lark(self) -> Lark:
        source = self.grammar.source
        lark = Lark(self.lark_text, parser="earley", lexer=_make_lexer(),
                    start=[f"{source.parse_start.lower()}__{s}" for s in _SUFFIX],
                    keep_all_tokens=True, ambiguity="resolve")
        self.term_values: dict[str, list[str]] = {}
        classes: dict[str, set[str]] = {}
        for t in lark.terminals:
            if t.name.startswith("LEX_"):
                continue
            self.term_values[t.name] = [t.pattern.value]
            classes.setdefault(t.pattern.value, set()).add(t.name)
        for (rule, mode), figs in self.lexical.items():
            tname = _lex_name(rule, mode)
            self.term_values[tname] = sorted(figs)
            for fig in figs:
                classes.setdefault(fig, set()).add(tname)
        self.classes = {fig: frozenset(names) for fig, names in classes.items()}
        empty: frozenset = frozenset()
        cls = self.classes

        def match(term, token) -> bool:
            return term.name in cls.get(token.value, empty)

        lark.parser.parser.term_matcher = match  # Lark's Earley parser, class-aware scanning
        return lark

    @staticmethod
    def _emit(source, lexical: set[str]) -> str:
        lines = []
        reach: set[str] = set()  # only what phrases use: form rules are never parsed
        stack = [source.parse_start]
        while stack:
            n = stack.pop()
            if n not in reach:
                reach.add(n)
                stack.extend(s for a in source.rules[n].alternatives for s in a.symbols if not is_literal(s))
        for r in source.rules.values():
            if r.name not in reach or r.name in lexical:
                continue
            lname = r.name.lower()
            for mode in (0, 1):
                alts = []
                seen: set[str] = set()
                for a in r.alternatives:
                    if a.mode is not None and a.mode != MODES[mode]:
                        continue
                    cm = _mode_of_numeral(a.key) if a.key else mode
                    syms = " ".join(s if is_literal(s) else _lex_name(s, cm) if s in lexical
                                    else f"{s.lower()}__{_SUFFIX[cm]}" for s in a.symbols)
                    if syms in seen:  # the same right-hand side twice (e.g. "I" in both modes' lists)
                        continue
                    seen.add(syms)
                    alts.append(syms + f" -> {lname}__{_SUFFIX[mode]}__{a.index}")
                if not alts:
                    alts = ['"__NEVER__"']
                lines.append(f"{lname}__{_SUFFIX[mode]}: " + "\n    | ".join(alts))
        for name in sorted(lexical):
            for mode in (0, 1):
                lines.append(f'{_lex_name(name, mode)}: "\\u0000{name}{mode}"')  # matched by class, not text
        return "\n".join(lines) + "\n"

    # ----------------------------------------------------------------- one phrase
    def parse_tokens(self, tokens: list[str], mode: str = "major",
                     places: list[tuple[int | None, float | None]] | None = None) -> tuple[bool, ParseError | None]:
        """Decide whether one phrase's tokens parse; returns (True, None) or (False, located error)."""
        if not tokens:
            return False, ParseError(places[0][0] if places else None, None, "", ["a chord"])
        ok, idx, expected = self.recognizer.recognize(tokens, (self.grammar.source.parse_start, MODES.index(mode)))
        if ok:
            return self._check_bass_line(tokens, mode, places)
        exp = sorted({f for x in expected for f in self.recognizer.term_figures.get(x, ())})
        eof = idx >= len(tokens)
        idx = min(idx, len(tokens) - 1)
        m, b = places[idx] if places else (None, None)
        tok = tokens[idx] if not eof else f"(end of phrase after {tokens[idx]})"
        return False, ParseError(m, b, tok, exp, idx)

    @staticmethod
    def _check_bass_line(tokens: list[str], mode: str,
                         places: list[tuple[int | None, float | None]] | None) -> tuple[bool, ParseError | None]:
        """The surface rule on a derived phrase: the chord after a seventh in the bass steps down."""
        key = "C" if mode == "major" else "a"  # the rule is transposition-invariant: any tonic will do
        chords: list[tuple[str, str]] = []
        where: list[int] = []  # token index of each chord
        for i, tok in enumerate(tokens):
            if tok.startswith("@"):
                try:
                    key = relative_key(key, tok[1:])
                except GrammarError:  # a marker no key can spell: nothing to check across it
                    return True, None
                continue
            chords.append((tok, key))
            where.append(i)
        bad = first_unresolved_bass_seventh(chords)
        if bad is None:
            return True, None
        fig = chords[bad][0]
        idx = where[bad + 1]
        m, b = places[idx] if places else (None, None)
        return False, ParseError(m, b, tokens[idx], [f"a chord whose bass lies a step below the bass of {fig} "
                                                      f"(its seventh, which must fall)"], idx)

    def tree(self, tokens: list[str], mode: str = "major") -> Tree:
        """The parse tree of tokens that :meth:`parse_tokens` accepts (Lark's Earley parser)."""
        start = f"{self.grammar.source.parse_start.lower()}__{_SUFFIX[MODES.index(mode)]}"
        return self.lark.parse(list(tokens), start=start)

    def _phrase(self, start_m, end_m, key, tokens, mode, places) -> PhraseParse:
        ok, err = self.parse_tokens(tokens, mode, places)
        factory = (lambda t=tuple(tokens), m=mode: self.tree(list(t), m)) if ok else None
        return PhraseParse(start_m, end_m, key, tokens, ok, err, factory)

    # ----------------------------------------------------------------- whole analyses
    def parse(self, source: Any) -> ParseResult:
        if isinstance(source, (list, tuple)) and all(isinstance(t, str) for t in source):
            tokens = [t.strip() for t in source if t.strip()]
            if not tokens:
                raise PlanError("a phrase with no chords", hint="Give at least one Roman-numeral figure.")
            result = ParseResult(file=None, grammar=self.grammar.name)
            phrase = self._phrase(None, None, "C", tokens, "major", None)
            if not phrase.parsed:  # token lists carry no key: a minor reading may fit
                minor = self._phrase(None, None, "a", tokens, "minor", None)
                phrase = minor if minor.parsed else phrase
            result.phrases.append(phrase)
            return result
        if isinstance(source, Plan):
            plan, file = source, None
        else:
            from .analysis import plan_from_romantext

            file = str(source) if isinstance(source, (str, Path)) and "\n" not in str(source) else None
            plan = plan_from_romantext(source)
        return self.parse_plan(plan, file)

    def parse_plan(self, plan: Plan, file: str | None = None) -> ParseResult:
        result = ParseResult(file=file, grammar=self.grammar.name, plan=plan)
        metre = plan.metre_obj
        by_phrase: dict[int, list] = {}
        for c in plan.chords:
            by_phrase.setdefault(c.phrase, []).append(c)
        if not by_phrase:
            raise PlanError("the analysis has no chords", Location(file=file))
        for p_index in sorted(by_phrase):
            chords = by_phrase[p_index]
            tokens = phrase_tokens(chords)
            places: list[tuple[int | None, float | None]] = []
            prev_key = None
            for c in chords:
                mb = metre.measure_beat(c.onset, plan.pickup)
                if prev_key is not None and c.key != prev_key:
                    places.append(mb)
                prev_key = c.key
                places.append(mb)
            mode = "minor" if chords[0].key[0].islower() else "major"
            end_m = metre.measure_beat(chords[-1].onset, plan.pickup)[0]
            result.phrases.append(self._phrase(places[0][0], end_m, chords[0].key, tokens, mode, places))
        return result


def _lex_name(rule: str, mode: int) -> str:
    return f"LEX_{rule.upper()}_{_SUFFIX[mode].upper()}"


def _make_lexer():
    """A Lark lexer over a list of figures: one token per figure (matched by class in Earley)."""

    class FigureLexer(Lexer):
        def __init__(self, lexer_conf) -> None:
            pass

        def lex(self, data):
            for i, tok in enumerate(data):
                yield Token("FIGURE", tok, start_pos=i, line=1, column=i + 1)

    return FigureLexer


def alternative_of(tree_data: str) -> tuple[str, int, int] | None:
    """``"tr__maj__2"`` -> ``("tr", 0, 2)``: rule (lowercased), mode index and alternative index."""
    parts = str(tree_data).rsplit("__", 2)
    if len(parts) != 3 or parts[1] not in _SUFFIX:
        return None
    return parts[0], _SUFFIX.index(parts[1]), int(parts[2])


class Recognizer:
    """A compact Earley recognizer over the same mode-split grammar Lark parses.

    Lark's Earley parser builds parse trees but costs tens of microseconds per chart item
    in pure Python; deciding *whether* a phrase parses, and where it stops, needs only
    integer items. ``PhraseParser`` runs this first and asks Lark for the tree only when a
    tree is wanted (``PhraseParse.tree`` is built on first access).
    """

    def __init__(self, source, lexical: dict[tuple[str, int], dict[str, int]]) -> None:
        lex_rules = {n for n, _ in lexical}
        nt: dict[tuple[str, int], int] = {}
        for r in source.rules:
            if r not in lex_rules:
                for m in (0, 1):
                    nt[(r, m)] = len(nt)
        terms: dict[tuple, int] = {}
        self.term_figures: dict[int, list[str]] = {}

        def term_id(key: tuple, figures: list[str]) -> int:
            if key not in terms:
                terms[key] = len(nt) + len(terms)
                self.term_figures[terms[key]] = figures
            return terms[key]

        lhs: list[int] = []
        rhs: list[tuple[int, ...]] = []
        for r in source.rules.values():
            if r.name in lex_rules:
                continue
            for m in (0, 1):
                for a in r.alternatives:
                    if a.mode is not None and a.mode != MODES[m]:
                        continue
                    cm = _mode_of_numeral(a.key) if a.key else m
                    body = []
                    for s in a.symbols:
                        if is_literal(s):
                            body.append(term_id(("lit", literal_value(s)), [literal_value(s)]))
                        elif s in lex_rules:
                            body.append(term_id(("lex", s, cm), sorted(lexical[(s, cm)])))
                        else:
                            body.append(nt[(s, cm)])
                    lhs.append(nt[(r.name, m)])
                    rhs.append(tuple(body))
        self.nt = nt
        self.n_nt = len(nt)
        self.lhs = lhs
        self.rhs = rhs
        # figure -> terminal ids it matches
        self.match: dict[str, frozenset[int]] = {}
        tmp: dict[str, set[int]] = {}
        for tid, figs in self.term_figures.items():
            for f in figs:
                tmp.setdefault(f, set()).add(tid)
        self.match = {f: frozenset(v) for f, v in tmp.items()}
        # prediction closure: nonterminal -> productions whose left side it can start with
        by_lhs: dict[int, list[int]] = {}
        for p, a in enumerate(lhs):
            by_lhs.setdefault(a, []).append(p)
        self.closure: dict[int, tuple[int, ...]] = {}
        for x in range(self.n_nt):
            seen_nt = {x}
            stack = [x]
            prods: list[int] = []
            while stack:
                y = stack.pop()
                for p in by_lhs.get(y, ()):
                    prods.append(p)
                    first = rhs[p][0]
                    if first < self.n_nt and first not in seen_nt:
                        seen_nt.add(first)
                        stack.append(first)
            self.closure[x] = tuple(prods)

    def recognize(self, tokens: list[str], start: tuple[str, int]) -> tuple[bool, int, set[int]]:
        """(accepted, index of the token where it failed or len(tokens), expected terminal ids)."""
        n_nt = self.n_nt
        lhs, rhs, closure = self.lhs, self.rhs, self.closure
        S = self.nt[start]
        n = len(tokens)
        empty: frozenset = frozenset()
        seen = [set() for _ in range(n + 1)]
        waiting: list[dict[int, list]] = [dict() for _ in range(n + 1)]
        nxt: list = [(p, 0, 0) for p in closure[S]]
        for i in range(n + 1):
            agenda = [it for it in nxt if it not in seen[i]]
            seen_i = seen[i]
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
                        for p2 in closure[x]:
                            it = (p2, 0, i)
                            if it not in seen_i:
                                seen_i.add(it)
                                agenda.append(it)
                else:
                    term_wait.append((x, item))
            if i == n:
                ok = any(lhs[p] == S and dot == len(rhs[p]) and o == 0 for p, dot, o in seen_i)
                return ok, n, {x for x, _ in term_wait}
            m = self.match.get(tokens[i], empty)
            for x, (p, dot, orig) in term_wait:
                if x in m:
                    nxt.append((p, dot + 1, orig))
            if not nxt:
                return False, i, {x for x, _ in term_wait}
        return False, n, set()  # pragma: no cover
