"""Test doubles: a model session with seeded random logits and small hand-built plans."""
from __future__ import annotations

import math

import numpy as np

from partimento.grammar.plan import ChordEvent, Phrase, Plan
from partimento.neural.encoding import VOCAB_SIZE

__all__ = ["FakeSession", "FakeModel", "PositionalSession", "cadence_plan"]


class FakeSession:
    """Implements the decoder's Session protocol; logits depend only on (seed, step, voice)."""

    def __init__(self, steps: int, seed: int = 0, uniform: bool = False) -> None:
        self.steps = steps
        self.seed = seed
        self.uniform = uniform
        self.n = 0  # tokens written
        self.tokens: list[int] = []
        self.rewinds = 0

    @property
    def position(self) -> tuple[int, int]:
        return divmod(self.n, 4)

    def next_logits(self) -> np.ndarray:
        if self.uniform:
            return np.zeros(VOCAB_SIZE)
        rng = np.random.default_rng((self.seed, self.n))
        z = rng.normal(size=VOCAB_SIZE)
        z[0] += 2.0  # like a real chorale model: holds are common
        return z

    def push(self, token: int) -> None:
        assert 0 <= token < VOCAB_SIZE
        self.tokens.append(int(token))
        self.n += 1

    def rewind(self, step: int, voice: int) -> None:
        n = step * 4 + voice
        assert n <= self.n
        self.rewinds += 1
        del self.tokens[n:]
        self.n = n


class PositionalSession:
    """A session whose logits depend only on the position written so far: subclasses give ``next_logits``."""

    def __init__(self) -> None:
        self.n = 0  # tokens written

    @property
    def position(self) -> tuple[int, int]:
        return divmod(self.n, 4)

    def next_logits(self) -> np.ndarray:
        raise NotImplementedError

    def push(self, token: int) -> None:
        self.n += 1

    def rewind(self, step: int, voice: int) -> None:
        self.n = step * 4 + voice


class FakeModel:
    """Stands in for the checkpoint: ``session(cond)`` and ``token_nll``."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def session(self, cond, conditioned: bool = True) -> FakeSession:
        return FakeSession(len(cond), self.seed)

    def token_nll(self, tokens, cond, conditioned: bool = True):
        import torch

        return torch.full(tuple(tokens.shape), float(np.log(VOCAB_SIZE)))


def cadence_plan(key: str = "C", figures: tuple[str, ...] = ("I", "IV", "V", "I"), beats: float = 1.0,
                 metre: str = "4/4", fermata_last: bool = True) -> Plan:
    """One phrase of chords, ``beats`` quarters each, ending with a PAC (and a fermata)."""
    chords = [ChordEvent(onset=i * beats, duration=beats, figure=f, key=key) for i, f in enumerate(figures)]
    chords[-1].cadence = "PAC"
    chords[-1].fermata = fermata_last
    from partimento.grammar.metre import parse_metre

    bar = float(parse_metre(metre).bar_quarters)
    bars = max(1, math.ceil(len(figures) * beats / bar - 1e-9))
    total = bars * bar
    chords[-1].duration = total - chords[-1].onset  # the last chord fills the bar
    return Plan(key=key, metre=metre, bars=bars, chords=chords,
                phrases=[Phrase(0.0, total, key, "PAC")]).validate()
