"""Load a ``.lark`` grammar with its annotations; the object that samples and parses.

A partimento grammar is an ordinary Lark file. Everything Lark does not know about
lives in ``//`` comments, so the file stays valid Lark:

* a comment line ``// @phrase bars=2:1,4:3 label=antecedent`` (or ``// @section A``)
  directly above a rule applies to that rule;
* a trailing comment on an alternative's line (``| ii65 V  // w=3 cadence=PAC``)
  applies to the alternatives on that line: ``w=`` weight (default 1; weights are
  relative within a rule, so no weights = uniform), ``key=V`` (the alternative is in
  the key on that degree; case gives the mode), ``cadence=PAC|IAC|HC|DC|PC``,
  ``fermata``, ``repeat`` (repeated symbols share one derivation, a let-binding),
  ``major`` / ``minor`` (only in that mode);
* ``// @grammar durations=1:3,2:1 final=2:1,4:1`` sets the chord-duration weights
  in beats, for chords inside a phrase and for a phrase's last chord.

Chords are string literals holding music21 Roman-numeral figures (``"V65"``); a
literal starting with ``@`` (``"@V"``) marks a key change inside a phrase and must open
an alternative annotated with the same ``key=``. The sampler supports the subset of
Lark that reads as a weighted context-free grammar: names, string literals, ``|``,
``[...]`` and ``x?``. Recursion replaces ``*`` and ``+``.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Iterable

from .errors import GrammarError, GrammarSyntaxError, InputError, Location

__all__ = ["Alternative", "RuleDef", "Grammar", "load", "available_grammars", "companion_weights", "GRAMMAR_DIR"]

GRAMMAR_DIR = Path(__file__).parent / "grammars"
ALT_FLAGS = ("fermata", "repeat", "major", "minor")
RULE_FLAGS = ("phrase",)


@dataclass
class Alternative:
    """One right-hand side of a rule after ``[...]`` expansion, with its annotations."""

    rule: str
    index: int  # position among the rule's expanded alternatives
    symbols: tuple[str, ...]  # rule names, or literals kept in double quotes: '"V7"'
    weight: float = 1.0
    key: str | None = None  # Roman numeral of the alternative's key relative to the parent's
    cadence: str | None = None
    fermata: bool = False
    repeat: bool = False
    mode: str | None = None  # "major" | "minor" | None (both)
    line: int = 0
    columns: tuple[int, ...] = ()  # 1-based column of each symbol on its line (0 where unknown)
    label: str = ""  # "rule:index", how derivations name it

    def __post_init__(self) -> None:
        if not self.label:
            self.label = f"{self.rule}:{self.index}"

    @property
    def text(self) -> str:
        """The key a weights file uses: symbols joined by spaces, then ``[minor]`` if mode-only."""
        text = " ".join(self.symbols)
        return f"{text} [{self.mode}]" if self.mode else text


@dataclass
class RuleDef:
    """A rule (or a named terminal, read as a rule of literals) and its rule-level annotations."""

    name: str
    alternatives: list[Alternative]
    line: int
    phrase: bool = False
    bars: dict[int, float] | None = None  # phrase length in bars -> weight
    label: str = ""
    section: str | None = None


_TOKEN_RE = re.compile(r'''\s*(?:(?P<str>"(?:[^"\\]|\\.)*"i?)|(?P<name>[?!]?[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[|\[\]?])|(?P<bad>\S))''')
_DEF_RE = re.compile(r"^([?!]?)([A-Za-z_][A-Za-z0-9_]*)(\.\-?\d+)?\s*:(?!\s*[:=])")


_ANNOTATION_KEYS = ("w", "key", "cadence", "bars", "label", "durations", "final", "start", "parse")


def _parse_kv(text: str, where: Location, allowed_flags: Iterable[str]) -> dict[str, str]:
    """Leading ``k=v`` and flag words of a comment; the first other word starts free text."""
    out: dict[str, str] = {}
    for part in text.split():
        if "=" in part:
            k, v = part.split("=", 1)
            if k not in _ANNOTATION_KEYS:
                raise GrammarError(f"unknown annotation {part!r}", where,
                                   expected=["w=NUMBER", "key=V", "cadence=PAC", *allowed_flags])
            out[k.strip()] = v.strip()
        elif part in allowed_flags:
            out[part] = "1"
        else:
            break
    return out


def _parse_weights_map(text: str, where: Location) -> dict[int, float]:
    out: dict[int, float] = {}
    try:
        for part in text.split(","):
            n, _, w = part.partition(":")
            out[int(n)] = float(w) if w else 1.0
    except ValueError:
        raise GrammarError(f"cannot read {text!r}; write lengths with optional weights such as 2:1,4:3",
                           where) from None
    if any(n <= 0 or w < 0 for n, w in out.items()):
        raise GrammarError(f"lengths must be positive and weights non-negative in {text!r}", where)
    return out


@lru_cache(maxsize=64)
def _check_lark_syntax(text: str, file: str | None) -> None:
    """Let Lark itself read the file, so syntax errors carry Lark's line and column.

    A text Lark accepted once is not read again in the same process (building Lark's parser
    is most of a grammar's load time, and weights are applied to a fresh read of the same
    text); a text it rejects raises every time (exceptions are not cached)."""
    from lark import Lark
    from lark.exceptions import GrammarError as LarkGrammarError, UnexpectedInput

    try:
        Lark(text, parser="earley", lexer="dynamic", start=_first_rule(text) or "start")
    except UnexpectedInput as e:
        found = getattr(e, "token", None) or getattr(e, "char", None)
        expected = sorted(getattr(e, "expected", None) or getattr(e, "allowed", None) or [])
        shown = str(found) if found is not None else ""
        what = ("unexpected end of line" if shown and not shown.strip() else f"unexpected {shown!r}") if shown \
            else "unexpected input"
        raise GrammarSyntaxError(f"Lark cannot read the grammar: {what} ({type(e).__name__})",
                                 Location(file=file, line=e.line, column=e.column),
                                 expected=[_lark_token_name(x) for x in expected][:12],
                                 hint="Check the rule on that line: rules look like 'name: a b | c'.") from None
    except LarkGrammarError as e:
        where = Location(file=file)
        m = re.search(r"line (\d+)(?:,? col(?:umn)? (\d+))?", str(e))
        rule = re.search(r"(?:in rule|Rule) '?([a-z_][a-z0-9_]*)", str(e))
        if m:
            where = Location(file=file, line=int(m.group(1)), column=int(m.group(2)) if m.group(2) else None)
        elif rule:  # "Rule 'X' used but not defined (in rule phrase)": the line of that rule
            name = re.search(r"in rule ([a-z_][a-z0-9_]*)", str(e))
            target = (name or rule).group(1)
            for lineno, line in enumerate(text.splitlines(), start=1):
                dm = _DEF_RE.match(line)
                if dm and dm.group(2) == target:
                    where = Location(file=file, line=lineno)
                    break
        # Lark's message may run over several lines ("... in <string>:" then the rule): one paragraph
        text_ = " ".join(part.strip() for part in str(e).splitlines() if part.strip())
        text_ = text_.replace("<string>", file or "the grammar")
        raise GrammarSyntaxError(f"Lark rejects the grammar: {text_}", where) from None


_LARK_TOKEN_NAMES = {"RULE": "a rule name", "TERMINAL": "a terminal name", "STRING": "a \"literal\"",
                     "REGEXP": "a /regexp/", "_NL": "a new line", "OR": "|", "_COLON": ":", "LPAR": "(",
                     "RPAR": ")", "LSQB": "[", "RSQB": "]", "OP": "an operator (? * +)", "_TO": "->",
                     "_DOT": ".", "NUMBER": "a number", "TILDE": "~", "_DOTDOT": ".."}


def _lark_token_name(name: str) -> str:
    """Lark's name for a token of its own grammar language, as a reader would say it (``_RPAR`` -> ``)``)."""
    return _LARK_TOKEN_NAMES.get(str(name), _LARK_TOKEN_NAMES.get(str(name).lstrip("_"), str(name)))


