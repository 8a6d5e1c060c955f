"""partimento's grammar layer: Lark grammars that sample and parse plans.

>>> from partimento.grammar import load
>>> plan = load("chorale").sample(key="G", bars=8, seed=1)
>>> load("harmony").parse("analysis.rntxt").coverage   # doctest: +SKIP
"""
from .errors import GrammarError, PartimentoError, PlanError
from .analysis import plan_from_romantext
from .grammar import Grammar, available_grammars, load
from .parsing import ParseError, ParseResult, PhraseParse
from .plan import ChordEvent, Phrase, Plan, Section

__all__ = [
    "load",
    "available_grammars",
    "Grammar",
    "plan_from_romantext",
    "Plan",
    "ChordEvent",
    "Phrase",
    "Section",
    "ParseResult",
    "PhraseParse",
    "ParseError",
    "PartimentoError",
    "GrammarError",
    "PlanError",
]
