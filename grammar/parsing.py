"""Parsing analyses with the grammar that samples: Lark's Earley parser, phrase by phrase.

The grammar is re-emitted as plain Lark with one copy of every rule per mode (so
``minor``-only alternatives stay out of major phrases, and ``key=`` alternatives switch
copies) and one alias per alternative (``tr__maj__2``), so a parse tree says exactly which
alternative was used; that is what :mod:`partimento.grammar.fit` counts. A phrase's
tokens are its figures relative to the local key, with ``@V``-style tokens where the
key changes inside the phrase. Errors are located at the measure and beat of the chord
where Lark got stuck, with the figures it expected there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import Lexer

from .errors import InputError, Location, PlanError
from .plan import Plan
from .sampler import MODES, is_literal, key_relation, literal_value, _mode_of_numeral

__all__ = ["ParseError", "PhraseParse", "ParseResult", "PhraseParser", "phrase_tokens"]

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
    """One phrase: its span in measures, its tokens, and a tree or an error."""

    start_measure: int | None
    end_measure: int | None
    key: str
    tokens: list[str]
    tree: Tree | None = None
    error: ParseError | None = None

    @property
    def parsed(self) -> bool:
        return self.tree is not None

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
        self.lark_text = self._emit(grammar.source)
        self.literal_names: dict[str, str] = {}
        self.lark = Lark(self.lark_text, parser="earley", lexer=_make_lexer(self.literal_names),
                         start=[f"{grammar.source.parse_start}__{s}" for s in _SUFFIX],
                         keep_all_tokens=True, ambiguity="resolve")
        for t in self.lark.terminals:
            self.literal_names[t.pattern.value] = t.name
        self.term_values = {t.name: t.pattern.value for t in self.lark.terminals}

    @staticmethod
    def _emit(source) -> str:
        lines = []
        for r in source.rules.values():
            lname = r.name.lower()
            for mode in (0, 1):
                alts = []
                for a in r.alternatives:
                    if a.mode is not None and a.mode != MODES[mode]:
                        continue
                    cm = _mode_of_numeral(a.key) if a.key else mode
                    syms = [s if is_literal(s) else f"{s.lower()}__{_SUFFIX[cm]}" for s in a.symbols]
                    alts.append(" ".join(syms) + f" -> {lname}__{_SUFFIX[mode]}__{a.index}")
                if not alts:
                    alts = ['"__NEVER__"']
                lines.append(f"{lname}__{_SUFFIX[mode]}: " + "\n    | ".join(alts))
        return "\n".join(lines) + "\n"

    # ----------------------------------------------------------------- one phrase
    def parse_tokens(self, tokens: list[str], mode: str = "major",
                     places: list[tuple[int | None, float | None]] | None = None) -> tuple[Tree | None, ParseError | None]:
        """Parse one phrase's tokens; returns (tree, None) or (None, located error)."""
        start = f"{self.grammar.source.parse_start}__{_SUFFIX[MODES.index(mode)]}"
        if not tokens:
            return None, ParseError(places[0][0] if places else None, None, "", ["a chord"])
        try:
            return self.lark.parse(tokens, start=start), None
        except UnexpectedToken as e:
            idx = e.token.column - 1 if e.token.column else 0
            return None, self._error(tokens, idx, e.expected, places)
        except UnexpectedEOF as e:
            return None, self._error(tokens, len(tokens) - 1, e.expected, places, eof=True)
        except UnexpectedInput as e:  # pragma: no cover - other Lark errors
            return None, self._error(tokens, 0, set(), places)

    def _error(self, tokens, idx, expected, places, eof=False) -> ParseError:
        exp = sorted({self.term_values.get(n, n) for n in expected if n in self.term_values})
        idx = max(0, min(idx, len(tokens) - 1))
        m, b = places[idx] if places else (None, None)
        tok = tokens[idx] if not eof else f"(end of phrase after {tokens[idx]})"
        return ParseError(m, b, tok, exp, idx)

    # ----------------------------------------------------------------- whole analyses
    def parse(self, source: Any) -> ParseResult:
        if isinstance(source, (list, tuple)) and all(isinstance(t, str) for t in source):
            tokens = [t.strip() for t in source if t.strip()]
            if not tokens:
                raise PlanError("a phrase with no chords", hint="Give at least one Roman-numeral figure.")
            result = ParseResult(file=None, grammar=self.grammar.name)
            mode = "minor" if tokens[0][:1].islower() and tokens[0].lstrip("b#")[:1] in "iv" and tokens[0].startswith("i") else "major"
            tree, err = self.parse_tokens(tokens, mode)
            if err is not None and mode == "major":
                tree2, err2 = self.parse_tokens(tokens, "minor")
                if tree2 is not None:
                    tree, err = tree2, None
            result.phrases.append(PhraseParse(None, None, "?", tokens, tree, err))
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
            tree, err = self.parse_tokens(tokens, mode, places)
            end_m = metre.measure_beat(chords[-1].onset, plan.pickup)[0]
            result.phrases.append(PhraseParse(places[0][0], end_m, chords[0].key, tokens, tree, err))
        return result


def _make_lexer(names: dict[str, str]):
    """A Lark lexer over a list of figures: one token per figure, typed by exact match."""

    class FigureLexer(Lexer):
        def __init__(self, lexer_conf) -> None:
            pass

        def lex(self, data):
            for i, tok in enumerate(data):
                yield Token(names.get(tok, _UNKNOWN), tok, start_pos=i, line=1, column=i + 1)

    return FigureLexer


def alternative_of(tree_data: str) -> tuple[str, int] | None:
    """``"tr__maj__2"`` -> ``("tr", 2)``: which rule and alternative a parse-tree node used."""
    parts = str(tree_data).rsplit("__", 2)
    if len(parts) != 3 or parts[1] not in _SUFFIX:
        return None
    return parts[0], int(parts[2])
