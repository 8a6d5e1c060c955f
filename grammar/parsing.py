"""Parsing analyses with the grammar that samples, phrase by phrase, chords matched by identity.

The grammar is compiled into integer productions with one copy of every rule per mode
(so ``minor``-only alternatives stay out of major phrases, and ``key=`` alternatives
switch copies) and parsed by :mod:`partimento.grammar.earley`. A phrase's tokens are its
figures relative to the local key, with ``@V``-style tokens where the key changes inside
the phrase.

**Terminals match chords, not spellings.** Every chord literal of the grammar and every
token of a phrase is read through music21 in a reference key of its mode
(:func:`~partimento.grammar.theory.chord_identity`): ``IVmaj7`` and ``IV7`` are one
chord in major, ``viiø7``, ``vii/o7`` and ``viiø65`` are one chord (the last in another
inversion), ``V/V`` and ``V/v`` are one chord. A literal in plain form (``"V"``, ``"V7"``,
``"viio7/V"``) is the chord in any inversion; one with a figured-bass inversion
(``"V6"``, ``"V65"``, ``"V53"``, ``"V753"``, ``"I64"``) is that inversion only.

The tree of an accepted phrase is the most probable derivation under the grammar's
weights (Viterbi), as a Lark :class:`~lark.Tree` whose nodes are named
``rule__maj__2`` (rule, mode, alternative index; a chord class's alternative names the
figure it matched): that is what :mod:`partimento.grammar.fit` counts and what a parsed
chord's derivation path is read from. Errors are located at the measure and beat of the
chord where the parse got stuck, with the figures that would have fitted there.

Parsing judges harmonic syntax only. The sampler also keeps one surface rule of voice
leading (:mod:`partimento.grammar.bass_line`: a seventh in the bass falls by step), which
an analysis labelled chord by chord need not show (Bach's bass often resolves the seventh
through a passing note the analysis does not label); the checker judges voice leading.
So every sampled phrase parses, and alternatives of weight 0, which the sampler never
draws, are not part of the language either.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Token, Tree

from .earley import NEG_INF, EarleyParser, log_probabilities
from .errors import GrammarError, Location, PlanError
from .plan import Plan
from .derivation import Derivation
from .sampler import MODES, is_literal, key_relation, literal_value, relative_key, _mode_of_numeral
from .theory import chord_identity, is_open_figure

__all__ = ["ParseError", "PhraseParse", "ParseResult", "PhraseParser", "phrase_tokens", "alternative_of",
           "token_modes"]

_SUFFIX = ("maj", "min")


@dataclass
class ParseError:
    """Where a phrase stopped parsing: the chord, its place, and what would have fitted."""

    measure: int | None
    beat: float | None
    token: str
    expected: list[str]
    index: int = 0  # position of the token in the phrase
    reason: str = ""  # why, when it is not "the grammar expects something else here"

    def to_dict(self) -> dict[str, Any]:
        d = {"measure": self.measure, "beat": self.beat, "token": self.token, "expected": self.expected}
        if self.reason:
            d["reason"] = self.reason
        return d

    def __str__(self) -> str:
        where = f"measure {self.measure}, beat {self.beat:g}: " if self.measure is not None else f"token {self.index + 1}: "
        if self.reason:
            return f"{where}{self.token!r} {self.reason}"
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
        """The most probable parse tree (a Lark Tree, built on first access), or None."""
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

    def derivation_path(self, chord: int):
        """Why chord ``chord`` of the analysis is there, read from its phrase's parse tree (see
        :meth:`Plan.derivation_path`); None when its phrase did not parse."""
        if self.plan is None:
            raise PlanError("this parse has no plan (a token list): parse a RomanText file or a plan")
        return self.plan.derivation_path(chord)

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


def token_modes(tokens: list[str], mode: str) -> list[str]:
    """The mode each token is read in: the phrase's, then the mode each ``@X`` marker names."""
    out = []
    for tok in tokens:
        if tok.startswith("@"):
            out.append(mode)
            mode = MODES[_mode_of_numeral(tok[1:])]
        else:
            out.append(mode)
    return out


@dataclass(frozen=True)
class _Terminal:
    """A terminal of the compiled grammar: a chord class (rule) or one literal, in one mode."""

    name: str  # rule name of a chord class, or the literal's figure
    mode: int
    rule: str | None  # the chord-class rule, None for a literal inside an alternative
    # (alternative index or -1, figure, chord identity without bass or None for a marker, bass or None = open)
    members: tuple


