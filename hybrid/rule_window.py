"""The rules' view of the decoding prefix: a short window of sonorities and each rule's decoder face.

Sonorities are the steps where some voice strikes a note, plus the step being written.
Rules see the last ``window`` of them, with the plan's keys and chords, so the per-token
cost does not grow with the length of the piece. Every rule is asked through its own
``allowed(state, voice)``; nothing here knows what any rule checks.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.grammar.plan import Plan
from partimento.grammar.rules.base import Context, DecodeState, Rule, SonorityArray
from partimento.grammar.rules.masks import ALL, all_allowed, last_two
from partimento.grammar.theory import VOICES, key_info

from .grid import SILENT, GridState

__all__ = ["RuleWindow", "rules_mask"]


class RuleWindow:
    """Sonority rows of the prefix and the hard rules' masks over them."""

    def __init__(self, rules: Sequence[Rule], plan: Plan, window: int = 4) -> None:
        self.rules = list(rules)
        self.ids = [r.id for r in self.rules]
        self.window = window
        steps = plan.steps
        offsets = np.arange(steps) / STEPS_PER_QUARTER
        measure, beat = plan.metre_obj.grid_positions(steps, plan.pickup)
        self.offset = offsets.astype(np.float64)
        self.measure = measure.astype(np.int32)
        self.beat = beat
        idx = plan.chord_per_step()
        self.spec = [plan.chords[i].spec if i >= 0 else None for i in idx]
        self.key = [key_info(plan.chords[i].key) if i >= 0 else key_info(plan.key) for i in idx]
        fer = np.zeros(steps, bool)
        for c in plan.chords:
            if c.fermata:
                a = int(round(c.onset * STEPS_PER_QUARTER))
                fer[a:min(steps, int(round(c.end * STEPS_PER_QUARTER)))] = True
        self.fermata = fer
        self.row_steps: list[int] = []  # steps that are sonorities, in order (committed rows)
        self._cached_step = -1  # step whose window is cached (earlier rows do not change within a step)
        self._cached: DecodeState | None = None

    # ------------------------------------------------------------------ rows
    def commit(self, t: int) -> None:
        """Step ``t`` is a sonority (some voice struck a note)."""
        if not self.row_steps or self.row_steps[-1] != t:
            self.row_steps.append(t)

    def reset_from(self, t: int, g: GridState) -> None:
        """Drop rows at or after ``t`` (after a rollback); keep ``t`` if a written voice still strikes there."""
        while self.row_steps and self.row_steps[-1] >= t:
            self.row_steps.pop()
        if t < len(g.attack) and g.attack[t].any():
            self.row_steps.append(t)
        self._cached_step = -1
        self._cached = None

    def _arrays(self, steps: list[int], pitch: np.ndarray, attack: np.ndarray) -> DecodeState:
        off = self.offset[steps]
        dur = np.diff(np.append(off, off[-1] + 1 / STEPS_PER_QUARTER))
        son = SonorityArray(pitch, attack, off, dur, self.measure[steps], self.beat[steps], self.fermata[steps])
        return DecodeState(son, Context(keys=[self.key[s] for s in steps], chords=[self.spec[s] for s in steps]))

    def state(self, t: int, g: GridState, visible: np.ndarray | None = None,
              after: tuple[int, np.ndarray] | None = None) -> DecodeState:
        """The window ending at step ``t`` (the sonority being written; undecided voices REST).

        Within one step only the last row changes, so the window is built once per step
        and its last row refreshed on later calls. ``visible`` (T, 4) bool hides every
        note but those (judging given material on its own); ``after`` = (step, row)
        appends one more, hypothetical row after ``t`` (a look-ahead at given notes).
        """
        plain = visible is None and after is None
        if plain and self._cached_step == t and self._cached is not None:
            son = self._cached.sonorities
            row = g.pitch[t].astype(np.int16)
            row[~g.decided[t]] = SILENT
            son.pitch[-1] = row
            son.attack[-1] = g.attack[t]
            return self._cached
        prev = [s for s in self.row_steps[-self.window:] if s < t][-(self.window - 1):]
        steps = prev + [t]
        pitch = g.pitch[steps].astype(np.int16)
        attack = g.attack[steps].copy()
        pitch[~g.decided[steps]] = SILENT
        if visible is not None:
            hide = ~visible[steps]
            pitch[hide] = SILENT
            attack[hide] = False
        if after is not None:
            s, row = after
            steps = steps[1:] + [s] if len(steps) >= self.window else steps + [s]
            keep = len(steps) - 1
            pitch = np.vstack([pitch[-keep:], np.asarray(row, np.int16)[None, :]])
            attack = np.vstack([attack[-keep:], (np.asarray(row) >= 0)[None, :]])
        state = self._arrays(steps, pitch, attack)
        if plain:
            self._cached_step, self._cached = t, state
        return state

    def invalidate(self) -> None:
        """Forget the cached window (a trial wrote and erased notes it was built from)."""
        self._cached_step = -1
        self._cached = None

    # ------------------------------------------------------------------ masks
    def masks(self, state: DecodeState, v: int) -> list[np.ndarray]:
        """Each rule's ``allowed(state, v)`` (bool[128]; the shared ``ALL`` where it allows everything)."""
        state.last_rows = last_two(state)  # every rule reads the same two rows: convert them once
        try:
            return [r.allowed(state, v) for r in self.rules]
        finally:
            state.last_rows = None

    def combined(self, state: DecodeState, v: int) -> np.ndarray:
        """AND of every rule's mask (bool[128], a fresh array)."""
        return rules_mask(self.rules, state, v)

    def violations(self, state: DecodeState, rule_index: int) -> list:
        """The rule's violations at the last row of ``state`` (its check face)."""
        last = state.index
        return [x for x in self.rules[rule_index].check(state.sonorities, state.ctx) if x.index == last]

    def culprits(self, state: DecodeState, v: int, candidates: Sequence[int], names: Sequence[str]) -> set[int]:
        """Voices the named rules blame when ``voice`` takes each candidate pitch (for backjumping)."""
        wanted = set(names)
        out: set[int] = set()
        for p in list(candidates)[:8]:
            trial = state.with_pitch(v, int(p))
            for i, r in enumerate(self.rules):
                if r.id in wanted:
                    for viol in self.violations(trial, i):
                        out.update(VOICES.index(name) for name in viol.voices)
        return out


def rules_mask(rules: Sequence[Rule], state: DecodeState, v: int, rows: tuple | None = None) -> np.ndarray:
    """AND of the ``rules``' masks for voice ``v`` (bool[128], a fresh array).

    ``rows``, the (previous, current) rows the rules read, default to the state's last two
    sonorities; a look-ahead that builds a two-row state names them itself.
    """
    out = all_allowed()
    state.last_rows = rows if rows is not None else last_two(state)
    try:
        for r in rules:
            m = r.allowed(state, v)
            if m is not ALL:
                out &= m
    finally:
        state.last_rows = None
    return out