def _first_rule(text: str) -> str | None:
    for line in text.splitlines():
        m = _DEF_RE.match(line)
        if m and m.group(2).islower():
            return m.group(2)
    return None


@dataclass
class GrammarSource:
    """What a ``.lark`` file says: rules, annotations and grammar-level settings."""

    name: str
    path: str | None
    text: str
    rules: dict[str, RuleDef]
    durations: dict[int, float] = field(default_factory=lambda: {1: 3.0, 2: 1.0})
    final_durations: dict[int, float] = field(default_factory=lambda: {2: 2.0, 3: 1.0, 4: 1.0})
    start: str = "start"
    parse_start: str = "phrase"


def read_source(text: str, name: str, path: str | None = None) -> GrammarSource:
    """Read the subset of Lark the sampler needs, with annotations; errors carry line/column."""
    _check_lark_syntax(text, path)
    rules: dict[str, RuleDef] = {}
    settings: dict[str, str] = {}
    pending_rule_ann: dict[str, str] = {}
    current: RuleDef | None = None
    # raw alternatives: (items, annotation dict, line)
    raw: dict[str, list[tuple[list, dict, int]]] = {}
    cur_items: list | None = None
    for lineno, full in enumerate(text.splitlines(), start=1):
        code, _, comment = full.partition("//")
        comment = comment.strip()
        where = Location(file=path, line=lineno)
        if not code.strip():
            if comment.startswith("@grammar"):
                settings.update(_parse_kv(comment[len("@grammar"):], where, ()))
            elif comment.startswith("@"):
                body = comment[1:].split(None, 1)
                kind = body[0]
                rest = body[1] if len(body) > 1 else ""
                if kind == "phrase":
                    pending_rule_ann["phrase"] = "1"
                    pending_rule_ann.update(_parse_kv(rest, where, ()))
                elif kind == "section":
                    pending_rule_ann["section"] = rest.strip() or "A"
                else:
                    raise GrammarError(f"unknown rule annotation @{kind}", where,
                                       expected=["@phrase", "@section", "@grammar"])
            continue
        if code.lstrip().startswith("%"):
            current = None
            continue
        m = _DEF_RE.match(code)
        start_col = 0
        if m:
            name_ = m.group(2)
            if name_ in rules:
                raise GrammarError(f"rule {name_} is defined twice", where)
            current = RuleDef(name=name_, alternatives=[], line=lineno)
            if "phrase" in pending_rule_ann:
                current.phrase = True
                if "bars" in pending_rule_ann:
                    current.bars = _parse_weights_map(pending_rule_ann["bars"], where)
                current.label = pending_rule_ann.get("label", "")
            current.section = pending_rule_ann.get("section")
            pending_rule_ann = {}
            rules[name_] = current
            raw[name_] = []
            cur_items = []
            raw[name_].append((cur_items, {}, lineno))
            start_col = m.end()
        elif current is None:
            raise GrammarSyntaxError("text outside a rule", Location(file=path, line=lineno, column=1))
        ann = _parse_kv(comment, where, ALT_FLAGS) if comment else {}
        line_alts = [] if (not m and code.strip().startswith("|")) else [raw[current.name][-1]]
        pos = start_col
        for tm in _TOKEN_RE.finditer(code, pos):
            col = tm.start() + 1 + (len(tm.group(0)) - len(tm.group(0).lstrip()))
            if tm.group("bad"):
                raise GrammarSyntaxError(
                    f"{tm.group('bad')!r} is valid Lark but not supported by the sampler",
                    Location(file=path, line=lineno, column=col),
                    hint="Use names, \"literals\", | , [optional] and x?; write repetition as recursion.")
            if tm.group("op") == "|":
                cur_items = []
                raw[current.name].append((cur_items, {}, lineno))
                line_alts.append(raw[current.name][-1])
            elif tm.group("op"):
                cur_items.append((tm.group("op"), col))
            elif tm.group("str"):
                lit = tm.group("str")
                if lit.endswith("i"):
                    lit = lit[:-1]
                cur_items.append((lit, col))
            else:
                cur_items.append((tm.group("name").lstrip("?!"), col))
        for _, a, _ in line_alts:
            a.update(ann)
    # expand [..] and x? and build alternatives
    for rname, alts in raw.items():
        rule = rules[rname]
        for items, ann, lineno in alts:
            where = Location(file=path, line=lineno)
            for symbols in _expand_optional(items, where):
                if not symbols:
                    raise GrammarError(f"rule {rname} has an empty alternative; every alternative must yield a chord",
                                       where)
                alt = Alternative(rule=rname, index=len(rule.alternatives), symbols=tuple(s for s, _ in symbols),
                                  line=lineno, columns=tuple(c for _, c in symbols))
                try:
                    alt.weight = float(ann.get("w", 1.0))
                except ValueError:
                    raise GrammarError(f"weight {ann.get('w')!r} is not a number", where) from None
                if alt.weight < 0:
                    raise GrammarError("weights must be non-negative", where)
                alt.key = ann.get("key")
                alt.cadence = ann.get("cadence")
                alt.fermata = "fermata" in ann
                alt.repeat = "repeat" in ann
                alt.mode = "major" if "major" in ann else "minor" if "minor" in ann else None
                rule.alternatives.append(alt)
    src = GrammarSource(name=name, path=path, text=text, rules=rules)
    where = Location(file=path)
    if "durations" in settings:
        src.durations = _parse_weights_map(settings["durations"], where)
    if "final" in settings:
        src.final_durations = _parse_weights_map(settings["final"], where)
    src.start = settings.get("start", "start")
    src.parse_start = settings.get("parse", "phrase")
    return src


