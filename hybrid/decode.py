"""Constrained decoding: the model writes SATB token by token, the masks keep it legal.

The loop walks the sixteenth grid step by step and, inside a step, voice by voice
(soprano, alto, tenor, bass). At each position it asks the model for logits, ANDs the
plan/geometry mask (:class:`~partimento.hybrid.masks.PlanMasks`) and the hard rules'
masks (:class:`~partimento.hybrid.masks.RuleMasks`), renormalizes and samples (seeded,
temperature, top-p) or takes the argmax. The rules are consulted lazily: the token is
drawn from the plan-masked distribution first and only re-drawn from the fully masked
one when the rules reject it, which is exactly sampling from the fully masked
distribution (rejection sampling with one proposal) but skips the rule work for the
many held notes that cannot break a rule. A hold the model is sure of (at least ``top_p``
of the mass) that the plan allows is taken without building masks at all
(:meth:`_Decoder._sure_token`); at chord onsets a look-ahead refuses an upper voice that
would leave the voices after it no legal note (:meth:`_Decoder._lookahead_ok`), and the
plan masks steer the step before an onset (see :mod:`.masks`).

When every token is masked the decoder backtracks depth-first over recent positions
(``session.rewind``), trying the remaining allowed tokens there, within a budget of
steps back and of retries. If no realization exists within that budget it raises
:class:`~partimento.grammar.errors.UnsatisfiableError` naming the measure, beat, voice
and the constraints that emptied the mask. Nothing that breaks a hard rule is ever
emitted silently: ``constraints=False`` (ablation) is the only way to get one.
"""
from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from partimento.grammar.errors import Location, UnsatisfiableError
from partimento.grammar.plan import Plan
from partimento.grammar.rules.base import Rule
from partimento.grammar.theory import VOICES
from partimento.neural.encoding import HOLD, PITCH_OFFSET, REST, VOCAB_SIZE

from .masks import SILENT, GridState, MaskResult, PlanMasks, RuleMasks

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
    top_p: float = 0.95  # nucleus size (1.0 = the full distribution)
    strategy: str = "sample"  # "sample" | "greedy" | "beam" (per-step beam over the four voices)
    beam: int = 4  # beam width for strategy="beam"
    constraints: bool = True  # False: the same model with every mask off (ablation)
    max_backtrack_steps: int = 32  # how far back (sixteenth steps) a dead end may rewind
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


_ALL_TOKENS = np.ones(VOCAB_SIZE, bool)  # the plan mask with the masks off (read-only)
_ALL_TOKENS.flags.writeable = False
_LAZY = np.zeros(0)  # alts[pos] of a sure token: alternatives not worked out (see _Decoder._sure_token)
_MAX_RESTARTS = 24  # restarts from chord onsets allowed for one dead end before giving up


@dataclass
class _Failure:
    pos: int
    blocked_by: list[str]


