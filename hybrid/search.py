"""The search: walks the positions, draws each token exactly, and backtracks out of dead ends.

It talks to two objects only: the model ``session`` (logits, push, rewind) and the
:class:`~partimento.hybrid.constraint.Constraint` (mask, push, rollback, dead-end
diagnosis). At each position it asks the model for its distribution, the preference
layer for its weights (where one speaks) and the constraint for the legal tokens, and
draws with :func:`~partimento.hybrid.sampling.sample`: so each token is drawn from
exactly ``normalize(model ** (1/T) * preferences * mask)``, nucleus taken after. The one
shortcut: where the model's favourite carries at least ``top_p`` of the (reweighted)
mass, it is the whole nucleus of any mask that keeps it (:func:`~partimento.hybrid.
sampling.sure_favourite`), so when the constraint says it is legal (cheaply, for a hold
inside a chord) it is taken without building the mask; the draw is the same, and so is
the random stream.

Strategies: ``sample`` (seeded, temperature, top-p), ``greedy`` (argmax), ``beam`` (per
step, a beam over the four voices scored by the model's log-probabilities, every
expansion through the same mask; sampling follows the beam's tokens while they are
legal). A dead end (no legal token, or every one tried) backtracks: first to the latest
decision the blocking rules blame that can still change, the other blamed decisions going
with it so that when it runs out too the search jumps on to the next (conflict-directed
backjumping), else to the latest open decision of this step, else restarts from a chord
onset, one chord further back
every second time the same frontier fails, within ``max_backtrack_steps`` sixteenths.
Positions re-decoded after a restart are sampled even under greedy or beam ("explore"),
so a restart does not walk into the same dead end again; a position resumed keeps the
tokens already tried there out. When the budget (``max_retries``, restarts per
frontier) runs out it raises :class:`~partimento.grammar.errors.UnsatisfiableError` at
the deepest dead end, naming measure, beat, voice and the rules that emptied the mask.
Each position's exact distribution holds for its first visit; after a backtrack the
tokens tried there are excluded (the trace says so).

Recording (``record=True``) only observes: the search takes the same path, shortcut and
lazy look-ahead included, so a piece decoded with recording is the piece decoded without it
(``tests/hybrid/test_recording_observer.py``). The recorder keeps what the search has in
hand; the full mask, the candidates and who removed each are worked out when a decision
is read (:mod:`.recording`: the constraint is walked back to the position then;
``tests/hybrid/test_recording_lazy.py``).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from partimento.grammar.errors import Location, SearchExhausted, UnsatisfiableError
from partimento.grammar.theory import VOICES

from .constraint import Constraint
from .preferences import Preferences
from .recording import DecisionFacts, DeferredDecision, Replay
from .sampling import sample, sure_favourite
from .trace import Backtrack, Decision, Trace

__all__ = ["Search"]

_MAX_RESTARTS = 24  # restarts from chord onsets allowed for one frontier before giving up


class _Node:
    """What the search knows at one position it has opened."""

    __slots__ = ("probs", "legal", "weights", "prefs", "tried", "lazy", "forced", "lookahead", "failed", "conflicts")

    def __init__(self) -> None:
        self.probs: np.ndarray | None = None  # the model's distribution (temperature 1)
        self.legal: np.ndarray | None = None  # the constraint's mask (None: not built, the shortcut took ``lazy``)
        self.weights: np.ndarray | None = None  # preference weights (None: no preference spoke)
        self.prefs: list[str] = []
        self.tried: list[int] = []  # tokens pushed from here, in order (all but the last led to dead ends)
        self.lazy = -1
        self.forced = False
        self.lookahead = False  # ``legal`` is the constraint's base: the look-ahead layers are asked per draw
        self.failed: set[int] = set()  # tokens of ``legal`` the look-ahead refused
        self.conflicts: list[int] = []  # other decisions blamed by a dead end that jumped here, latest first

    def open(self) -> bool:
        """Untried legal tokens may remain (a lazy position's are not worked out yet)."""
        if self.legal is None:
            return self.lazy >= 0
        return int(np.count_nonzero(self.legal)) > len(self.tried) + len(self.failed)  # tried tokens were legal


@dataclass
class _Frontier:
    pos: int
    blocked_by: list[str]
    where: tuple[int, int] | None = None  # (step, voice) to report (a look-ahead may point past pos)


class Search:
    """One decoding run. ``run()`` returns (tokens, stats, trace or None)."""

    def __init__(self, session: Any, constraint: Constraint, sampling: Any, seed: int,
                 preferences: Preferences | None = None, record: bool = False) -> None:
        self.session = session
        self._next_logits = getattr(session, "next_logits_array", session.next_logits)
        self.c = constraint
        self.s = sampling
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.prefs = preferences
        self.record = record
        self.T = constraint.steps
        self.forced = constraint.forced
        self._onset_steps = [int(s) for s in np.flatnonzero(constraint.tables.onset)]
        self._fails: dict[int, int] = {}  # restarts per frontier step
        self._beam_plan: dict[int, tuple[int, ...]] = {}  # step -> the beam's tokens
        self._explore_until = 0  # positions before this are re-decoded by sampling (after a restart)
        self.model_s = self.mask_s = 0.0
        self.masked_tokens = self.sure_tokens = 0
        self.decisions: list[Decision | None] = [None] * (self.T * 4)
        # recording: what the search did not need is worked out from the constraint when read
        self._replay = Replay(constraint, preferences, sampling.top_p) if record else None
        self.backtracks: list[Backtrack] = []

    # ------------------------------------------------------------------ distributions
    def _probs(self) -> np.ndarray:
        t0 = time.perf_counter()
        logits = self._next_logits()
        if hasattr(logits, "detach"):
            logits = logits.detach().numpy()
        z = np.array(logits, np.float64)
        self.model_s += time.perf_counter() - t0
        z -= np.maximum.reduce(z)  # (z.max() and z.sum() without numpy's Python-level wrappers)
        np.exp(z, out=z)
        z /= np.add.reduce(z)
        return z

    def _temperature(self, pos: int) -> float:
        """The temperature of the draw at ``pos`` (0: argmax)."""
        sampling = self.s.strategy == "sample" and self.s.temperature > 0
        if pos < self._explore_until:  # re-decoding after a restart: always sample
            return self.s.temperature if sampling else 1.0
        return self.s.temperature if sampling else 0.0

    def _push(self, token: int) -> None:
        t0 = time.perf_counter()
        self.session.push(token)
        self.model_s += time.perf_counter() - t0
        self.c.push(token)

    def _rewind(self, pos: int) -> None:
        t, v = divmod(pos, 4)
        self.session.rewind(t, v)
        self.c.rollback(self.c._pos - pos)

    def _mask(self) -> np.ndarray:
        t0 = time.perf_counter()
        m = self.c.mask()
        self.mask_s += time.perf_counter() - t0
        return m

    # ------------------------------------------------------------------ one position
    def _open(self, pos: int) -> _Node:
        t, v = divmod(pos, 4)
        c = self.c
        node = _Node()
        node.forced = bool(self.forced[t, v] >= 0)
        if not node.forced or self.record:
            node.probs = self._probs()
        if node.forced:
            node.legal = self._mask()
            return node
        self.masked_tokens += 1
        active = self.prefs is not None and self.prefs.active(c.grid, t, v)
        if self.s.strategy != "beam":
            # the sure shortcut: preference weights are at most 1, so a favourite that no
            # preference disfavours keeps its share and its lead under them (see sampling.sure_favourite)
            fav = sure_favourite(node.probs, self._temperature(pos), self.s.top_p)
            if fav >= 0:
                t0 = time.perf_counter()
                ok = (not active or self.prefs.weight_of(c.grid, t, v, fav) == 1.0) and c.allows(fav)
                self.mask_s += time.perf_counter() - t0
                if ok:
                    node.lazy = fav
                    self.sure_tokens += 1
                    return node
        self._build(node, t, v)
        return node

    def _build(self, node: _Node, t: int, v: int) -> None:
        """The legal tokens: the eager layers, the look-ahead asked per draw (recording or not: see ``_record``)."""
        c = self.c
        t0 = time.perf_counter()
        node.legal = c.base()
        node.lookahead = c.has_lookahead()
        if self.prefs is not None and self.prefs.active(c.grid, t, v) and np.count_nonzero(node.legal):
            node.weights, node.prefs = self.prefs.weights(c.grid, t, v, node.legal)
        self.mask_s += time.perf_counter() - t0

    def _accept(self, node: _Node, token: int) -> bool:
        """The look-ahead layers for one token the sampler may draw (remembered per node)."""
        if token in node.failed:
            return False
        t0 = time.perf_counter()
        ok = self.c.lookahead_ok(token)
        self.mask_s += time.perf_counter() - t0
        if not ok:
            node.failed.add(token)
        return ok

    def _choose(self, node: _Node, pos: int) -> int:
        if node.lazy >= 0 and node.lazy not in node.tried:
            return node.lazy
        t, v = divmod(pos, 4)
        if node.legal is None:
            self._build(node, t, v)
        avail = node.legal.copy()
        avail[node.tried] = False
        if node.failed:
            avail[list(node.failed)] = False
        if not np.count_nonzero(avail):
            return -1
        if node.forced:
            return int(np.flatnonzero(avail)[0])
        accept = (lambda tok: self._accept(node, tok)) if node.lookahead else None
        if pos >= self._explore_until:
            preferred = self._beam_plan.get(t)
            if preferred is not None and avail[preferred[v]] and (accept is None or accept(preferred[v])):
                return preferred[v]  # the beam's choice while it is still legal
        return sample(node.probs, avail, self.rng, self._temperature(pos), self.s.top_p, node.weights, accept)

    # ------------------------------------------------------------------ the loop
    def _preflight(self) -> None:
        """Refuse a plan whose bass the look-ahead can already tell is unwritable, naming the chord."""
        conflicts = self.c.conflicts()
        if conflicts:
            k = conflicts[0]
            c = self.c.plan.chords[k.chord]
            m, beat = self.c.plan.metre_obj.measure_beat(c.onset, self.c.plan.pickup)
            raise UnsatisfiableError(k.message + ".", Location(measure=m, beat=beat, voice=VOICES[k.voice]),
                                     rules=k.rules or ["plan"],
                                     hint="Change the chord after it (e.g. to a first-inversion chord) or the inversion.")

    def run(self) -> tuple[np.ndarray, dict, Trace | None]:
        self._preflight()
        N = self.T * 4
        nodes: list[_Node | None] = [None] * N
        pos = 0
        retries = 0
        frontier = _Frontier(0, [])
        t_start = time.perf_counter()
        while pos < N:
            t, v = divmod(pos, 4)
            if (self.s.strategy == "beam" and v == 0 and nodes[pos] is None and t not in self._beam_plan
                    and pos >= self._explore_until):
                best = self._beam_step(t)
                if best is not None:
                    self._beam_plan[t] = best
            node = nodes[pos]
            if node is None:
                node = nodes[pos] = self._open(pos)
            token = self._choose(node, pos)
            if token < 0:
                jumps: list[int] = []
                if not node.tried:  # the mask itself is empty: ask who emptied it
                    t0 = time.perf_counter()
                    dead = self.c.dead_end()
                    self.mask_s += time.perf_counter() - t0
                    if pos >= frontier.pos:
                        frontier = _Frontier(pos, dead.blocked_by, dead.where)
                    jumps = self._jump_targets(pos, dead.culprits)
                else:
                    if pos > frontier.pos:
                        frontier = _Frontier(pos, frontier.blocked_by or ["every legal token led to a dead end"])
                    jumps = node.conflicts  # a backjump target run out: the dead end's other culprits
                pos = self._backtrack(pos, nodes, frontier, retries, jumps)
                retries += 1
                continue
            if self.record:
                self._record(pos, node, token)
            node.tried.append(token)
            self._push(token)
            pos += 1
        stats = {
            "tokens": N,
            "masked_tokens": self.masked_tokens,
            "rule_calls": self.c.rule_masks,
            "sure_tokens": self.sure_tokens,
            "retries": retries,
            "seconds": time.perf_counter() - t_start,
            "model_seconds": self.model_s,
            "mask_seconds": self.mask_s,
        }
        return self.c.tokens.copy(), stats, self._trace() if self.record else None

    def _jump_targets(self, pos: int, culprits: set[int]) -> list[int]:
        """Conflict-directed backjumping: the decisions the blocking rules blame, latest first."""
        t, v = divmod(pos, 4)
        g = self.c.grid
        targets = []
        for u in culprits:
            if u < v:  # written earlier in this sonority
                targets.append(t * 4 + u)
            if u >= v or self.forced[t, u] >= 0:  # blamed for the note it sounded before (its motion)
                if t > 0 and g.start[t - 1, u] >= 0:
                    targets.append(int(g.start[t - 1, u]) * 4 + u)
        return sorted({b for b in targets if b < pos and self.forced[divmod(b, 4)] < 0}, reverse=True)

    def _backtrack(self, pos: int, nodes: list, frontier: _Frontier, retries: int, jumps: list[int]) -> int:
        """Choose where to resume after a dead end at ``pos``; rewind the session and the constraint there."""
        if retries >= self.s.max_retries:
            self._raise(frontier)
        t, v = divmod(pos, 4)
        floor = max(0, frontier.pos - 4 * self.s.max_backtrack_steps)

        def open_(q: int) -> bool:
            return nodes[q] is not None and nodes[q].open()

        kind = "backjump"
        # the latest blamed decision still open; the culprits after it go with it, so that if it runs
        # out too the search jumps on to the next one instead of restarting from a chord onset
        k = next((i for i, q in enumerate(jumps) if floor <= q < pos and open_(q)), None)
        b = jumps[k] if k is not None else None
        if b is not None:
            nodes[b].conflicts = sorted(set(jumps[k + 1:]) | set(nodes[b].conflicts), reverse=True)
        if b is None:
            kind = "step"
            b = next((q for q in range(pos - 1, t * 4 - 1, -1) if open_(q)), None)
        if b is None:
            kind = "restart"
            fstep = frontier.pos // 4
            self._fails[fstep] = self._fails.get(fstep, 0) + 1
            if self._fails[fstep] > _MAX_RESTARTS:
                self._raise(frontier)
            onsets = [s for s in self._onset_steps if s < t]  # this step's own decisions are exhausted
            starts = [s * 4 + min([u for u in range(4) if self.forced[s, u] < 0] or [4]) for s in onsets]
            starts = [q for q in starts if floor <= q < pos and q % 4 < 4 and self.forced[divmod(q, 4)] < 0]
            if not starts:
                self._raise(frontier)
            level = min((self._fails[fstep] - 1) // 2, len(starts) - 1)  # further back every second time
            b = starts[-1 - level]
            self._explore_until = max(self._explore_until, frontier.pos + 4)
            if not open_(b):
                nodes[b] = None  # every token tried: decode it afresh
        for q in range(b + 1, pos + 1):
            nodes[q] = None
        for s in [s for s in self._beam_plan if s >= b // 4]:
            del self._beam_plan[s]
        if self.record:
            self._note_backtrack(pos, b, kind, frontier)
        self._rewind(b)
        return b

    def _raise(self, f: _Frontier) -> None:
        t, v = f.where if f.where is not None else divmod(f.pos, 4)
        plan = self.c.plan
        m, beat = plan.metre_obj.measure_beat(t / 4, plan.pickup)
        ch = self.c.tables.chord_at(t)
        chord = ch.figure if ch is not None else "no chord"
        raise SearchExhausted(
            f"no legal note for the {VOICES[v]} over {chord} within "
            f"{self.s.max_backtrack_steps} sixteenths of backtracking",
            Location(measure=m, beat=beat, voice=VOICES[v]),
            rules=sorted(set(f.blocked_by)) or ["plan"],
            hint="Try another seed, a longer chord here, or a looser rule profile.",
        )

    # ------------------------------------------------------------------ beam
    def _beam_step(self, t: int) -> tuple[int, ...] | None:
        """The best legal (S, A, T, B) tokens for step ``t`` by a beam over the four voices.

        Each hypothesis is scored by the model's log-probabilities (before masking, so a
        voicing the model finds unlikely ranks low); every expansion is a legal token of
        the same mask sampling uses. The session and the constraint are left at (t, soprano).
        """
        k = self.s.beam
        beams: list[tuple[tuple[int, ...], float]] = [((), 0.0)]
        for v in range(4):
            grown: list[tuple[tuple[int, ...], float]] = []
            for toks, score in beams:
                self._rewind(t * 4)
                for tok in toks:
                    self._push(tok)
                legal = self._mask()
                if self.forced[t, v] >= 0:
                    if legal.any():
                        grown.append((toks + (int(self.forced[t, v]),), score))
                    continue
                if not legal.any():
                    continue
                p = self._probs()
                w = p * legal
                if self.prefs is not None and self.prefs.active(self.c.grid, t, v):
                    pw, _ = self.prefs.weights(self.c.grid, t, v, legal)
                    if pw is not None:
                        w = w * pw
                for tok in np.argsort(-w, kind="stable")[: 2 * k]:
                    if not legal[tok]:
                        break
                    grown.append((toks + (int(tok),), score + float(np.log(p[tok] + 1e-30))))
            beams = sorted(grown, key=lambda b: -b[1])[:k]
            if not beams:
                break
        self._rewind(t * 4)
        return beams[0][0] if beams and len(beams[0][0]) == 4 else None

    # ------------------------------------------------------------------ recording
    def _record(self, pos: int, node: _Node, token: int) -> None:
        """The decision at ``pos`` (the constraint stands at ``pos``, ``token`` not yet pushed).

        A pure observer: the search took exactly the path it takes without recording (the
        sure shortcut, the lazy look-ahead, the same nodes, hence the same backtracks and
        random draws). It keeps only what the search has in hand (:class:`~.recording.DecisionFacts`);
        what the search did not need (the full mask, the candidates' probabilities under it,
        the preference weights of a shortcut position, who removed each candidate and why) is
        worked out from the constraint when the decision is read (:mod:`.recording`).
        """
        t, v = divmod(pos, 4)
        c = self.c
        facts = DecisionFacts(pos=pos, token=int(token), probs=node.probs, tried=list(node.tried), forced=node.forced,
                              temperature=self._temperature(pos), built=node.legal is not None,
                              weights=node.weights, prefs=list(node.prefs))
        self.decisions[pos] = DeferredDecision(self._replay, facts, step=t, voice=v, measure=int(c.window.measure[t]),
                                               beat=float(c.window.beat[t]))

    def _note_backtrack(self, pos: int, b: int, kind: str, frontier: _Frontier) -> None:
        t, v = divmod(pos, 4)
        reason = {"backjump": "back to the decision the blocking rules blame",
                  "step": "back to the latest decision of this step with an untried token",
                  "restart": "restart from a chord onset"}[kind]
        self.backtracks.append(Backtrack(len(self.backtracks), (t, v), divmod(b, 4), kind,
                                         list(frontier.blocked_by), f"no legal {VOICES[v]} note here: {reason}"))

    def _trace(self) -> Trace:
        for bt in self.backtracks:
            lo, hi = bt.resumed[0] * 4 + bt.resumed[1], bt.dead_end[0] * 4 + bt.dead_end[1]
            for q in range(lo, min(hi, len(self.decisions) - 1) + 1):
                d = self.decisions[q]
                if d is not None:
                    d.backtracks.append(bt.index)
        c = self.c
        self._replay.finish(c.tokens)
        return Trace(plan=c.plan.to_dict(), rules=[r.id for r in c.rules],
                     forced=c.forced.tolist() if (c.forced >= 0).any() else None,
                     tokens=c.tokens.tolist(), seed=self.seed, sampling=asdict(self.s),
                     decisions=[d for d in self.decisions if d is not None], backtracks=self.backtracks)
