"""Constrained decoding: the model writes SATB token by token, the masks keep it legal.

The loop walks the sixteenth grid step by step and, inside a step, voice by voice
(soprano, alto, tenor, bass). At each position it asks the model for logits, ANDs the
plan/geometry mask (:class:`~partimento.hybrid.masks.PlanMasks`) and the hard rules'
masks (:class:`~partimento.hybrid.masks.RuleMasks`), renormalizes and samples (seeded,
temperature, top-p) or takes the argmax. The rules are consulted lazily: the token is
drawn from the plan-masked distribution first and only re-drawn from the fully masked
one when the rules reject it, which is exactly sampling from the fully masked
distribution (rejection sampling with one proposal) but skips the rule work for the
many held notes that cannot break a rule.

When every token is masked the decoder backtracks depth-first over recent positions
(``session.rewind``), trying the remaining allowed tokens there, within a budget of
steps back and of retries. If no realization exists within that budget it raises
:class:`~partimento.grammar.errors.UnsatisfiableError` naming the measure, beat, voice
and the constraints that emptied the mask. Nothing that breaks a hard rule is ever
emitted silently: ``constraints=False`` (ablation) is the only way to get one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from partimento.grammar.errors import Location, UnsatisfiableError
from partimento.grammar.plan import Plan
from partimento.grammar.rules.base import Rule
from partimento.grammar.theory import VOICES
from partimento.neural.encoding import HOLD, PITCH_OFFSET, REST, VOCAB_SIZE

from .masks import SILENT, GridState, PlanMasks, RuleMasks

__all__ = ["Session", "Sampling", "Decoded", "decode"]


class Session(Protocol):
    """What the decoder needs from the model: one incremental decoding session."""

    @property
    def position(self) -> tuple[int, int]: ...  # (step, voice) of the next token

    def next_logits(self): ...  # (VOCAB_SIZE,) logits for the next token (torch.Tensor or ndarray)

    def push(self, token: int) -> None: ...  # append a token

    def rewind(self, step: int, voice: int) -> None: ...  # forget (step, voice) and everything after


@dataclass
class Sampling:
    """How tokens are chosen."""

    temperature: float = 1.0  # softmax temperature; 0 means greedy
    top_p: float = 0.95  # nucleus size (1.0 = the full distribution)
    strategy: str = "sample"  # "sample" | "greedy" | "beam" (per-step beam over the four voices)
    beam: int = 4  # beam width for strategy="beam"
    constraints: bool = True  # False: the same model with every mask off (ablation)
    max_backtrack_steps: int = 16  # how far back (sixteenth steps) a dead end may rewind
    max_retries: int = 3000  # total re-decisions allowed before giving up

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
    """Tokens and pitches on the grid, with what the decoding cost."""

    tokens: np.ndarray  # (T, 4) int64 tokens
    pitch: np.ndarray  # (T, 4) int16 sounding MIDI pitch, -1 silent
    attack: np.ndarray  # (T, 4) bool
    stats: dict = field(default_factory=dict)  # tokens, retries, seconds in model/masks


@dataclass
class _Failure:
    pos: int
    blocked_by: list[str]


class _Decoder:
    def __init__(self, session: Session, plan: Plan, rules: Sequence[Rule], sampling: Sampling,
                 seed: int, forced: np.ndarray | None) -> None:
        self.session = session
        self.plan = plan
        self.s = sampling
        self.rng = np.random.default_rng(seed)
        self.T = plan.steps
        self.forced = forced if forced is not None else np.full((self.T, 4), -1, np.int64)
        self.pm = PlanMasks(plan, self.forced)
        self.rm = RuleMasks(rules if sampling.constraints else [], plan)
        self.g = GridState.empty(self.T)
        self.tokens = np.full((self.T, 4), -1, np.int64)
        self.mask_s = 0.0
        self.model_s = 0.0
        self.masked_tokens = 0
        self.rule_calls = 0

    # ------------------------------------------------------------------ distributions
    def _probs(self, t: int, v: int) -> np.ndarray:
        t0 = time.perf_counter()
        logits = self.session.next_logits()
        logits = np.asarray(logits.detach().numpy() if hasattr(logits, "detach") else logits, np.float64)
        self.model_s += time.perf_counter() - t0
        temp = self.s.temperature if self.s.strategy == "sample" else 1.0
        z = logits / max(temp, 1e-6) if temp > 0 else logits
        z = z - z.max()
        p = np.exp(z)
        return p / p.sum()

    def _plan_mask(self, t: int, v: int) -> tuple[np.ndarray, list[str]]:
        if not self.s.constraints:
            return np.ones(VOCAB_SIZE, bool), []
        res = self.pm.token_mask(t, v, self.g)
        return res.mask, res.blocked_by

    def _needs_rules(self, t: int, v: int, token: int) -> bool:
        """A HOLD inside a chord, with no attack yet at this step, repeats an accepted sonority."""
        if not self.rm.rules:
            return False
        if token == REST:
            return False
        if token == HOLD and not self.pm.onset[t] and not self.g.attack[t, :v].any():
            return False
        return True

    def _rule_filter(self, t: int, v: int, dist: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Zero the tokens the hard rules forbid; names of the rules that block the rest."""
        t0 = time.perf_counter()
        state = self.rm.state(t, self.g)
        pm, each = self.rm.pitch_mask(state, v)
        self.rule_calls += 1
        out = dist.copy()
        out[PITCH_OFFSET:] *= pm
        prev = self.g.previous(t, v)
        if out[HOLD] > 0 and prev >= 0 and not pm[prev]:
            out[HOLD] = 0.0
        blocked: list[str] = []
        if not out.any():
            cand = np.flatnonzero(dist[PITCH_OFFSET:] > 0)
            if dist[HOLD] > 0 and prev >= 0:
                cand = np.append(cand, prev)
            names = self.rm.names()
            blocked = [n for n, m in zip(names, each) if len(cand) and not m[cand].any()]
            if not blocked:
                blocked = [n for n, m in zip(names, each) if len(cand) and not m[cand].all()]
        self.mask_s += time.perf_counter() - t0
        return out, blocked

    def _forced_ok(self, t: int, v: int, token: int) -> tuple[bool, list[str]]:
        """A forced token passes unless a rule forbids it *because of the free voices*."""
        if not self._needs_rules(t, v, token):
            return True, []
        one = np.zeros(VOCAB_SIZE)
        one[token] = 1.0
        out, blocked = self._rule_filter(t, v, one)
        if out[token] > 0:
            return True, []
        # intrinsic to the given material? judge with only the forced voices visible
        keep = [u for u in range(4) if self.forced[t, u] >= 0 or u == v]
        state = self.rm.state(t, self.g, keep=keep)
        pm, _ = self.rm.pitch_mask(state, v)
        p = token - PITCH_OFFSET if token >= PITCH_OFFSET else self.g.previous(t, v)
        return (p < 0 or not pm[p]), blocked

    def _choose(self, dist: np.ndarray) -> int:
        if self.s.strategy != "sample" or self.s.temperature == 0:
            return int(np.argmax(dist))
        p = dist / dist.sum()
        if self.s.top_p < 1.0:
            order = np.argsort(-p, kind="stable")
            cum = np.cumsum(p[order])
            keep = order[: int(np.searchsorted(cum, self.s.top_p) + 1)]
            q = np.zeros_like(p)
            q[keep] = p[keep]
            p = q / q.sum()
        return int(self.rng.choice(VOCAB_SIZE, p=p))

    # ------------------------------------------------------------------ state
    def _apply(self, t: int, v: int, token: int) -> None:
        g = self.g
        prev = g.previous(t, v)
        if token == HOLD:
            g.pitch[t, v] = prev
            g.attack[t, v] = False
            g.start[t, v] = g.start[t - 1, v] if t > 0 else -1
            g.nct[t, v] = g.nct[t - 1, v] if t > 0 else False
        elif token == REST:
            g.pitch[t, v] = SILENT
            g.attack[t, v] = False
            g.start[t, v] = t
            g.nct[t, v] = False
        else:
            p = token - PITCH_OFFSET
            g.pitch[t, v] = p
            g.attack[t, v] = True
            g.start[t, v] = t
            g.nct[t, v] = self.pm.is_nct(t, v, p)
            self.rm.commit(t)
        g.decided[t, v] = True
        self.tokens[t, v] = token

    def _rewind(self, pos: int) -> None:
        t, v = divmod(pos, 4)
        self.session.rewind(t, v)
        self.g.clear_from(t, v)
        self.tokens[t, v:] = -1
        self.tokens[t + 1:] = -1
        self.rm.reset_from(t, self.g)

    # ------------------------------------------------------------------ the loop
    def run(self) -> Decoded:
        N = self.T * 4
        alts: list[np.ndarray | None] = [None] * N  # remaining (masked) distribution per position
        filtered = np.zeros(N, bool)  # alts[pos] already passed the rule masks
        pos = 0
        retries = 0
        frontier = _Failure(0, [])
        t_start = time.perf_counter()
        while pos < N:
            t, v = divmod(pos, 4)
            token = -1
            forced = int(self.forced[t, v])
            if alts[pos] is None:
                if forced >= 0:
                    ok, blocked = (True, []) if not self.s.constraints else self._forced_ok(t, v, forced)
                    if ok:
                        token = forced
                        alts[pos] = np.zeros(VOCAB_SIZE)
                        filtered[pos] = True
                    else:
                        alts[pos] = np.zeros(VOCAB_SIZE)
                        if pos >= frontier.pos:
                            frontier = _Failure(pos, blocked)
                else:
                    t0 = time.perf_counter()
                    mask, blocked = self._plan_mask(t, v)
                    self.mask_s += time.perf_counter() - t0
                    self.masked_tokens += 1
                    dist = self._probs(t, v) * mask if mask.any() else np.zeros(VOCAB_SIZE)
                    if not dist.any() and mask.any():  # the model put zero mass on every legal token
                        dist = mask.astype(np.float64)
                    alts[pos] = dist
                    filtered[pos] = False
                    if not mask.any() and pos >= frontier.pos:
                        frontier = _Failure(pos, blocked)
            if token < 0:
                dist = alts[pos]
                while dist.any():
                    cand = self._choose(dist)
                    if filtered[pos] or not self._needs_rules(t, v, cand):
                        token = cand
                        break
                    dist, blocked = self._rule_filter(t, v, dist)
                    alts[pos] = dist
                    filtered[pos] = True
                    if not dist.any() and pos >= frontier.pos:
                        frontier = _Failure(pos, blocked)
                if token < 0:
                    pos = self._backtrack(pos, alts, frontier, retries)
                    retries += 1
                    continue
                alts[pos] = alts[pos].copy()
                alts[pos][token] = 0.0
            self._apply(t, v, token)
            t0 = time.perf_counter()
            self.session.push(token)
            self.model_s += time.perf_counter() - t0
            pos += 1
        stats = {
            "tokens": N,
            "masked_tokens": self.masked_tokens,
            "rule_calls": self.rule_calls,
            "retries": retries,
            "seconds": time.perf_counter() - t_start,
            "model_seconds": self.model_s,
            "mask_seconds": self.mask_s,
        }
        return Decoded(self.tokens.copy(), self.g.pitch.copy(), self.g.attack.copy(), stats)

    def _backtrack(self, pos: int, alts: list, frontier: _Failure, retries: int) -> int:
        """Rewind to the latest earlier position that still has an untried legal token."""
        floor = max(0, frontier.pos - 4 * self.s.max_backtrack_steps)
        b = pos - 1
        while b >= floor and (alts[b] is None or not alts[b].any()):
            b -= 1
        if b < floor or retries >= self.s.max_retries:
            self._raise(frontier)
        for q in range(b + 1, pos + 1):
            alts[q] = None
        self._rewind(b)
        return b

    def _raise(self, f: _Failure) -> None:
        t, v = divmod(f.pos, 4)
        m, beat = self.plan.metre_obj.measure_beat(t / 4, self.plan.pickup)
        ci = int(self.pm.chord_index[t])
        chord = self.plan.chords[ci].figure if ci >= 0 else "no chord"
        raise UnsatisfiableError(
            f"no legal note for the {VOICES[v]} over {chord} within "
            f"{self.s.max_backtrack_steps} sixteenths of backtracking",
            Location(measure=m, beat=beat, voice=VOICES[v]),
            rules=sorted(set(f.blocked_by)) or ["plan"],
            hint="Try another seed, a longer chord here, or a looser rule profile.",
        )


def decode(session: Session, plan: Plan, rules: Sequence[Rule] = (), *, seed: int = 0,
           sampling: Sampling | None = None, forced: np.ndarray | None = None) -> Decoded:
    """Decode four voices for ``plan`` from ``session`` under ``rules`` and the plan masks.

    ``forced`` is an optional (steps, 4) array of tokens the output must contain (-1 =
    free): the melody for ``harmonize``, everything outside the span for ``infill``.
    Raises :class:`UnsatisfiableError` when the backtracking budget runs out.
    """
    sampling = sampling or Sampling()
    if sampling.strategy == "beam":
        from .beam import beam_decode

        return beam_decode(session, plan, rules, seed=seed, sampling=sampling, forced=forced)
    return _Decoder(session, plan, rules, sampling, seed, forced).run()
