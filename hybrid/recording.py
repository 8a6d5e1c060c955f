"""Recording a decoding cheaply: a few facts while decoding, the rest when someone reads it (issue 17).

``decode(..., record=True)`` keeps a :class:`~partimento.hybrid.trace.Decision` for every
position. Most of a decision costs work the search did not need: the full mask (the
search asks the look-ahead only for the tokens it draws), the candidates' probabilities
under it, and above all *why* each removed candidate was removed (every layer of the mask
asked separately, the rules' check faces run on the sonority with the candidate written,
one sentence per rule). A trace is read for a handful of notes, so at decode time the
recorder keeps only what the search already has in hand (:class:`DecisionFacts`: the
model's distribution, the tokens tried, the temperature, the preference weights if the
search built them), and the rest is worked out on first read:

* :class:`DeferredDecision` — the legal set, the candidates and the preferences that
  spoke;
* :class:`DeferredRemovals` — one removed candidate's :class:`~partimento.hybrid.trace.Removal` list.

Both ask :class:`Replay`, which walks the decoding's own constraint back (or on) to the
position over the final tokens and asks it there. The answer is the one the recorder
would have got at decode time: a decision recorded for the final output saw exactly the
final tokens before it (a backtrack to an earlier position re-records every position
after it), and the constraint's masks and the preferences are pure functions of that
prefix. ``tests/hybrid/test_recording_lazy.py`` holds whole traces to the ones worked out
at decode time and pins explanation texts; ``benchmarks/hybrid_recording.py`` measures
both ways side by side.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Sequence, overload

import numpy as np

from partimento.neural.encoding import HOLD, PITCH_OFFSET

from .masks import token_name
from .sampling import distribution
from .trace import Candidate, Decision, Removal

if TYPE_CHECKING:
    from .constraint import Constraint
    from .preferences import Preferences

__all__ = ["Replay", "DecisionFacts", "DeferredDecision", "DeferredRemovals", "TOP_K"]

TOP_K = 8  # candidates recorded per position (the model's most probable, plus the chosen token)


class Replay:
    """The decoding's constraint (and preference layer), moved to a recorded position on demand.

    ``finish(tokens)`` gives it the final tokens once the search is done; until then it
    can answer only at the position the constraint stands at (as ``partimento explain``
    uses it: one decision replayed on a stored prefix).
    """

    def __init__(self, constraint: "Constraint", preferences: "Preferences | None", top_p: float) -> None:
        self.constraint = constraint
        self.preferences = preferences
        self.top_p = top_p
        self.tokens: np.ndarray | None = None  # (T * 4,) final tokens, writing order

    def finish(self, tokens: np.ndarray) -> None:
        """The final tokens ((T, 4)): every recorded decision saw these before its position."""
        self.tokens = np.asarray(tokens, np.int64).reshape(-1).copy()

    def seek(self, pos: int) -> "Constraint":
        """The constraint standing at position ``pos`` (step * 4 + voice) of the final output."""
        c = self.constraint
        t, v = c.position
        here = t * 4 + v
        if here > pos:
            c.rollback(here - pos)
        elif here < pos:
            if self.tokens is None:
                raise RuntimeError(f"the decoding stands at position {here}; position {pos} needs its final tokens")
            for tok in self.tokens[here:pos].tolist():
                c.push(tok)
        return c

    def why(self, pos: int, token: int) -> list[Removal]:
        """Every layer that removes ``token`` at ``pos``, each with its message."""
        return self.seek(pos).why(token)

    def decision(self, facts: "DecisionFacts") -> tuple[list[int], list[Candidate], list[str]]:
        """(legal tokens, candidates, preferences that spoke) of the decision ``facts`` describe."""
        pos = facts.pos
        t, v = divmod(pos, 4)
        c = self.seek(pos)
        legal = c.mask()
        weights, prefs = facts.weights, facts.prefs
        if not facts.built and self.preferences is not None and self.preferences.active(c.grid, t, v) and legal.any():
            weights, prefs = self.preferences.weights(c.grid, t, v, legal)  # the search's shortcut did not need them
        probs, temp, token = facts.probs, facts.temperature, facts.token
        chord = c.tables.chord_at(t)
        here_key = chord.key if chord is not None else None
        prev = c.grid.previous(t, v)
        avail = legal.copy()
        avail[facts.tried] = False
        masked = distribution(probs, legal, temp if temp > 0 else 1.0, 1.0)
        final = distribution(probs, avail, temp, self.top_p, weights) if not facts.forced else avail.astype(float)
        order = [int(i) for i in np.argsort(-probs, kind="stable")[:TOP_K]]
        if token not in order:
            order.append(token)
        cands = []
        for tok in order:
            if not legal[tok]:  # who removed it: worked out when read
                removed: Sequence[Removal] = DeferredRemovals(self, pos, tok)
            elif tok in facts.tried:
                removed = [Removal("search:tried", "search", "tried here before; it led to a dead end")]
            else:
                removed = []
            sounding = prev if tok == HOLD else (tok - PITCH_OFFSET if tok >= PITCH_OFFSET else None)
            if tok == HOLD:
                name = f"hold ({token_name(PITCH_OFFSET + prev, here_key)})" if prev >= 0 else "hold (nothing)"
            else:
                name = token_name(tok, here_key)
            cands.append(Candidate(tok, name, sounding if sounding is None or sounding >= 0 else None,
                                   float(probs[tok]), float(masked[tok]), float(final[tok]),
                                   float(weights[tok]) if weights is not None else 1.0,
                                   bool(legal[tok]), tok == token, removed))
        return np.flatnonzero(legal).tolist(), cands, list(prefs)


@dataclass
class DecisionFacts:
    """What the search has in hand when it records a decision (all a :class:`DeferredDecision` keeps)."""

    pos: int  # step * 4 + voice, in the decoded plan's steps
    token: int  # the token chosen
    probs: np.ndarray  # float[V]: the model's distribution (temperature 1)
    tried: list[int]  # tokens tried here before (they led to dead ends)
    forced: bool
    temperature: float  # of the draw (0: argmax)
    built: bool  # the search built this position's legal set (else its sure shortcut took the token)
    weights: np.ndarray | None  # the preference weights the search drew with (when built)
    prefs: list[str]  # the preferences that spoke (when built)


class DeferredDecision(Decision):
    """A :class:`~partimento.hybrid.trace.Decision` whose ``legal``, ``candidates`` and
    ``preferences`` are worked out (by :class:`Replay`) when one of them is first read;
    the rest (where, what was chosen, what was tried, the backtracks) is known at once."""

    def __init__(self, replay: Replay, facts: DecisionFacts, *, step: int, voice: int, measure: int,
                 beat: float) -> None:
        self.step, self.voice, self.measure, self.beat = step, voice, measure, beat
        self.token, self.forced, self.tried = facts.token, facts.forced, list(facts.tried)
        self.backtracks = []
        self._replay: Replay | None = replay
        self._facts: DecisionFacts | None = facts
        self._parts: tuple[list[int], list[Candidate], list[str]] | None = None

    def _worked_out(self) -> tuple[list[int], list[Candidate], list[str]]:
        if self._parts is None:
            self._parts = self._replay.decision(self._facts)
            self._replay = self._facts = None
        return self._parts

    @property
    def legal(self) -> list[int]:  # type: ignore[override]
        return self._worked_out()[0]

    @property
    def candidates(self) -> list[Candidate]:  # type: ignore[override]
        return self._worked_out()[1]

    @property
    def preferences(self) -> list[str]:  # type: ignore[override]
        return self._worked_out()[2]


class DeferredRemovals(Sequence[Removal]):
    """A removed candidate's :class:`~partimento.hybrid.trace.Removal` list, worked out on first read."""

    __slots__ = ("_replay", "_pos", "_token", "_items")

    def __init__(self, replay: Replay, pos: int, token: int) -> None:
        self._replay: Replay | None = replay
        self._pos, self._token = pos, token
        self._items: list[Removal] | None = None

    def resolved(self) -> list[Removal]:
        """The removals (worked out now if not yet)."""
        if self._items is None:
            self._items = self._replay.why(self._pos, self._token)
            self._replay = None  # nothing more to ask: let the decoding's state go with the last reader
        return self._items

    @overload
    def __getitem__(self, i: int) -> Removal: ...

    @overload
    def __getitem__(self, i: slice) -> list[Removal]: ...

    def __getitem__(self, i: Any):
        return self.resolved()[i]

    def __len__(self) -> int:
        return len(self.resolved())

    def __iter__(self) -> Iterator[Removal]:
        return iter(self.resolved())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (DeferredRemovals, list)):
            return self.resolved() == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return repr(self.resolved())