def _expand_optional(items: list[tuple[str, int]], where: Location) -> list[list[tuple[str, int]]]:
    """``a [b c] d?`` -> the four sequences with and without each optional part (symbols with their columns)."""
    groups: list[tuple[list, bool]] = []  # (symbols, optional)
    i = 0
    while i < len(items):
        it = items[i][0]
        if it == "[":
            j = i + 1
            inner: list = []
            while j < len(items) and items[j][0] != "]":
                if items[j][0] in ("[", "|", "?"):
                    raise GrammarSyntaxError("nested options or alternatives inside [...] are not supported by the sampler", where)
                inner.append(items[j])
                j += 1
            if j >= len(items):
                raise GrammarSyntaxError("unclosed '['", where)
            groups.append((inner, True))
            i = j + 1
        elif it in ("]",):
            raise GrammarSyntaxError("unmatched ']'", where)
        elif it == "?":
            if not groups:
                raise GrammarSyntaxError("'?' must follow a symbol", where)
            groups[-1] = (groups[-1][0], True)
            i += 1
        else:
            groups.append(([items[i]], False))
            i += 1
    out: list[list] = []
    optional = [g for g in groups if g[1]]
    for keep in itertools.product((True, False), repeat=len(optional)):
        choice = iter(keep)
        seq: list = []
        for syms, opt in groups:
            if not opt or next(choice):
                seq.extend(syms)
        out.append(seq)
    return out