class _Decoder:
    def __init__(self, session: Session, plan: Plan, rules: Sequence[Rule], sampling: Sampling,
                 seed: int, forced: np.ndarray | None) -> None:
        self.session = session
        self._next_logits = getattr(session, "next_logits_array", session.next_logits)
        self.plan = plan
        self.s = sampling
        self.rng = np.random.default_rng(seed)
        self.T = plan.steps
        self.forced = forced if forced is not None else np.full((self.T, 4), -1, np.int64)
        self.pm = PlanMasks(plan, self.forced)
        self.rm = RuleMasks(rules if sampling.constraints else [], plan)
        self.g = GridState.empty(self.T)
        self.tokens = np.full((self.T, 4), -1, np.int64)
        self.given = np.zeros((self.T, 4), bool)  # the sounding note was given (forced), not chosen
        self.mask_s = 0.0
        self.model_s = 0.0
        self.masked_tokens = 0
        self.rule_calls = 0
        self.sure_tokens = 0  # tokens taken by the sure-hold shortcut (see _sure_token)
        self._fail_candidates = None  # (state, candidate pitches, blocking rules) of the last rule dead end
        self._fails: dict[int, int] = {}  # restarts per frontier step
        self._beam_plan: dict[int, tuple[int, ...]] = {}  # step -> the beam's tokens (strategy="beam")
        self._explore_until = 0  # positions before this are re-decoded by sampling (after a restart)
        self._onset_steps = [int(s) for s in np.flatnonzero(self.pm.onset)]
        self._memo: dict[tuple, object] = {}  # masks of the current step (see _memo_key)
        self._memo_step = -1
        self._shallow: set[int] = set()  # alto positions where the look-ahead checks the bass only

    # ------------------------------------------------------------------ distributions
    def _probs(self, t: int, v: int) -> np.ndarray:
        t0 = time.perf_counter()
        logits = self._next_logits()
        if hasattr(logits, "detach"):
            logits = logits.detach().numpy()
        z = np.array(logits, np.float64)
        self.model_s += time.perf_counter() - t0
        temp = self.s.temperature if self.s.strategy == "sample" else 1.0
        if temp > 0:
            z /= max(temp, 1e-6)
        z -= z.max()
        np.exp(z, out=z)
        z /= z.sum()
        return z

    def _sure_token(self, t: int, v: int, probs: np.ndarray, pos: int) -> int:
        """The token the masked distribution would give for certain, found without building masks; else -1.

        When the model's favourite token carries at least ``top_p`` of the mass it is
        the whole nucleus of any masked distribution that keeps it (its share only
        grows), and under greedy decoding it is the argmax of any such distribution;
        so if it is legal, sampling from the masked distribution returns it for sure.
        Inside a chord the favourite is almost always a hold, whose legality
        :meth:`PlanMasks.hold_ok` decides from one interval: most tokens skip the
        mask, the nucleus sort and the random draw. Exactly the same distribution.
        """
        if self.s.strategy == "beam":
            return -1
        top = int(probs.argmax())
        sampling = pos < self._explore_until or (self.s.strategy == "sample" and self.s.temperature > 0)
        if sampling and probs[top] < self.s.top_p:
            return -1
        if not self.s.constraints:
            return top
        if top != HOLD or self._needs_rules(t, v, HOLD):
            return -1
        t0 = time.perf_counter()
        ok = self.pm.hold_ok(t, v, self.g)
        self.mask_s += time.perf_counter() - t0
        return HOLD if ok else -1

    def _plan_mask(self, t: int, v: int) -> tuple[np.ndarray, list[str]]:
        """The plan mask of (t, v) and who emptied it (a shared array: copy before changing it)."""
        if not self.s.constraints:
            return _ALL_TOKENS, []
        res = self._plan_mask_at(t, v)
        return res.mask, res.blocked_by

    def _needs_rules(self, t: int, v: int, token: int) -> bool:
        """A HOLD inside a chord, with no attack yet at this step, repeats an accepted sonority."""
        if not self.rm.rules:
            return False
        if token == REST:
            return False
        if token == HOLD and not self.pm.onset[t] and not np.count_nonzero(self.g.attack[t, :v]):
            return False
        return True

    def _rule_filter(self, t: int, v: int, dist: np.ndarray, geometry_applied: bool = True
                     ) -> tuple[np.ndarray, list[str]]:
        """Zero the tokens the hard rules forbid; names of the rules that block the rest."""
        t0 = time.perf_counter()
        pm, each = self._rules_at(t, v, geometry_applied and self.s.constraints)
        self.rule_calls += 1
        out = dist.copy()
        out[PITCH_OFFSET:] *= pm
        prev = self.g.previous(t, v)
        if out[HOLD] > 0 and prev >= 0 and not pm[prev]:
            out[HOLD] = 0.0
        blocked: list[str] = []
        if not np.count_nonzero(out):
            cand = np.flatnonzero(dist[PITCH_OFFSET:] > 0)
            if dist[HOLD] > 0 and prev >= 0:
                cand = np.append(cand, prev)
            names = self.rm.names()
            blocked = [n for n, m in zip(names, each) if len(cand) and not m[cand].any()]
            if not blocked:
                blocked = [n for n, m in zip(names, each) if len(cand) and not m[cand].all()]
            self._fail_candidates = (self.rm.state(t, self.g), cand, blocked)
        self.mask_s += time.perf_counter() - t0
        return out, blocked

    def _memo_key(self, t: int, v: int, *extra) -> tuple:
        """What the masks of ``voice`` at ``t`` depend on besides the earlier steps: the voices above it at ``t``."""
        if t != self._memo_step:
            self._memo.clear()
            self._memo_step = t
        return (v, self.g.pitch[t, :v].tobytes(), self.g.attack[t, :v].tobytes()) + extra

    def _plan_mask_at(self, t: int, v: int) -> MaskResult:
        """The plan mask of (t, v), computed once per step and sonority so far (read-only: copy to change)."""
        key = self._memo_key(t, v, "plan")
        res = self._memo.get(key)
        if res is None:
            res = self._memo[key] = self.pm.token_mask(t, v, self.g)
        return res

    def _rules_at(self, t: int, v: int, geometry_applied: bool) -> tuple[np.ndarray, list]:
        """The hard rules' pitch mask of (t, v) and the masks of each rule, memoized like :meth:`_plan_mask_at`.

        The look-ahead writes tenor and bass options for an alto it tries; when that alto
        is kept, decoding the tenor and the bass asks the same questions again.
        """
        key = self._memo_key(t, v, "rules", geometry_applied)
        res = self._memo.get(key)
        if res is None:
            res = self._memo[key] = self.rm.pitch_mask(self.rm.state(t, self.g), v, geometry_applied)
        return res

    def _lookahead_ok(self, t: int, v: int, token: int) -> bool:
        """Forward check at a chord onset: after ``token``, can the rest of the sonority be written?

        The bass is the most constrained voice (one pitch class) and is written last, so
        an upper voice that leaves it no legal pitch (parallel octaves with the bass note
        the plan requires, say) is refused here, before the model is run on it. After
        the alto the tenor is asked too, with the bass under it: the tenor is squeezed
        between alto and bass and often must supply the third or root still missing.
        """
        if (not self.rm.rules or v >= 3 or not self.pm.onset[t] or self.forced[t, 3] >= 0
                or not self.s.constraints):
            return True
        t0 = time.perf_counter()
        try:
            deep = v == 1 and t * 4 + 1 not in self._shallow
            return self._completable(t, v, token, depth=2 if deep else 1)
        finally:
            self.mask_s += time.perf_counter() - t0

    def _completable(self, t: int, v: int, token: int, depth: int) -> bool:
        """With ``token`` at (t, v): do the next ``depth`` voices (the last one the bass) have legal notes?"""
        had_row = bool(self.rm.row_steps) and self.rm.row_steps[-1] == t
        self._apply(t, v, token)
        try:
            u = 3 if depth == 1 else v + 1
            if self.forced[t, u] >= 0:
                options = [int(self.forced[t, u])]
            else:
                plan_mask = self._plan_mask_at(t, u).mask
                pm, _ = self._rules_at(t, u, True)
                attacks = plan_mask[PITCH_OFFSET:] & pm
                prev = self.g.previous(t, u)
                hold = bool(plan_mask[HOLD] and prev >= 0 and pm[prev])
                if depth == 1:
                    return hold or bool(attacks.any())
                options = (np.flatnonzero(attacks) + PITCH_OFFSET).tolist() + [HOLD] * hold
            if depth == 1:
                return bool(options)
            return any(self._completable(t, u, o, depth - 1) for o in options)
        finally:
            self.g.clear_from(t, v)
            self.tokens[t, v] = -1
            if not had_row and self.rm.row_steps and self.rm.row_steps[-1] == t and not self.g.attack[t].any():
                self.rm.row_steps.pop()

    def _jump_target(self, pos: int) -> int | None:
        """Conflict-directed backjumping: the latest decision the blocking rules blame."""
        if self._fail_candidates is None:
            return None
        state, cand, blocked = self._fail_candidates
        self._fail_candidates = None
        t, v = divmod(pos, 4)
        t0 = time.perf_counter()
        voices = self.rm.culprits(state, v, cand, blocked)
        self.mask_s += time.perf_counter() - t0
        targets = []
        for u in voices:
            if u < v:  # written earlier in this sonority
                targets.append(t * 4 + u)
            if u >= v or self.forced[t, u] >= 0:  # blamed for the note it sounded before (its motion)
                if t > 0 and self.g.start[t - 1, u] >= 0:
                    targets.append(int(self.g.start[t - 1, u]) * 4 + u)
        targets = [b for b in targets if b < pos and self.forced[divmod(b, 4)] < 0]
        return max(targets) if targets else None

    def _forced_ok(self, t: int, v: int, token: int) -> tuple[bool, list[str]]:
        """A forced token passes unless a rule forbids it *because of the free voices*."""
        if not self._needs_rules(t, v, token):
            return True, []
        one = np.zeros(VOCAB_SIZE)
        one[token] = 1.0
        out, blocked = self._rule_filter(t, v, one, geometry_applied=False)  # given notes skip the plan masks
        if out[token] > 0:
            return True, []
        # intrinsic to the given material? judge with only the given notes visible
        visible = self.given.copy()
        visible[t, v] = True
        state = self.rm.state(t, self.g, visible=visible)
        pm, _ = self.rm.pitch_mask(state, v)
        p = token - PITCH_OFFSET if token >= PITCH_OFFSET else self.g.previous(t, v)
        return (p < 0 or not pm[p]), blocked

    def _choose(self, dist: np.ndarray, explore: bool = False) -> int:
        """Argmax, or a seeded draw from the top-p nucleus of the (few) allowed tokens.

        ``explore``: greedy and beam decoding sample too while re-decoding a region after
        a dead end, so that a restart does not walk into the same dead end again.
        """
        idx = np.flatnonzero(dist)
        if (self.s.strategy != "sample" or self.s.temperature == 0) and not explore:
            return int(idx[np.argmax(dist[idx])])
        if len(idx) > 24:  # masks off: the whole vocabulary, where numpy's sort wins
            order = idx[np.argsort(-dist[idx], kind="stable")]
            cum = np.cumsum(dist[order])
            n = len(order)
            if self.s.top_p < 1.0:
                n = int(np.searchsorted(cum, self.s.top_p * cum[-1])) + 1
            return int(order[min(int(np.searchsorted(cum[:n], self.rng.random() * cum[n - 1], side="right")), n - 1)])
        # a handful of tokens: plain Python (a stable sort by weight, then running sums) is
        # faster than numpy here and draws what argsort/cumsum/searchsorted would
        ids, w = idx.tolist(), dist[idx].tolist()
        order = sorted(range(len(ids)), key=w.__getitem__, reverse=True)  # stable: ties keep token order
        cum, total = [], 0.0
        for i in order:
            total += w[i]
            cum.append(total)
        if self.s.top_p < 1.0:
            n = bisect.bisect_left(cum, self.s.top_p * cum[-1]) + 1
            order, cum = order[:n], cum[:n]
        return ids[order[min(bisect.bisect_right(cum, self.rng.random() * cum[-1]), len(order) - 1)]]

    def _beam_step(self, t: int) -> tuple[int, ...] | None:
        """The best legal (S, A, T, B) tokens for step ``t`` by a beam over the four voices.

        Each hypothesis is scored by the model's log-probabilities (before masking, so a
        voicing the model finds unlikely ranks low); every expansion goes through the
        same plan, rule and look-ahead masks as sampling. The session and the grid are
        left at (t, soprano) afterwards.
        """
        k = self.s.beam
        beams: list[tuple[tuple[int, ...], float]] = [((), 0.0)]
        for v in range(4):
            grown: list[tuple[tuple[int, ...], float]] = []
            for toks, score in beams:
                self._rewind(t * 4)
                for u, tok in enumerate(toks):
                    self._apply(t, u, tok)
                    self.session.push(tok)
                forced = int(self.forced[t, v])
                if forced >= 0:
                    if self._forced_ok(t, v, forced)[0]:
                        grown.append((toks + (forced,), score))
                    continue
                mask, _ = self._plan_mask(t, v)
                if not mask.any():
                    continue
                p = self._probs(t, v)
                dist = p * mask
                if self.rm.rules:
                    dist, _ = self._rule_filter(t, v, dist)
                self._fail_candidates = None
                for tok in np.argsort(-dist)[: 2 * k]:
                    if dist[tok] <= 0:
                        break
                    if self._lookahead_ok(t, v, int(tok)):
                        grown.append((toks + (int(tok),), score + float(np.log(p[tok] + 1e-30))))
            beams = sorted(grown, key=lambda b: -b[1])[:k]
            if not beams:
                break
        self._rewind(t * 4)
        return beams[0][0] if beams and len(beams[0][0]) == 4 else None

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
        if token == HOLD and t > 0:
            self.given[t, v] = self.given[t - 1, v]
        else:
            self.given[t, v] = self.forced[t, v] >= 0

    def _rewind(self, pos: int) -> None:
        t, v = divmod(pos, 4)
        self._memo_step = -1  # the steps before may change from here on
        self.session.rewind(t, v)
        self.g.clear_from(t, v)
        self.tokens[t, v:] = -1
        self.tokens[t + 1:] = -1
        self.rm.reset_from(t, self.g)

    # ------------------------------------------------------------------ the loop
    def _preflight(self) -> None:
        """Refuse a plan the masks can already tell is unrealizable, naming the chord."""
        conflicts = self.pm.static_conflicts() if self.s.constraints else []
        if conflicts:
            i, v, rule, why = conflicts[0]
            c = self.plan.chords[i]
            m, beat = self.plan.metre_obj.measure_beat(c.onset, self.plan.pickup)
            raise UnsatisfiableError(why + ".", Location(measure=m, beat=beat, voice=VOICES[v]), rules=[rule],
                                     hint="Change the chord after it (e.g. to a first-inversion chord) or the inversion.")

    def run(self) -> Decoded:
        self._preflight()
        N = self.T * 4
        alts: list[np.ndarray | None] = [None] * N  # remaining (masked) distribution per position
        filtered = np.zeros(N, bool)  # alts[pos] already passed the rule masks
        lazy_token = np.full(N, -1, np.int64)  # the sure token taken where alts[pos] is _LAZY
        pos = 0
        retries = 0
        frontier = _Failure(0, [])
        t_start = time.perf_counter()
        while pos < N:
            t, v = divmod(pos, 4)
            token = -1
            forced = int(self.forced[t, v])
            if (self.s.strategy == "beam" and v == 0 and alts[pos] is None and t not in self._beam_plan
                    and pos >= self._explore_until):
                best = self._beam_step(t)
                if best is not None:
                    self._beam_plan[t] = best
            fresh = alts[pos] is None
            if fresh or alts[pos] is _LAZY:
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
                    probs = self._probs(t, v)
                    self.masked_tokens += 1
                    if fresh:
                        token = self._sure_token(t, v, probs, pos)
                    if token >= 0:
                        alts[pos] = _LAZY  # the alternatives are worked out only if decoding comes back here
                        lazy_token[pos] = token
                        self.sure_tokens += 1
                    else:
                        t0 = time.perf_counter()
                        mask, blocked = self._plan_mask(t, v)
                        if not fresh:
                            mask = mask.copy()
                            mask[lazy_token[pos]] = False  # tried already
                        self.mask_s += time.perf_counter() - t0
                        legal = np.count_nonzero(mask)
                        dist = probs * mask if legal else np.zeros(VOCAB_SIZE)
                        if legal and not np.count_nonzero(dist):  # the model put zero mass on every legal token
                            dist = mask.astype(np.float64)
                        alts[pos] = dist
                        filtered[pos] = False
                        if not legal and pos >= frontier.pos:
                            frontier = _Failure(pos, blocked)
            if token < 0:
                dist = alts[pos]
                explore = pos < self._explore_until
                preferred = None if explore else self._beam_plan.get(t)
                while np.count_nonzero(dist):
                    cand = self._choose(dist, explore)
                    if preferred is not None and dist[preferred[v]] > 0:
                        cand = preferred[v]  # the beam's choice while it is still legal
                    if filtered[pos] or not self._needs_rules(t, v, cand):
                        if self._lookahead_ok(t, v, cand):
                            token = cand
                            break
                        dist = dist.copy()
                        dist[cand] = 0.0
                        alts[pos] = dist
                        continue
                    dist, blocked = self._rule_filter(t, v, dist)
                    alts[pos] = dist
                    filtered[pos] = True
                    if not dist.any() and pos >= frontier.pos:
                        frontier = _Failure(pos, blocked)
                if token < 0 and v == 1 and self.pm.onset[t] and pos not in self._shallow and self.rm.rules \
                        and self.s.constraints:
                    # no alto leaves tenor and bass a note: decode on and let the tenor's dead end
                    # name its culprit (often its own previous note) for the backjump
                    self._shallow.add(pos)
                    alts[pos] = None
                    continue
                if token < 0:
                    if pos > frontier.pos:
                        frontier = _Failure(pos, ["lookahead"] if not self._fail_candidates else frontier.blocked_by)
                    pos = self._backtrack(pos, alts, frontier, retries, self._jump_target(pos))
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
            "sure_tokens": self.sure_tokens,
            "retries": retries,
            "seconds": time.perf_counter() - t_start,
            "model_seconds": self.model_s,
            "mask_seconds": self.mask_s,
        }
        return Decoded(self.tokens.copy(), self.g.pitch.copy(), self.g.attack.copy(), stats)

    def _backtrack(self, pos: int, alts: list, frontier: _Failure, retries: int, jump: int | None = None) -> int:
        """Choose where to resume after a dead end at ``pos``; rewind the session there.

        In order: the decision the blocking rules blame (``jump``), if it has an untried
        token; else the latest decision of this step with an untried token; else a
        restart from a chord onset, one chord further back each second time the same
        frontier fails, within ``max_backtrack_steps`` of the frontier. The restart point
        keeps the tokens already tried there out (a depth-first exclusion, until none
        is left and it starts over), so a restart does not re-sample the choice that
        just led into the dead end (a confident model would, time after time);
        everything after the resume point is decoded afresh (new samples from the model).
        """
        if retries >= self.s.max_retries:
            self._raise(frontier)
        t, v = divmod(pos, 4)
        floor = max(0, frontier.pos - 4 * self.s.max_backtrack_steps)

        def open_(q: int) -> bool:  # a lazy position may have alternatives: look when resuming there
            return alts[q] is _LAZY or (alts[q] is not None and bool(alts[q].any()))

        b = None
        if jump is not None and floor <= jump < pos and open_(jump):
            b = jump
        if b is None:
            b = next((q for q in range(pos - 1, t * 4 - 1, -1) if open_(q)), None)
        if b is None:
            fstep = frontier.pos // 4
            self._fails[fstep] = self._fails.get(fstep, 0) + 1
            if self._fails[fstep] > _MAX_RESTARTS:
                self._raise(frontier)
            onsets = [s for s in self._onset_steps if s < t]  # this step's own decisions are exhausted
            starts = [s * 4 + min([u for u in range(4) if self.forced[s, u] < 0] or [4]) for s in onsets]
            starts = [b for b in starts if floor <= b < pos and b % 4 < 4 and self.forced[divmod(b, 4)] < 0]
            if not starts:
                self._raise(frontier)
            level = min((self._fails[fstep] - 1) // 2, len(starts) - 1)  # further back every second time
            b = starts[-1 - level]
            self._explore_until = max(self._explore_until, frontier.pos + 4)
            if not open_(b):
                alts[b] = None  # every token tried: decode it afresh
        for q in range(b + 1, pos + 1):
            alts[q] = None
        self._shallow = {q for q in self._shallow if q <= b}
        for s in [s for s in self._beam_plan if s >= b // 4]:
            del self._beam_plan[s]
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
    return _Decoder(session, plan, rules, sampling, seed, forced).run()
