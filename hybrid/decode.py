"""Constrained decoding: the model writes SATB token by token, the constraint keeps it legal.

The decoder is three parts, each with one job (see ``/README.md``, "How the decoder keeps
the rules"):

* the **constraint** (:class:`~partimento.hybrid.constraint.Constraint`) holds the one
  state (the prefix written so far) and answers which tokens are legal next, as named
  layers: the plan's (:mod:`.masks`), every hard rule's own ``allowed`` face (voice
  geometry included), and look-aheads read off the rules (:mod:`.lookahead`);
* the **sampler** (:func:`~partimento.hybrid.sampling.sample`) is a pure function that
  draws from ``normalize(model ** (1/T) * preferences * mask)`` with the nucleus taken
  after the mask, so each token is drawn from exactly that distribution
  (``tests/hybrid/test_decode_exact.py``: chi-square over 2,000 seeds);
* the **search** (:class:`~partimento.hybrid.search.Search`) walks the positions, talks
  only to the model session and the constraint, and backtracks out of dead ends
  (backjumping, restarts from chord onsets, a beam).

The **preference layer** (:mod:`.preferences`) is the fourth, optional piece: soft
look-aheads that reweight and never forbid.

If no realization exists within the backtracking budget :func:`decode` raises
:class:`~partimento.grammar.errors.UnsatisfiableError` naming the measure, beat, voice
and the rules that emptied the mask. Nothing that breaks a hard rule is ever emitted:
``constraints=False`` (ablation) is the only way to get one. ``record=True`` returns a
:class:`~partimento.hybrid.trace.Trace` of every decision.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from partimento.grammar.plan import Plan
from partimento.grammar.rules.base import Rule

from .constraint import Constraint
from .preferences import PREFERENCE_FACTOR, Preferences
from .search import Search
from .trace import Trace

__all__ = ["Session", "Sampling", "Decoded", "decode"]


class Session(Protocol):
    """What the decoder needs from the model: one incremental decoding session."""

    @property
    def position(self) -> tuple[int, int]: ...  # (step, voice) of the next token

    def next_logits(self): ...  # (VOCAB_SIZE,) logits for the next token (torch.Tensor or ndarray)

    # optional: ``next_logits_array()``, the same as a numpy array (used when present: no torch round trip)

    def push(self, token: int) -> None: ...  # append a token

    def rewind(self, step: int, voice: int) -> None: ...  # forget (step, voice) and everything after


@dataclass
class Sampling:
    """How tokens are chosen."""

    temperature: float = 1.0  # softmax temperature; 0 means greedy
    top_p: float = 0.95  # nucleus size, taken after the mask (1.0 = the full distribution)
    strategy: str = "sample"  # "sample" | "greedy" | "beam" (per-step beam over the four voices)
    beam: int = 4  # beam width for strategy="beam"
    constraints: bool = True  # False: the same model with every mask and preference off (ablation)
    max_backtrack_steps: int = 32  # how far back (sixteenth steps) a dead end may rewind
    max_retries: int = 3000  # total re-decisions allowed before giving up
    style: bool = True  # the preference layer's style calibration (hybrid.preferences.Style); False: off

    def __post_init__(self) -> None:
        from partimento.grammar.errors import InputError

        if self.temperature < 0:
            raise InputError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise InputError(f"top-p must be in (0, 1], got {self.top_p}")
        if self.strategy not in ("sample", "greedy", "beam"):
            raise InputError(f"unknown strategy {self.strategy!r}", expected=["sample", "greedy", "beam"])
        if self.beam < 1:
            raise InputError(f"beam width must be >= 1, got {self.beam}")


@dataclass
class Decoded:
    """Tokens and pitches on the grid, with what the decoding cost (and, if recorded, why)."""

    tokens: np.ndarray  # (T, 4) int64 tokens
    pitch: np.ndarray  # (T, 4) int16 sounding MIDI pitch, -1 silent
    attack: np.ndarray  # (T, 4) bool
    stats: dict = field(default_factory=dict)  # tokens, retries, seconds in model/masks
    trace: Trace | None = None  # decode(..., record=True): every decision, see hybrid.trace


def decode(session: Session, plan: Plan, rules: Sequence[Rule] = (), *, seed: int = 0,
           sampling: Sampling | None = None, forced: np.ndarray | None = None, record: bool = False,
           preferences: bool | float = True) -> Decoded:
    """Decode four voices for ``plan`` from ``session`` under ``rules`` and the plan layers.

    ``forced`` is an optional (steps, 4) array of tokens the output must contain (-1 =
    free): the melody for ``harmonize``, everything outside the span for ``infill``.
    ``record``: keep a :class:`Trace` of every decision (``Decoded.trace``).
    ``preferences``: the preference layer on (True), off (False), or on with this factor
    for the tokens a preference does not favour (a float in (0, 1]).
    Raises :class:`UnsatisfiableError` when the backtracking budget runs out.
    """
    sampling = sampling or Sampling()
    on = sampling.constraints
    constraint = Constraint(plan, rules if on else [], forced, plan_layers=None if on else [], lookahead=on)
    prefs = None
    if on and preferences is not False:
        factor = PREFERENCE_FACTOR if preferences is True else float(preferences)
        prefs = Preferences(constraint.tables, constraint.reach, factor, style=sampling.style)
    tokens, stats, trace = Search(session, constraint, sampling, seed, prefs, record).run()
    return Decoded(tokens, constraint.grid.pitch.copy(), constraint.grid.attack.copy(), stats, trace)