def available_grammars() -> list[str]:
    """Names of the grammars shipped with partimento."""
    return sorted(p.stem for p in GRAMMAR_DIR.glob("*.lark"))


def _resolve(name_or_path: str | Path) -> tuple[str, str | None, str]:
    text_path = Path(str(name_or_path))
    if str(name_or_path).endswith(".lark") or text_path.is_file():
        if not text_path.is_file():
            raise InputError("no such grammar file", Location(file=str(text_path)))
        text = text_path.read_text(encoding="utf-8", errors="replace")
        if not text.strip():
            raise GrammarError("the grammar file is empty", Location(file=str(text_path)))
        return text_path.stem, str(text_path), text
    shipped = GRAMMAR_DIR / f"{name_or_path}.lark"
    if not shipped.is_file():
        raise GrammarError(f"unknown grammar {str(name_or_path)!r}", expected=available_grammars(),
                           hint="Give a shipped grammar's name or the path of a .lark file.")
    return str(name_or_path), str(shipped), shipped.read_text(encoding="utf-8")


class Grammar:
    """A loaded grammar: samples plans (:meth:`sample`) and parses analyses (:meth:`parse`)."""

    def __init__(self, source: GrammarSource, weights: dict[str, dict[str, float]] | None = None) -> None:
        from .sampler import Tables

        self.source = source
        self.name = source.name
        if weights:
            from .weights import apply_weights

            apply_weights(source, weights)
        self.tables = Tables(source)  # validates: productive, no unary cycles, phrases present

    def __repr__(self) -> str:
        return f"Grammar({self.name!r}, {len(self.source.rules)} rules)"

    @property
    def rules(self) -> dict[str, RuleDef]:
        return self.source.rules

    def with_weights(self, weights: str | Path | dict) -> "Grammar":
        """A copy of this grammar using weights from a ``weights.json`` file or dict."""
        from .weights import read_weights

        w = read_weights(weights) if not isinstance(weights, dict) else weights
        return Grammar(read_source(self.source.text, self.source.name, self.source.path), w)

    def sample(self, key: str = "C", bars: int = 16, metre: str = "4/4", seed: int | None = None,
               **constraints: Any):
        """Sample a :class:`~partimento.grammar.plan.Plan` of exactly ``bars`` bars.

        Constraints: ``phrase_bars`` (int or list of ints: allowed phrase lengths),
        ``modulate`` (False: stay in the home key). Same seed, same plan.
        """
        return _sample_plan()(self, key=key, bars=bars, metre=metre, seed=seed, **constraints)

    @cached_property
    def _parser(self):
        from .parsing import PhraseParser

        return PhraseParser(self)

    def parse(self, source: Any):
        """Parse a RomanText file/text, music21 stream, Plan or token list phrase by phrase."""
        return self._parser.parse(source)


