"""Decision recording: why each token is what it is (``decode(..., record=True)``).

For every position of the final output a :class:`Decision` holds the model's top
candidates with their probabilities before masking (``p_model``, temperature 1), after
masking (``p_masked``: the tempered model renormalized over the legal tokens) and after
the preference layer and the nucleus (``p_final``: the distribution the token was drawn
from), each removed candidate's :class:`Removal` (the rule id or plan reason, with a
message), the chosen token, the tokens the search had already tried there, and the
backtracks that passed through the position. The legal set is stored whole, and the
trace keeps the plan, the forced tokens, the rule ids and the final tokens, so the masks
can be rebuilt from the trace alone (:meth:`Trace.constraint_at`;
``tests/hybrid/test_trace.py`` replays every position).

Plain dataclasses with ``to_dict()`` / ``from_dict()``: what ``partimento explain``
reads. The decoder fills them lazily (:mod:`.recording`): a recorded decision's legal
set and candidates, and a candidate's removals, are worked out when first read.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Sequence

import numpy as np

__all__ = ["Removal", "Candidate", "Backtrack", "Decision", "Trace"]


@dataclass
class Removal:
    """One reason a token was not legal: the layer, the rule it speaks for, and why."""

    layer: str  # "plan:chord-tone", "rule:parallel-fifths", "look-ahead:reach", "look-ahead:onset", "look-ahead:given", "given", "search:tried"
    rule: str  # a rule id ("parallel-fifths"), or "plan" for a plan layer, or "search"
    message: str  # one sentence, notes named

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "layer": self.layer, "message": self.message}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Removal":
        return cls(layer=d["layer"], rule=d["rule"], message=d["message"])


@dataclass
class Candidate:
    """One token the model proposed, and what became of it."""

    token: int
    name: str  # "F#4", "hold (F#4)", "rest"
    pitch: int | None  # MIDI pitch it sounds (a hold: the held pitch); None for a rest or nothing held
    p_model: float  # the model's probability (temperature 1, before any mask)
    p_masked: float  # tempered model over the legal tokens, renormalized (0 if removed)
    p_final: float  # the distribution sampled from: preferences applied, then the nucleus (0 outside it)
    preference: float  # the preference layer's weight (1.0: no preference spoke)
    legal: bool
    chosen: bool
    # who removed it: a list, or (as the recorder leaves it) a sequence worked out on first
    # read (:class:`~partimento.hybrid.recording.DeferredRemovals`)
    removed_by: Sequence[Removal] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}  # not asdict (see Decision.to_dict)
        d["removed_by"] = [r.to_dict() for r in self.removed_by]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Candidate":
        d = dict(d)
        d["removed_by"] = [Removal.from_dict(r) for r in d.get("removed_by", [])]
        return cls(**d)


@dataclass
class Backtrack:
    """A dead end and where the search resumed."""

    index: int  # position in Trace.backtracks
    dead_end: tuple[int, int]  # (step, voice) where no token was legal (or every one was tried)
    resumed: tuple[int, int]  # (step, voice) decided afresh
    kind: str  # "backjump" (to the decision the blocking rules blame) | "step" (a decision of this step) | "restart" (from a chord onset)
    rules: list[str]  # rule ids / layer names that emptied the mask at the dead end
    reason: str  # one sentence

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["dead_end"], d["resumed"] = list(self.dead_end), list(self.resumed)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Backtrack":
        d = dict(d)
        d["dead_end"], d["resumed"] = tuple(d["dead_end"]), tuple(d["resumed"])
        return cls(**d)


@dataclass
class Decision:
    """The final decision at one (step, voice)."""

    step: int
    voice: int  # 0 soprano .. 3 bass
    measure: int
    beat: float
    token: int  # the chosen token
    forced: bool  # given by the caller (a melody, the outside of an infill span)
    legal: list[int]  # every token the constraint allowed here (sorted)
    candidates: list[Candidate]  # the model's top candidates (and the chosen token), most probable first
    tried: list[int] = field(default_factory=list)  # tokens the search had tried here before (they led to dead ends)
    preferences: list[str] = field(default_factory=list)  # preference layers that reweighted this position
    backtracks: list[int] = field(default_factory=list)  # indices into Trace.backtracks that passed through here

    @property
    def chosen(self) -> Candidate:
        return next(c for c in self.candidates if c.chosen)

    def to_dict(self) -> dict[str, Any]:
        # not asdict: it would deep-copy what a deferred removal list holds (the decoding's state)
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d = {k: list(x) if isinstance(x, list) else x for k, x in d.items()}
        d["candidates"] = [c.to_dict() for c in self.candidates]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Decision":
        d = dict(d)
        d["candidates"] = [Candidate.from_dict(c) for c in d["candidates"]]
        return cls(**d)


@dataclass
class Trace:
    """Every decision of one decoding, in writing order (step by step, soprano to bass)."""

    plan: dict[str, Any]  # Plan.to_dict() of the plan decoded
    rules: list[str]  # ids of the hard rules that masked (empty: constraints off)
    forced: list[list[int]] | None  # (T, 4) forced tokens (-1 free), or None
    tokens: list[list[int]]  # (T, 4) final tokens
    seed: int
    sampling: dict[str, Any]
    decisions: list[Decision] = field(default_factory=list)
    backtracks: list[Backtrack] = field(default_factory=list)
    # infill decodes a window: the score step of the window's first step. Decisions and
    # backtracks are in the score's steps and measures; plan, forced and tokens are the
    # window's (what was decoded, so that constraint_at rebuilds its masks)
    first_step: int = 0

    def covers(self, step: int) -> bool:
        """Whether the step (of the score) was decoded, so that it has decisions."""
        return self.first_step <= step < self.first_step + len(self.decisions) // 4

    def at(self, step: int, voice: int) -> Decision:
        """The decision at (step, voice); LookupError for a step the decoding did not cover (see :meth:`covers`)."""
        if not self.covers(step):
            raise LookupError(f"step {step} was not decoded (this trace covers steps {self.first_step}–"
                              f"{self.first_step + len(self.decisions) // 4 - 1})")
        d = self.decisions[(step - self.first_step) * 4 + voice]
        assert (d.step, d.voice) == (step, voice)
        return d

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan, "rules": list(self.rules), "forced": self.forced, "tokens": self.tokens,
                "seed": self.seed, "sampling": dict(self.sampling),
                "decisions": [d.to_dict() for d in self.decisions],
                "backtracks": [b.to_dict() for b in self.backtracks], "first_step": self.first_step}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Trace":
        return cls(plan=d["plan"], rules=list(d["rules"]), forced=d.get("forced"), tokens=d["tokens"],
                   seed=int(d["seed"]), sampling=dict(d["sampling"]),
                   decisions=[Decision.from_dict(x) for x in d["decisions"]],
                   backtracks=[Backtrack.from_dict(x) for x in d.get("backtracks", [])],
                   first_step=int(d.get("first_step", 0)))

    def shifted(self, first_step: int, measure_beat) -> "Trace":
        """This trace of a window decoded alone, placed at ``first_step`` of the whole score (in place).

        ``measure_beat(step)`` gives the score's (measure, beat) of a score step: decisions
        and backtracks are renumbered to the score, plan, forced and tokens stay the window's.
        """
        shift = first_step - self.first_step
        for d in self.decisions:
            d.step += shift
            m, b = measure_beat(d.step)
            d.measure, d.beat = int(m), float(b)
        for bt in self.backtracks:
            bt.dead_end = (bt.dead_end[0] + shift, bt.dead_end[1])
            bt.resumed = (bt.resumed[0] + shift, bt.resumed[1])
        self.first_step = first_step
        return self

    def constraint_at(self, step: int, voice: int, rules: Sequence | None = None):
        """A fresh :class:`~partimento.hybrid.constraint.Constraint` for the recorded plan, at (step, voice).

        Built from the trace alone: the plan, the forced tokens and the final tokens
        before the position (which are the prefix the recorded decision saw; ``step`` is the
        score's, as in the decisions). ``rules``:
        the rule objects (their ids must match the recorded ones); by default fresh
        instances of the recorded ids from the registry, with default options.
        """
        from partimento.grammar.plan import Plan
        from partimento.grammar.rules.base import RULES

        from .constraint import Constraint

        if rules is None:
            rules = [RULES[r]() for r in self.rules]
        ids = [r.id for r in rules]
        if ids != list(self.rules):
            raise ValueError(f"the trace was recorded under rules {self.rules}, not {ids}")
        forced = np.asarray(self.forced, np.int64) if self.forced is not None else None
        c = Constraint(Plan.from_dict(self.plan), rules, forced)
        tokens = np.asarray(self.tokens, np.int64).reshape(-1)
        for tok in tokens[:(step - self.first_step) * 4 + voice].tolist():
            c.push(int(tok))
        return c
