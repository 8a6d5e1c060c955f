"""Who removed a recorded candidate, worked out when someone reads it (issue 17).

Recording a decoding (``decode(..., record=True)``) keeps, for every position, the
model's top candidates and which of them the mask removed. *Why* each was removed (the
layers, the rules they speak for and one sentence per rule, naming the notes) is the
costly part: it asks every layer of the mask separately and runs the rules' check faces
on the sonority with the candidate written. A trace is read for a handful of notes, so
that work is left until a candidate's ``removed_by`` is read: :class:`DeferredRemovals`
holds only the position and the token, and :class:`RemovalReplay` walks the decoding's
own constraint back (or on) to that position over the final tokens and asks
:meth:`~partimento.hybrid.constraint.Constraint.why` there.

The answer is the one the recorder would have got at decode time: a decision recorded for
the final output saw exactly the final tokens before it (a later backtrack to an earlier
position re-records every position after it), and the constraint's masks are pure
functions of that prefix. ``tests/hybrid/test_recording_lazy.py`` checks it against
removals worked out at decode time, candidate by candidate, and pins explanation texts.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Sequence, overload

import numpy as np

from .trace import Removal

if TYPE_CHECKING:
    from .constraint import Constraint

__all__ = ["RemovalReplay", "DeferredRemovals"]


class RemovalReplay:
    """The decoding's constraint, moved to a recorded position on demand to say why a token was removed.

    ``finish(tokens)`` gives it the final tokens (the decoding's output) once the search is
    done; until then it can answer only at the position the constraint stands at.
    """

    def __init__(self, constraint: "Constraint") -> None:
        self.constraint = constraint
        self.tokens: np.ndarray | None = None  # (T * 4,) final tokens, writing order

    def finish(self, tokens: np.ndarray) -> None:
        """The final tokens ((T, 4)): every recorded decision saw these before its position."""
        self.tokens = np.asarray(tokens, np.int64).reshape(-1).copy()

    def why(self, pos: int, token: int) -> list[Removal]:
        """Every layer that removes ``token`` at position ``pos`` (step * 4 + voice), each with its message."""
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
        return c.why(token)


class DeferredRemovals(Sequence[Removal]):
    """A removed candidate's :class:`~partimento.hybrid.trace.Removal` list, worked out on first read."""

    __slots__ = ("_replay", "_pos", "_token", "_items")

    def __init__(self, replay: RemovalReplay, pos: int, token: int) -> None:
        self._replay, self._pos, self._token = replay, pos, token
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

    def __getitem__(self, i):
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
