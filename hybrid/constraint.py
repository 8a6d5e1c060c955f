"""The constraint: one state (the prefix written so far) and the legal set of the next token.

:class:`Constraint` owns the grid (:class:`~partimento.hybrid.grid.GridState`), the
rules' window of sonorities (:class:`~partimento.hybrid.rule_window.RuleWindow`) and the
plan tables (:mod:`.masks`). The search talks to it through four calls:

* :meth:`Constraint.mask` — bool[VOCAB] of the legal tokens at :attr:`position`;
* :meth:`Constraint.push` — write a token, move on;
* :meth:`Constraint.rollback` — forget the last ``n`` tokens (one state, one rewind);
* :meth:`Constraint.layers` / :meth:`Constraint.why` — the same mask as named layers, and
  for a token, every layer that removed it with a message.

The mask is the AND of these layers (their ids are what :meth:`why` and the trace name):

* ``given``: at a forced position only the given token; it passes unless a rule forbids
  it *because of the voices the decoder wrote* (what the given material breaks on its
  own is the caller's, judged with only the given notes visible);
* the plan layers (``plan:chord-tone``, ``plan:bass``, ``plan:coverage``, ... see
  :mod:`.masks`), which know only the plan (with one word from the rules: a seventh that
  no upper voice could take and still go on into the next chord is not asked for, see
  :meth:`Constraint._drop_unresolvable_sevenths`);
* one layer per hard rule, ``rule:<id>``: the rule's own ``allowed(state, voice)`` on the
  window, mapped onto tokens (an attack of ``p`` is allowed iff ``p`` is; a HOLD is judged
  like the held pitch re-struck; a REST always passes, rules ignore rests). Voice
  geometry (range, crossing, overlap, spacing) is such rules, so per-profile ranges flow
  through. Exception, and why: a HOLD at a step inside a chord where no voice has struck
  yet repeats the last sonority, already judged; if a later voice strikes at this step,
  the rules judge the new sonority through that voice's mask, and a rule in
  :data:`HOLD_STABLE` never finds a fault in held notes alone at a new sonority of the
  same chord (``tests/hybrid/test_constraint.py`` checks that property for each), so the
  hold is not asked about when every rule is such a rule. Any other rule (a user's) is
  asked about every hold;
* ``look-ahead:reach``: the pitch can go on into the next chord (:mod:`.lookahead`: the
  rules' faces asked one chord ahead);
* ``look-ahead:onset``: at a chord onset an upper voice must leave the next voice a
  token that passes that voice's own layers and look-ahead, and so on down to the bass:
  the sonority can be completed (a forward check, evaluated lazily: the first way found
  is enough);
* ``look-ahead:given``: a token must not make a given note of the next step illegal
  (the given soprano of a harmonization moving past the alto's note, say).

Masks are memoized per step and sonority-so-far, so the look-ahead's work for the bass
is reused when the bass is written.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from partimento.grammar.plan import Plan
from partimento.grammar.rules.base import Rule
from partimento.grammar.rules.masks import ALL
from partimento.grammar.theory import VOICES
from partimento.neural.encoding import HOLD, PITCH_OFFSET, REST, VOCAB_SIZE

from .grid import SILENT, GridState
from .lookahead import Conflict, Reach, static_masks
from .masks import (PITCH_PC, Here, PlanLayer, PlanTables, all_tokens, default_plan_layers, suspension_resolutions,
                    token_name)
from .rule_window import RuleWindow
from .trace import Removal

__all__ = ["Constraint", "Layer", "MaskLayers", "DeadEnd", "HOLD_STABLE"]

_count = np.count_nonzero  # ``bool(_count(mask))`` is ``mask.any()`` without numpy's Python-level wrapper

_BASS = 3

#: Built-in rules whose verdict on notes held unchanged inside one chord never changes at a
#: new sonority (a fault they find at a row always involves a voice that struck or moved
#: there, or was there already at the row before): a hold that adds no sonority need not
#: be asked about under them.
HOLD_STABLE = frozenset({
    "parallel-fifths", "parallel-octaves", "hidden-fifths", "hidden-octaves", "voice-crossing", "voice-overlap",
    "spacing", "range", "doubled-leading-tone", "leading-tone-resolution", "seventh-resolution",
    "melodic-augmented-interval", "large-leap", "out-of-key",
    "augmented-sixth-resolution",  # judged where the tendency tones move on
    "unprepared-dissonance",  # judged where the voice leaves the note; its mask always allows holding it
})


@dataclass
class Layer:
    """One named layer of a mask: ``allowed[token]`` is False where this layer removes the token."""

    id: str  # "given", "plan:<reason>", "rule:<rule id>", "look-ahead:reach|onset|given"
    allowed: np.ndarray  # bool[VOCAB]

    @property
    def rule(self) -> str:
        """The rule id this layer speaks for ("plan" for a plan layer)."""
        if self.id.startswith("rule:"):
            return self.id[5:]
        return "plan" if self.id.startswith("plan:") or self.id == "given" else self.id


@dataclass
class MaskLayers:
    """The mask at one position, layer by layer; ``legal`` is their AND."""

    step: int
    voice: int
    legal: np.ndarray  # bool[VOCAB]
    layers: list[Layer]

    def removed_by(self, token: int) -> list[str]:
        """Ids of the layers that remove ``token``."""
        return [x.id for x in self.layers if not x.allowed[token]]


@dataclass
class DeadEnd:
    """Why the mask at a position is empty: the layers that emptied it, and the voices its rules blame."""

    step: int
    voice: int
    blocked_by: list[str]  # rule ids, plan layer ids ("plan:coverage") or look-ahead layer ids
    culprits: set[int]  # voices the blocking rules name (for backjumping)
    blocked_voice: int = -1  # where the look-ahead found the sonority cannot be completed: the voice
    # it could not write (its own blockers lead ``blocked_by``); -1: this voice itself

    @property
    def where(self) -> tuple[int, int]:
        """(step, voice) to report: the voice that cannot be written."""
        return (self.step, self.blocked_voice if self.blocked_voice >= 0 else self.voice)


class Constraint:
    """Legal next tokens for one plan under the hard ``rules``, position by position.

    ``forced``: (T, 4) tokens the output must contain (-1 free). ``plan_layers``: the
    plan layers (default :func:`~partimento.hybrid.masks.default_plan_layers`).
    ``lookahead``: the look-ahead layers on (off: plan and rule layers only).
    """

    def __init__(self, plan: Plan, rules: Sequence[Rule] = (), forced: np.ndarray | None = None, *,
                 plan_layers: Sequence[PlanLayer] | None = None, lookahead: bool = True) -> None:
        self.plan = plan
        self.rules = list(rules)
        self.steps = plan.steps
        self.forced = forced if forced is not None else np.full((self.steps, 4), -1, np.int64)
        self.window = RuleWindow(self.rules, plan)
        self.tables = PlanTables(plan, self.forced)
        for ch, st in zip(self.tables.chords, static_masks(self.tables, self.window)):
            ch.static = st
        self.reach = Reach(self.tables, self.window) if lookahead else None
        self.lookahead = lookahead
        self.dropped_sevenths = self._drop_unresolvable_sevenths()
        self.plan_layers = list(plan_layers) if plan_layers is not None else default_plan_layers()
        self.grid = GridState.empty(self.steps)
        self.tokens = np.full((self.steps, 4), -1, np.int64)
        self.given = np.zeros((self.steps, 4), bool)  # the sounding note was given (forced), not chosen
        self._pos = 0
        self._memo: dict[tuple, np.ndarray] = {}
        self._memo_step = -1
        self._detail: tuple[int, MaskLayers, dict] | None = None  # layers of the current position (see layers())
        self._forced_attack_next = np.zeros((self.steps, 4), bool)  # (t, u): u has a given attack at t + 1
        f = self.forced
        self._forced_attack_next[:-1] = f[1:] >= PITCH_OFFSET
        self._given_attack_next = self._forced_attack_next.any(axis=1).tolist()  # per step: any given attack at t + 1
        self._chord_list = self.tables.chord_index.tolist()
        n_chords = len(self.tables.chords)
        self._has_next_chord = [0 <= ci < n_chords - 1 and self.rules != [] for ci in self._chord_list]
        self.rule_masks = 0  # how many times the rules were asked (diagnostics)
        self._holds_exempt = all(r.id in HOLD_STABLE and type(r).__module__.startswith("partimento.grammar.rules.")
                                 for r in self.rules)

    def _drop_unresolvable_sevenths(self) -> list[int]:
        """Chords whose seventh no free upper voice can take and still go on into the next chord.

        The plan's ``plan:coverage`` layer asks for root, third and seventh; where the rules
        leave the seventh no way on (``ii65`` before ``V6``: its only step down doubles the
        leading tone in the bass), asking for it would make the plan unrealizable, so the
        chord is written without it (the chord indices are listed; adherence counts them
        as misses).
        """
        dropped = []
        if self.reach is None or not self.rules:
            return dropped
        tables = self.tables
        for i, ch in enumerate(tables.chords[:-1]):
            pc = ch.spec.seventh
            if pc is None or pc not in ch.required or not 0 <= ch.onset < self.steps:
                continue
            free = [v for v in range(_BASS) if self.forced[ch.onset, v] < 0]
            pitches = [(v, q) for v in free for q in np.flatnonzero(ch.onset_tones(v) & (PITCH_PC == pc)).tolist()]
            if pitches and not any(self.reach.ok_at(ch.onset, i, v, q) for v, q in pitches):
                ch.required = tuple(x for x in ch.required if x != pc)
                dropped.append(i)
        return dropped

    # ------------------------------------------------------------------ the state
    @property
    def position(self) -> tuple[int, int]:
        """(step, voice) of the next token."""
        return divmod(self._pos, 4)

    @property
    def done(self) -> bool:
        return self._pos >= self.steps * 4

    def push(self, token: int) -> None:
        """Write ``token`` at :attr:`position` and move on (legality is the caller's: ask :meth:`mask`)."""
        t, v = self.position
        self._write(t, v, int(token))
        self._pos += 1
        self._detail = None

    def rollback(self, n: int = 1) -> None:
        """Forget the last ``n`` tokens."""
        if not 0 <= n <= self._pos:
            raise ValueError(f"cannot roll back {n} tokens from position {self._pos}")
        if n == 0:
            return
        self._pos -= n
        t, v = self.position
        self.grid.clear_from(t, v)
        self.tokens[t, v:] = -1
        self.tokens[t + 1:] = -1
        self.window.reset_from(t, self.grid)
        if t < self._memo_step:
            self._memo.clear()
            self._memo_step = -1
        self._detail = None

    def _write(self, t: int, v: int, token: int) -> None:
        if token == HOLD:  # a note held into a chord it does not belong to is a suspension: a non-chord tone
            prev = self.grid.previous(t, v)
            nct = prev >= 0 and bool(self.tables.onset[t]) and self.tables.is_nct(t, prev)
        else:
            nct = token >= PITCH_OFFSET and self.tables.is_nct(t, token - PITCH_OFFSET)
        self.grid.write(t, v, token, nct)
        self.tokens[t, v] = token
        if token == HOLD and t > 0 and self.forced[t, v] >= 0:
            self.given[t, v] = self.given[t - 1, v]
        else:  # a hold the decoder chose makes the note its own from here (it could have moved on)
            self.given[t, v] = self.forced[t, v] >= 0
        if token >= PITCH_OFFSET:
            self.window.commit(t)

    def _erase(self, t: int, v: int) -> None:
        """Undo a trial :meth:`_write` at (t, v) (nothing after it was written)."""
        self.grid.clear_from(t, v)
        self.tokens[t, v] = -1
        rows = self.window.row_steps
        if rows and rows[-1] == t and not _count(self.grid.attack[t]):
            rows.pop()

    # ------------------------------------------------------------------ the mask
    def mask(self) -> np.ndarray:
        """bool[VOCAB]: the legal tokens at :attr:`position` (read-only; shared with the memo)."""
        t, v = self.position
        return self._legal(t, v, True)

    def base(self) -> np.ndarray:
        """bool[VOCAB]: :meth:`mask` without the per-token look-ahead layers (reach, given, onset; read-only).

        ``mask() == base() & [lookahead_ok(tok) for every tok]``: the search asks
        :meth:`lookahead_ok` only for the tokens it may draw (see
        :func:`~partimento.hybrid.sampling.sample`'s ``accept``), which gives the same
        draw as the full mask at a fraction of the cost.
        """
        t, v = self.position
        return self._eager_memo(t, v)

    def _eager_memo(self, t: int, v: int) -> np.ndarray:
        key = self._memo_key(t, v, "eager")
        m = self._memo.get(key)
        if m is None:
            m = self._eager(t, v, None)
            m.flags.writeable = False
            self._memo[key] = m
        return m

    def has_lookahead(self) -> bool:
        """Whether a per-token look-ahead layer may remove a token at :attr:`position` (else ``base() == mask()``)."""
        t, v = self.position
        return self._lookahead_applies(t, v, True)

    def lookahead_ok(self, token: int) -> bool:
        """Whether ``token`` (legal under :meth:`base`) passes the look-ahead layers at :attr:`position`."""
        t, v = self.position
        return self._token_ok(t, v, token, True)

    def _token_ok(self, t: int, v: int, tok: int, forward: bool) -> bool:
        """The look-ahead layers (reach, given, onset) for one token, remembered per step and sonority so far."""
        onset = forward and bool(self.tables.onset[t]) and v < _BASS
        key = self._memo_key(t, v, ("look", onset, tok))
        ok = self._memo.get(key)
        if ok is None:
            ok = self._reach_ok(t, v, tok, self.grid.previous(t, v)) and all(self._lookahead(t, v, tok, forward, None))
            self._memo[key] = ok
        return ok

    def _nonempty(self, t: int, v: int, forward: bool) -> bool:
        """Whether (t, v) has a legal token: :meth:`mask`'s ``any()``, stopping at the first token that passes."""
        base = self._eager_memo(t, v)
        if not self._lookahead_applies(t, v, forward):
            return bool(base.any())
        prev = self.grid.previous(t, v)  # the nearest notes first: the likeliest to leave the rest room
        order = sorted(np.flatnonzero(base).tolist(), key=lambda tok: abs(tok - PITCH_OFFSET - prev) if tok > REST else -1)
        return any(self._token_ok(t, v, tok, forward) for tok in order)

    def _memo_key(self, t: int, v: int, what) -> tuple:
        if t != self._memo_step:
            self._memo.clear()
            self._memo_step = t
        g = self.grid
        return (v, what, g.pitch[t, :v].tobytes(), g.attack[t, :v].tobytes())

    def _legal(self, t: int, v: int, forward: bool) -> np.ndarray:
        if not self._lookahead_applies(t, v, forward):
            return self._eager_memo(t, v)
        key = self._memo_key(t, v, ("full", forward))
        m = self._memo.get(key)
        if m is None:
            m = self._compute(t, v, forward, None)
            m.flags.writeable = False
            self._memo[key] = m
        return m

    def allows(self, token: int) -> bool:
        """Whether ``token`` is legal at :attr:`position` (cheap for a HOLD inside a chord)."""
        if token == HOLD:
            fast = self._hold_fast()
            if fast is not None:
                return fast
        return bool(self.base()[token]) and (not self.has_lookahead() or self.lookahead_ok(token))

    def _hold_fast(self) -> bool | None:
        """``mask()[HOLD]`` without building the mask, where that is cheap; None elsewhere.

        Inside a chord (not at an onset), with no voice struck yet at this step (so the
        rules have no say, see the module docstring) and no given note at the next step
        to look ahead to, the HOLD entry is the plan layers' HOLD entries and the reach
        look-ahead's answer for the held pitch. ``tests/hybrid/test_constraint.py`` checks
        it against :meth:`mask` along decoded pieces.
        """
        t, v = self.position
        tables = self.tables
        if (self.forced[t, v] >= 0 or tables.onset[t] or tables.chord_index[t] < 0
                or (self.rules and not self._holds_exempt)
                or _count(self.grid.attack[t, :v]) or (self.lookahead and self._given_attack_next[t])):
            return None
        here = Here(tables, self.grid, t, v)
        for layer in self.plan_layers:
            if layer.hold(here) is False:
                return False
        if here.prev < 0:
            return False
        return self._reach_ok(t, v, HOLD, here.prev)

    def _rules_exempt_hold(self, t: int, v: int) -> bool:
        """A HOLD that adds no sonority (inside a chord, no voice struck yet at this step) under hold-stable rules."""
        return self._holds_exempt and not self.tables.onset[t] and not _count(self.grid.attack[t, :v])

    def _compute(self, t: int, v: int, forward: bool, detail: dict | None) -> np.ndarray:
        """The legal tokens at (t, v); with ``detail`` (a dict) also every layer, for :meth:`layers`."""
        legal = self._eager(t, v, detail) if detail is not None else self._eager_memo(t, v).copy()
        if not self._lookahead_applies(t, v, forward) or not (_count(legal) or detail is not None):
            return legal
        if detail is None:
            for tok in np.flatnonzero(legal).tolist():
                legal[tok] = self._token_ok(t, v, tok, forward)
            return legal
        prev = self.grid.previous(t, v)
        reach_ok = np.ones(VOCAB_SIZE, bool)
        given_ok = np.ones(VOCAB_SIZE, bool)
        onset_ok = np.ones(VOCAB_SIZE, bool)
        detail["legal_before_onset"] = legal.copy()
        why: dict = {"explain": detail.get("explain", False)}
        for tok in np.flatnonzero(legal).tolist():
            reach_ok[tok] = self._reach_ok(t, v, tok, prev)
            given_ok[tok], onset_ok[tok] = self._lookahead(t, v, tok, forward, why)
        legal = legal & reach_ok & given_ok & onset_ok
        detail["lookahead_why"] = why
        if self._given_attack_next[t]:
            detail["layers"].append(Layer("look-ahead:given", given_ok))
        if forward and self.tables.onset[t] and v < _BASS:
            detail["layers"].append(Layer("look-ahead:onset", onset_ok))
        return legal

    def _lookahead_applies(self, t: int, v: int, forward: bool) -> bool:
        """Whether a per-token look-ahead layer (reach, given, onset) can remove a token at (t, v)."""
        if not self.lookahead or self.forced[t, v] >= 0 or self.tables.chord_index[t] < 0:
            return False
        return (self._has_next_chord[t] or self._given_attack_next[t]
                or (forward and bool(self.tables.onset[t]) and v < _BASS))

    def _eager(self, t: int, v: int, detail: dict | None) -> np.ndarray:
        """The layers computed for every token at once: given, plan, rules (with ``detail``: reach too)."""
        layers: list[Layer] | None = [] if detail is not None else None
        if detail is not None:
            detail["layers"] = layers
        f = int(self.forced[t, v])
        if f >= 0:
            return self._compute_given(t, v, f, layers, detail)
        g = self.grid
        here = Here(self.tables, g, t, v)
        if detail is not None:
            detail["here"] = here
        legal = all_tokens()
        for layer in self.plan_layers:
            m = layer.mask(here)
            if m is None:
                continue
            legal &= m
            if layers is not None:
                layers.append(Layer(layer.id, m))
                detail.setdefault("plan_layers", {})[layer.id] = layer
            elif not _count(legal):
                return legal
        if detail is not None:
            detail["plan_legal"] = legal.copy()
        prev = here.prev
        if self.rules and (layers is not None or _count(legal[PITCH_OFFSET:]) or legal[HOLD]):
            exempt = self._rules_exempt_hold(t, v)
            if layers is not None or _count(legal[PITCH_OFFSET:]) or not exempt:
                state = self.window.state(t, g)
                self.rule_masks += 1
                if layers is None:
                    comb = self.window.combined(state, v)
                    legal[PITCH_OFFSET:] &= comb
                    if legal[HOLD] and not exempt and prev >= 0:
                        legal[HOLD] = comb[prev]
                else:
                    detail["state"] = state.with_pitch(v, SILENT, attack=False)  # a copy: the window's state is reused
                    for r, m in zip(self.rules, self.window.masks(state, v)):
                        tm = np.ones(VOCAB_SIZE, bool)
                        if m is not ALL:
                            tm[PITCH_OFFSET:] = m
                            tm[HOLD] = exempt or prev < 0 or bool(m[prev])
                        layers.append(Layer(f"rule:{r.id}", tm))
                        legal &= tm
        ch = here.chord
        if layers is not None and self.reach is not None and ch is not None:
            # for the record: the reach layer over the tokens legal so far and the plan's candidates
            # each rule allows on its own (the search asks it per token, see _lookahead)
            tm = np.ones(VOCAB_SIZE, bool)
            asked = legal.copy()
            asked[PITCH_OFFSET:] |= detail["plan_legal"][PITCH_OFFSET:] & ch.static[v]
            for tok in np.flatnonzero(asked).tolist():
                if not self._reach_ok(t, v, tok, prev):
                    tm[tok] = False
            layers.append(Layer("look-ahead:reach", tm))
        return legal

    def _reach_ok(self, t: int, v: int, tok: int, prev: int) -> bool:
        """The pitch ``tok`` sounds (a hold: the held one) can go on into the next chord."""
        if self.reach is None or tok == REST:
            return True
        ci = self._chord_list[t]
        p = prev if tok == HOLD else tok - PITCH_OFFSET
        if ci < 0 or p < 0:
            return True
        if tok == HOLD:  # a held suspension goes on by its resolution, struck at t + 1 at the earliest
            res = suspension_resolutions(self.tables, self.grid, t, v)
            if res:
                return any(self.reach.ok_at(t + 1, ci, v, r) for r in res)
        return self.reach.ok_at(t, ci, v, p)  # straight on, or by a move still to come inside the chord

    def _compute_given(self, t: int, v: int, f: int, layers: list | None, detail: dict | None) -> np.ndarray:
        legal = np.zeros(VOCAB_SIZE, bool)
        legal[f] = True
        if layers is not None:
            layers.append(Layer("given", legal.copy()))
            detail["here"] = Here(self.tables, self.grid, t, v)
        prev = self.grid.previous(t, v)
        pitch = f - PITCH_OFFSET if f >= PITCH_OFFSET else (prev if f == HOLD else SILENT)
        if self.rules and pitch >= 0 and not (f == HOLD and self._rules_exempt_hold(t, v)):
            state = self.window.state(t, self.grid)
            self.rule_masks += 1
            bad = self._blamed(state, t, v, pitch, after=None)
            if bad:
                legal[f] = False
            if layers is not None:
                detail["state"] = state.with_pitch(v, SILENT, attack=False)  # a copy: the window's state is reused
                for k, r in enumerate(self.rules):
                    tm = np.ones(VOCAB_SIZE, bool)
                    tm[f] = k not in bad
                    layers.append(Layer(f"rule:{r.id}", tm))
        return legal

    def _blamed(self, state, t: int, v: int, pitch: int, after: tuple[int, np.ndarray] | None) -> list[int]:
        """Indices of the rules whose masks at ``state`` forbid the given ``pitch`` of voice ``v``, less
        those that forbid it with only the given notes seen: what given material breaks on its own is
        the caller's, not ours, and only those rules are excused. ``after``: the given note is in
        the hypothetical row after step ``t`` (else at ``t``, which is then made visible too)."""
        def forbidding(st) -> list[int]:
            return [k for k, m in enumerate(self.window.masks(st, v)) if m is not ALL and not m[pitch]]

        bad = forbidding(state)
        if bad:
            visible = self.given
            if after is None:
                visible = visible.copy()
                visible[t, v] = True
            own = set(forbidding(self.window.state(t, self.grid, visible=visible, after=after)))
            bad = [k for k in bad if k not in own]
        return bad

    # ------------------------------------------------------------------ look-aheads
    def _lookahead(self, t: int, v: int, tok: int, forward: bool, why: dict | None) -> tuple[bool, bool]:
        """(given ok, onset ok) for ``tok`` at (t, v): write it, ask the next step's given notes and the
        later voices of this onset, erase it. Without ``why`` it stops at the first failure."""
        onset = forward and bool(self.tables.onset[t]) and v < _BASS
        if tok == REST or not (onset or self._given_attack_next[t]):
            return True, True
        given_ok = onset_ok = True
        self._write(t, v, tok)
        try:
            if self._given_attack_next[t]:
                # the given notes still to come at this step sound here too: the next step's rules
                # compare with them (a given bass may not move past the note the tenor holds)
                later = 0
                for u in range(v + 1, 4):
                    if self.forced[t, u] < 0:
                        break
                    self._write(t, u, int(self.forced[t, u]))
                    later += 1
                try:
                    given_ok = self._given_next_ok(t, v, tok, why)
                finally:
                    if later:
                        self._erase(t, v + 1)
            if (given_ok or why is not None) and onset:
                u = v + 1  # the next voice must have a token that passes its own look-ahead, down to the bass
                if not self._nonempty(t, u, True):
                    onset_ok = False
                    if why is not None:
                        blocked = self._blame(t, u, True, culprits=False).blocked_by if why["explain"] else []
                        why[("onset", tok)] = (u, blocked)
        finally:
            self._erase(t, v)
        return given_ok, onset_ok

    def _given_next_ok(self, t: int, v: int, tok: int, why: dict | None) -> bool:
        """With ``tok`` written at (t, v): do the given attacks of step ``t + 1`` stay legal?

        Each is judged as the rules would judge it there, with the voices not yet written
        silent (so only what ``tok`` and the notes before it imply counts), and what a
        given note breaks on its own (only given notes visible) is not held against it.
        """
        n = t + 1
        voices = [u for u in range(4) if u != v and self._forced_attack_next[t, u]]
        if not voices or not self.rules:
            return True
        row = self.tables.forced_pitch[n].astype(np.int16)
        row[self.forced[n] < 0] = SILENT
        state = self.window.state(t, self.grid, after=(n, row))
        for u in voices:
            p = int(row[u])
            if p < 0:
                continue
            bad = [self.rules[k].id for k in self._blamed(state, t, u, p, after=(n, row))]
            if bad:
                if why is not None:
                    why[("given", tok)] = (u, bad)
                return False
        return True

    # ------------------------------------------------------------------ explanations
    def layers(self) -> MaskLayers:
        """The mask at :attr:`position` as named layers (their AND equals :meth:`mask`)."""
        t, v = self.position
        if self._detail is None or self._detail[0] != self._pos:
            detail: dict = {"explain": True}
            legal = self._compute(t, v, True, detail)
            self._detail = (self._pos, MaskLayers(t, v, legal, detail["layers"]), detail)
        return self._detail[1]

    def why(self, token: int) -> list[Removal]:
        """Every layer that removes ``token`` at :attr:`position`, each with its message."""
        ml = self.layers()
        detail = self._detail[2]
        out = []
        for layer in ml.layers:
            if layer.allowed[token]:
                continue
            out.append(Removal(layer.id, layer.rule, self._message(layer, token, detail)))
        for r in out:  # a look-ahead speaks for the rules it asked
            if r.layer.startswith("look-ahead:"):
                r.rule = self._lookahead_rule(r.layer, token, detail)
        return out

    def _lookahead_rule(self, layer: str, token: int, detail: dict) -> str:
        here = detail["here"]
        if layer == "look-ahead:reach":
            p = self._sounding(here, token)
            rules = self.reach.blockers[here.chord.index][here.v].get(p, []) if p >= 0 else []
        else:
            kind = "onset" if layer == "look-ahead:onset" else "given"
            rules = detail.get("lookahead_why", {}).get((kind, token), (0, []))[1]
        return rules[0] if rules else layer

    @staticmethod
    def _sounding(here: Here, token: int) -> int:
        if token == HOLD:
            return here.prev
        return token - PITCH_OFFSET if token >= PITCH_OFFSET else SILENT

    def _message(self, layer: Layer, token: int, detail: dict) -> str:
        here: Here = detail["here"]
        if layer.id == "given":
            return f"the {VOICES[here.v]} is given here ({token_name(int(self.forced[here.t, here.v]), here.chord.key if here.chord else None)})"
        if layer.id.startswith("plan:"):
            return detail["plan_layers"][layer.id].why(here, token)
        if layer.id.startswith("rule:"):
            return self._rule_message(layer.id[5:], here, token, detail)
        if layer.id == "look-ahead:reach":
            p = self._sounding(here, token)
            return self.reach.why(here.chord.index, here.v, p)[1]
        if layer.id == "look-ahead:onset":
            u, rules = detail.get("lookahead_why", {}).get(("onset", token), (3, []))
            return (f"look-ahead: {here.sounding_name(token)} would leave the {VOICES[u]} no legal note"
                    + (f" ({', '.join(rules)})" if rules else ""))
        if layer.id == "look-ahead:given":
            u, rules = detail.get("lookahead_why", {}).get(("given", token), (0, []))
            return (f"look-ahead: the given {VOICES[u]} note at the next step would then break "
                    f"{', '.join(rules)}")
        return layer.id

    def _rule_message(self, rule_id: str, here: Here, token: int, detail: dict) -> str:
        """The rule's own message (its check face) for the sonority with ``token`` written."""
        state = detail.get("state")
        k = next(i for i, r in enumerate(self.rules) if r.id == rule_id)
        p = self._sounding(here, token)
        if state is not None and p >= 0:
            trial = state.with_pitch(here.v, p, attack=token != HOLD)
            found = self.window.violations(trial, k)
            if found:
                return found[0].message
        return self.rules[k].description or rule_id

    # ------------------------------------------------------------------ dead ends
    def dead_end(self) -> DeadEnd:
        """At a position whose mask is empty: who emptied it, and which voices its rules blame."""
        t, v = self.position
        return self._blame(t, v, True)

    def _blame(self, t: int, v: int, forward: bool, culprits: bool = True) -> DeadEnd:
        detail: dict = {}
        self._compute(t, v, forward, detail)
        layers: list[Layer] = detail["layers"]
        plan_ids = {x.id for x in layers if x.id.startswith("plan:") or x.id == "given"}
        base = np.ones(VOCAB_SIZE, bool)  # what the plan (or the given token) allows
        for x in layers:
            if x.id in plan_ids:
                base &= x.allowed
        if not base.any():  # the plan layers alone leave nothing
            blocked = [x.id for x in layers if x.id in plan_ids]
        else:
            others = [x for x in layers if x.id not in plan_ids]
            blocked = [x.id for x in others if not (base & x.allowed).any()]  # each alone removes every candidate
            if not blocked:
                blocked = [x.id for x in others if (base & ~x.allowed).any()]
        names = [b[5:] if b.startswith("rule:") else b for b in blocked]
        voices: set[int] = set()
        rule_ids = [b[5:] for b in blocked if b.startswith("rule:")]
        state = detail.get("state")
        here: Here = detail["here"]
        if culprits and rule_ids and state is not None:
            base = detail.get("plan_legal")
            if base is None:  # a given token
                cand = [self._sounding(here, int(self.forced[t, v]))]
            else:
                cand = (np.flatnonzero(base[PITCH_OFFSET:])).tolist()
                if base[HOLD] and here.prev >= 0:
                    cand.append(here.prev)
            cand = [p for p in cand if p >= 0]
            voices = self.window.culprits(state, v, cand, rule_ids)
        if blocked == ["look-ahead:onset"] and detail.get("plan_legal") is not None:
            # only the onset look-ahead: name the later voice it could not write, and its blockers
            u = v + 1
            inner = self._blame_later(t, v, u, detail["plan_legal"] & detail.get("legal_before_onset", base))
            if inner is not None:
                return DeadEnd(t, v, inner.blocked_by + ["look-ahead:onset"], voices, inner.where[1])
        return DeadEnd(t, v, names, voices)

    def _blame_later(self, t: int, v: int, u: int, candidates: np.ndarray) -> DeadEnd | None:
        """With the first candidate of (t, v) written: why voice ``u`` has no token."""
        toks = [tok for tok in np.flatnonzero(candidates).tolist() if tok != REST]
        if not toks:
            return None
        self._write(t, v, toks[0])
        try:
            return self._blame(t, u, True, culprits=False)
        finally:
            self._erase(t, v)

    def conflicts(self) -> list[Conflict]:
        """Plan chords whose bass can be written no way at all (see :meth:`Reach.conflicts`)."""
        return self.reach.conflicts() if self.reach is not None and self.rules else []
