"""A teacher's suggested fixes: for a violation, the nearest notes the rules allow instead.

For each voice a violation names, the offending note is the one sounding there at the
violation's sonority. Its candidates come from the rules' own decoder faces: the AND of
every hard rule's ``allowed(state, voice)`` mask at the sonority where the note starts,
with the notes before it and the voices above it in that sonority as written (the order
the decoder writes in). Candidates are tried members of the sounding chord first (a fix should not change
the harmony; other notes are offered only when no chord member works), nearest first
within each group (fewest semitones away), and
each one is verified by checking the whole score again with the note changed: a fix is
suggested only if that violation is gone and no other violation appears (the mask sees
only what comes before the note; the check also sees what follows).
``tests/grammar/rules/test_rules_fixes.py`` applies every suggested fix to the planted
exercises and checks them again from the score.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from .base import REST, Context, DecodeState, SonorityArray, Violation
from .profiles import get_profile, hard_rules

__all__ = ["Fix", "suggest_fixes", "apply_fix", "violation_keys"]

_VOICES = ("soprano", "alto", "tenor", "bass")


@dataclass(frozen=True)
class Fix:
    """Change one note: ``voice``'s note over sonorities ``start``..``stop`` from ``old`` to ``new`` (MIDI)."""

    rule: str  # the violation it removes
    voice: str
    start: int  # first sonority of the note
    stop: int  # one past its last
    measure: int  # where the note starts
    beat: float
    old: int
    new: int
    old_name: str
    new_name: str

    @property
    def text(self) -> str:
        return (f"{self.voice} {self.old_name} -> {self.new_name} (measure {self.measure}, beat {self.beat:g}): "
                f"removes {self.rule}, adds no violation")

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "voice": self.voice, "measure": self.measure, "beat": self.beat,
                "from": self.old_name, "to": self.new_name, "from_midi": self.old, "to_midi": self.new,
                "text": self.text}


def violation_keys(violations: Sequence[Violation]) -> set[tuple]:
    """What identifies a violation across two checks of the same rhythm: rule, sonority, voices."""
    return {(v.rule, v.index, frozenset(v.voices)) for v in violations}


def _note_span(s: SonorityArray, row: int, voice: int) -> tuple[int, int]:
    p = int(s.pitch[row, voice])
    start = row
    while start > 0 and not s.attack[start, voice] and int(s.pitch[start - 1, voice]) == p:
        start -= 1
    stop = row + 1
    while stop < len(s) and not s.attack[stop, voice] and int(s.pitch[stop, voice]) == p:
        stop += 1
    return start, stop


def _rule_mask(s: SonorityArray, ctx: Context, row: int, voice: int, rules: Sequence) -> np.ndarray:
    """AND of the rules' masks for ``voice`` at ``row``, with the voices below it not yet written."""
    pre = s.slice(row + 1)
    pitch, attack = pre.pitch.copy(), pre.attack.copy()
    pitch[-1, voice:] = REST
    attack[-1, voice:] = False
    pre = SonorityArray(pitch, attack, pre.offset, pre.duration, pre.measure, pre.beat, pre.fermata)
    pctx = Context(keys=ctx.keys[:row + 1], chords=None if ctx.chords is None else ctx.chords[:row + 1],
                   file=ctx.file, chords_inferred=ctx.chords_inferred)
    state = DecodeState(pre, pctx)
    mask = np.ones(128, bool)
    for r in rules:
        mask &= np.asarray(r.allowed(state, voice), bool)
    return mask


def apply_fix(s: SonorityArray, fix: Fix) -> SonorityArray:
    """A copy of ``s`` with the fix's note changed (same rhythm)."""
    pitch = s.pitch.copy()
    pitch[fix.start:fix.stop, _VOICES.index(fix.voice)] = fix.new
    return SonorityArray(pitch, s.attack.copy(), s.offset, s.duration, s.measure, s.beat, s.fermata)


def _name(midi: int, key) -> str:
    from .spelling import note_name

    return note_name(midi, key)


def suggest_fixes(report, violation: Violation, *, voices: Sequence[str] | None = None, limit: int = 2,
                  radius: int = 12, profile: str | None = None) -> list[Fix]:
    """Up to ``limit`` verified fixes per voice for ``violation`` of ``report`` (nearest first).

    ``voices``: only these of the violation's voices (default: all it names). ``radius``:
    how many semitones from the written note to look. ``profile``: the rules whose masks
    propose and whose check verifies (default: the report's).
    """
    from .checker import check_arrays

    prof = get_profile(profile or report.profile)
    rules = hard_rules(prof)
    s, ctx = report.sonorities, report.ctx
    recheck_ctx = replace(ctx, chords=None, chords_inferred=False) if ctx.chords_inferred else ctx
    before = violation_keys(report.violations)
    target = (violation.rule, violation.index, frozenset(violation.voices))
    out: list[Fix] = []
    for name in violation.voices:
        if voices is not None and name not in voices:
            continue
        v = _VOICES.index(name)
        old = int(s.pitch[violation.index, v])
        if old < 0:
            continue
        start, stop = _note_span(s, violation.index, v)
        mask = _rule_mask(s, ctx, start, v, rules)
        chord = ctx.chord(start)
        members = set(chord.members) if chord is not None else set(range(12))
        near = sorted((p for p in range(max(0, old - radius), min(127, old + radius) + 1) if p != old and mask[p]),
                      key=lambda p: (p % 12 not in members, abs(p - old), p))  # the chord's own notes first
        found = 0
        for p in near:
            if found and p % 12 not in members:  # a fix within the chord exists: keep the harmony
                break
            fix = Fix(violation.rule, name, start, stop, int(s.measure[start]), float(s.beat[start]), old, p,
                      _name(old, ctx.keys[start]), _name(p, ctx.keys[start]))
            after = violation_keys(check_arrays(apply_fix(s, fix), recheck_ctx, prof).violations)
            if target not in after and after <= before:
                out.append(fix)
                found += 1
                if found >= limit:
                    break
    return out