@lru_cache(maxsize=1)
def _sample_plan():
    """The sampler's entry point, imported on the first sample (the sampler imports numpy tables;
    a function-level import would cost a module lookup on every plan)."""
    from .sampler import sample_plan

    return sample_plan


def companion_weights(path: str | Path) -> Path:
    """Where a grammar's own learned weights live: ``name.weights.json`` beside ``name.lark``."""
    path = Path(path)
    return path.with_name(path.stem + ".weights.json")


#: Grammars loaded so far, keyed by everything that decides one: its name, path and text and the
#: weights file's path and text (a grammar given weights as a mapping is built afresh). A grammar's
#: first plan builds its sampling tables (a 16-bar chorale plan: 73 ms on a fresh grammar, 4 ms on a
#: kept one, ``benchmarks/results/grammar_load.json``), so ``compose`` called again in one process (a
#: notebook, a benchmark) reuses them. A loaded grammar is shared: treat it as read-only
#: (:meth:`Grammar.with_weights` makes a variant).
_LOADED: dict[tuple, Grammar] = {}
_LOADED_MAX = 16


def load(name_or_path: str | Path, weights: str | Path | dict | bool | None = None) -> Grammar:
    """Load a shipped grammar by name (see :func:`available_grammars`) or a ``.lark`` file.

    ``weights``: a weights file or mapping (see :mod:`partimento.grammar.weights`); by
    default the companion ``name.weights.json`` beside the grammar is used when it exists
    (the shipped grammars carry weights fitted on the When-in-Rome development corpus, smoothing
    chosen by cross-validation: tools/fit_shipped_weights.py);
    ``weights=False`` uses only the ``w=`` annotations of the ``.lark`` file.
    The same file with the same weights gives the same (shared) :class:`Grammar`, read again
    whenever either file's text changes.
    """
    from .weights import read_weights

    name, path, text = _resolve(name_or_path)
    weights_path = None
    if weights is None and path is not None and companion_weights(path).is_file():
        weights_path = companion_weights(path)
    elif isinstance(weights, (str, Path)):
        weights_path = Path(weights)
    key = None
    if not isinstance(weights, dict):
        weights_text = (weights_path.read_text(encoding="utf-8")
                        if weights_path is not None and weights_path.is_file() else None)
        key = (name, path, text, repr(weights) if isinstance(weights, bool) else None,
               None if weights_path is None else str(weights_path), weights_text)
        hit = _LOADED.get(key)
        if hit is not None:
            return hit
    source = read_source(text, name, path)
    w = None
    if weights_path is not None:
        w = read_weights(weights_path, weights_text)
    elif isinstance(weights, dict):
        w = weights
    grammar = Grammar(source, w)
    if key is not None:
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = grammar
    return grammar