class PhraseParser:
    """The compiled grammar (both modes), chord matching by identity, and Earley parsing."""

    def __init__(self, grammar) -> None:
        self.grammar = grammar
        source = grammar.source
        rules = source.rules
        # chord-class rules (every alternative one chord literal) become one terminal that matches
        # any of their chords: far fewer Earley items than one production per figure
        self.lexical: set[str] = {r.name for r in rules.values() if r.alternatives and all(
            len(a.symbols) == 1 and is_literal(a.symbols[0]) and not a.key
            and not literal_value(a.symbols[0]).startswith("@") for a in r.alternatives)}
        reach: set[str] = set()  # only what phrases use: form rules are never parsed
        stack = [source.parse_start]
        while stack:
            n = stack.pop()
            if n not in reach:
                reach.add(n)
                stack.extend(s for a in rules[n].alternatives for s in a.symbols if not is_literal(s))
        self.nt: dict[tuple[str, int], int] = {}
        for name in rules:
            if name in reach and name not in self.lexical:
                for m in (0, 1):
                    self.nt[(name, m)] = len(self.nt)
        self.terminals: list[_Terminal] = []
        term_ids: dict[tuple, int] = {}

        def terminal(key: tuple, make) -> int:
            tid = term_ids.get(key)
            if tid is None:
                tid = term_ids[key] = len(self.nt) + len(self.terminals)
                self.terminals.append(make())
            return tid

        lhs: list[int] = []
        rhs: list[tuple[int, ...]] = []
        weights: dict[int, list[float]] = {}
        self.productions: list[tuple[str, int, int]] = []  # (rule, mode, alternative index)
        for r in rules.values():
            if r.name not in reach or r.name in self.lexical:
                continue
            for m in (0, 1):
                for a in r.alternatives:
                    if (a.mode is not None and a.mode != MODES[m]) or a.weight <= 0:
                        continue
                    cm = _mode_of_numeral(a.key) if a.key else m
                    body = []
                    for s, col in zip(a.symbols, a.columns or (0,) * len(a.symbols)):
                        if is_literal(s):
                            body.append(terminal(("lit", s, cm), lambda s=s, cm=cm, a=a, col=col: _Terminal(
                                literal_value(s), cm, None, (self._member(-1, literal_value(s), cm, a, col),))))
                        elif s in self.lexical:
                            body.append(terminal(("lex", s, cm), lambda s=s, cm=cm: self._chord_class(rules[s], cm)))
                        else:
                            body.append(self.nt[(s, cm)])
                    lhs.append(self.nt[(r.name, m)])
                    rhs.append(tuple(body))
                    weights.setdefault(self.nt[(r.name, m)], []).append(a.weight)
                    self.productions.append((r.name, m, a.index))
        # production log probabilities, normalised per (rule, mode) over the alternatives that exist there
        log_prob = [0.0] * len(lhs)
        by_lhs: dict[int, list[int]] = {}
        for p, a in enumerate(lhs):
            by_lhs.setdefault(a, []).append(p)
        for a, prods in by_lhs.items():
            for p, lp in zip(prods, log_probabilities([weights[a][i] for i in range(len(prods))])):
                log_prob[p] = lp
        self.earley = EarleyParser(len(self.nt), lhs, rhs, log_prob)
        self.rule_names = {r.lower(): r for r in rules}
        # chord identity -> [(terminal id, bass or None, alternative index, log prob)] per mode
        self._by_chord: list[dict] = [{}, {}]
        self._markers: dict[str, set[int]] = {}
        for tid, t in enumerate(self.terminals, start=len(self.nt)):
            for alt, fig, chord, bass, lp in t.members:
                if chord is None:
                    self._markers.setdefault(fig, set()).add(tid)
                else:
                    self._by_chord[t.mode].setdefault(chord, []).append((tid, bass, alt, lp))
        self._match_cache: dict[tuple[str, int], tuple[frozenset[int], dict[int, tuple[int, float]]]] = {}
        self._last_chart: tuple | None = None  # ((tokens, mode), (chart, matches)) of the last phrase

    # ----------------------------------------------------------------- terminals
    def _member(self, alt: int, fig: str, mode: int, a, col: int, lp: float = 0.0) -> tuple:
        if fig.startswith("@"):
            return alt, fig, None, None, lp
        ident = chord_identity(fig, MODES[mode])
        if ident is None:
            raise GrammarError(f"{fig!r} (rule {a.rule}) is not a Roman numeral music21 can read",
                               Location(file=self.grammar.source.path, line=a.line, column=col or None),
                               hint="Figures are Roman numerals as music21 writes them, e.g. I, V65, viio7/V, It6.")
        return alt, fig, ident.chord, None if is_open_figure(fig) else ident.bass, lp

    def _chord_class(self, rule, mode: int) -> _Terminal:
        alts = [a for a in rule.alternatives if (a.mode is None or a.mode == MODES[mode]) and a.weight > 0]
        lps = log_probabilities([a.weight for a in alts])
        members = tuple(self._member(a.index, literal_value(a.symbols[0]), mode, a, a.columns[0] if a.columns else 0, lp)
                        for a, lp in zip(alts, lps))
        return _Terminal(rule.name, mode, rule.name, members)

    def matches(self, token: str, mode: int) -> tuple[frozenset[int], dict[int, tuple[int, float]]]:
        """Terminal ids a token matches in a mode, and per chord class the best alternative it matches."""
        key = (token, mode)
        hit = self._match_cache.get(key)
        if hit is not None:
            return hit
        best: dict[int, tuple[int, float]] = {}
        if token.startswith("@"):
            ids = frozenset(self._markers.get(token, ()))
        else:
            ident = chord_identity(token, MODES[mode])
            found = set()
            if ident is not None:
                for tid, bass, alt, lp in self._by_chord[mode].get(ident.chord, ()):
                    if bass is None or bass == ident.bass:
                        found.add(tid)
                        if tid not in best or lp > best[tid][1]:
                            best[tid] = (alt, lp)
            ids = frozenset(found)
        hit = self._match_cache[key] = (ids, best)
        return hit

    def expected_figures(self, tids) -> list[str]:
        out = set()
        for tid in tids:
            t = self.terminals[tid - len(self.nt)]
            out.update(m[1] for m in t.members)
        return sorted(out)

    # ----------------------------------------------------------------- one phrase
    def _chart(self, tokens: list[str], mode: str):
        """The Earley chart of a phrase; the last one is kept, so that :meth:`tree` after
        :meth:`parse_tokens` on the same phrase (what coverage, fit and derivations do) runs
        the recognizer once."""
        key = (tuple(tokens), mode)
        if self._last_chart is not None and self._last_chart[0] == key:
            return self._last_chart[1]
        modes = token_modes(tokens, mode)
        looked = [self.matches(t, MODES.index(m)) for t, m in zip(tokens, modes)]
        start = self.nt[(self.grammar.source.parse_start, MODES.index(mode))]
        out = self.earley.recognize([ids for ids, _ in looked], start), looked
        self._last_chart = (key, out)
        return out

    def parse_tokens(self, tokens: list[str], mode: str = "major",
                     places: list[tuple[int | None, float | None]] | None = None) -> tuple[bool, ParseError | None]:
        """Decide whether one phrase's tokens parse; returns (True, None) or (False, located error)."""
        if not tokens:
            return False, ParseError(places[0][0] if places else None, None, "", ["a chord"])
        chart, looked = self._chart(tokens, mode)
        if chart.accepted:
            return True, None
        idx = min(chart.stop, len(tokens) - 1)
        m, b = places[idx] if places else (None, None)
        if chart.stop >= len(tokens):
            return False, ParseError(m, b, f"(end of phrase after {tokens[idx]})",
                                     self.expected_figures(chart.expected), idx)
        tok = tokens[idx]
        reason = ""
        if not tok.startswith("@") and chord_identity(tok, token_modes(tokens, mode)[idx]) is None:
            reason = "is not a Roman numeral music21 can read"
        return False, ParseError(m, b, tok, self.expected_figures(chart.expected), idx, reason)

    def tree(self, tokens: list[str], mode: str = "major") -> Tree:
        """The most probable parse tree of tokens that :meth:`parse_tokens` accepts.

        Raises :class:`PlanError` when the tokens do not parse.
        """
        tokens = list(tokens)
        found = self._viterbi(tokens, mode)
        if found is None:
            ok, err = self.parse_tokens(tokens, mode)
            raise PlanError(f"the phrase does not parse with {self.grammar.name}: {err}")
        _, root, best = found
        return self._to_lark(root, tokens, best)

    def best_log_prob(self, tokens: list[str], mode: str = "major") -> float | None:
        """The log probability of the phrase's most probable parse under the grammar's weights
        (productions and the chord-class alternatives matched), or None if it does not parse."""
        found = self._viterbi(list(tokens), mode) if tokens else None
        return None if found is None else found[0]

    def _viterbi(self, tokens: list[str], mode: str):
        """(log probability, root node, best chord-class alternative per token) or None."""
        chart, looked = self._chart(tokens, mode)
        if not chart.accepted:
            return None
        best = [b for _, b in looked]

        def lexical_score(tid: int, pos: int) -> float:
            hit = best[pos].get(tid)
            return hit[1] if hit is not None else 0.0

        score, root = self.earley.best_tree(chart, lexical_score)
        return score, root, best

    def _to_lark(self, node, tokens: list[str], best: list[dict]) -> Tree:
        rule, m, idx = self.productions[node.production]
        children = []
        for kid in node.children:
            if isinstance(kid, int):
                tid = self.earley.rhs[node.production][len(children)]
                term = self.terminals[tid - len(self.nt)]
                tok = Token("KEY" if tokens[kid].startswith("@") else "CHORD", tokens[kid])
                if term.rule is not None:
                    alt = best[kid][tid][0]
                    children.append(Tree(f"{term.rule.lower()}__{_SUFFIX[term.mode]}__{alt}", [tok]))
                else:
                    children.append(tok)
            else:
                children.append(self._to_lark(kid, tokens, best))
        return Tree(f"{rule.lower()}__{_SUFFIX[m]}__{idx}", children)

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
            return self.parse_plan(source, None)
        from .analysis import plan_from_romantext

        file = str(source) if isinstance(source, (str, Path)) and "\n" not in str(source) else None
        plan = plan_from_romantext(source)
        result = self.parse_plan(plan, file)
        # the analysis now explains itself: each chord's path from its phrase's parse tree (built when asked)
        plan.grammar = plan.grammar or self.grammar.name
        plan._derivation_factory = lambda: self.derivation(result)
        return result

    def derivation(self, result: ParseResult) -> Derivation:
        """The derivation of a parsed analysis: one parse tree per phrase under an ``analysis`` root;
        a phrase that did not parse is an ``unparsed`` node over its chords."""
        kids = []
        for phrase in result.phrases:
            tree = phrase.tree
            if tree is not None:
                kids.append(self._nested(tree, phrase.key))
                continue
            key, leaves = phrase.key, []
            for tok in phrase.tokens:
                if tok.startswith("@"):
                    try:
                        key = relative_key(key, tok[1:])
                    except GrammarError:
                        pass
                leaves.append((tok, key, ()))
            kids.append(("unparsed:0", phrase.key, tuple(leaves)))
        home = result.plan.key if result.plan is not None else (result.phrases[0].key if result.phrases else "C")
        return Derivation.from_tree(("analysis:0", home, tuple(kids)), self.grammar.tables.alternative_table,
                                    self.grammar.name)

    def _nested(self, tree: Tree, key: str) -> tuple:
        """A Lark parse tree as nested (label, key, children), keys followed through ``key=`` alternatives."""
        alt = alternative_of(tree.data)
        rule = self.rule_names[alt[0]]
        a = self.grammar.rules[rule].alternatives[alt[2]]
        ckey = relative_key(key, a.key) if a.key else key
        kids = []
        for child in tree.children:
            if isinstance(child, Tree):
                kids.append(self._nested(child, ckey))
            else:
                kids.append((str(child), ckey, ()))
        return a.label, key, tuple(kids)

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


def alternative_of(tree_data: str) -> tuple[str, int, int] | None:
    """``"tr__maj__2"`` -> ``("tr", 0, 2)``: rule (lowercased), mode index and alternative index."""
    parts = str(tree_data).rsplit("__", 2)
    if len(parts) != 3 or parts[1] not in _SUFFIX:
        return None
    return parts[0], _SUFFIX.index(parts[1]), int(parts[2])
