"""Check a score against a profile: parse once to arrays, run every rule, collect a Report."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

from .base import RULES, Context, SonorityArray
from .chords import infer_chords
from .profiles import RULE_ORDER, Profile, get_profile
from .report import Report
from .sonority import parse_score

__all__ = ["check", "check_arrays"]

_ORDER = {r: i for i, r in enumerate(RULE_ORDER)}


def check_arrays(sonorities: SonorityArray, ctx: Context, profile: str | Profile = "strict") -> Report:
    """Check sonority arrays (a decoder's output, no music21 needed) under ``profile``.

    Chords are inferred once here when the context has none, so that every rule sees the
    same analysis; arrays several rules read are worked out once (:meth:`Context.shared`).
    """
    prof = get_profile(profile)
    if ctx.chords is None:
        ctx = replace(ctx, chords=infer_chords(sonorities, ctx.keys), chords_inferred=True, scratch={})
    else:
        ctx = replace(ctx, scratch={})
    violations = []
    try:
        for rule in _rules_of(prof):
            violations.extend(rule.check(sonorities, ctx))
    finally:
        ctx.scratch = None  # this check's arrays only: the report's context is read again later
    violations.sort(key=lambda v: (v.index, _ORDER.get(v.rule, len(_ORDER)), v.rule, v.voices))
    return Report(ctx.file, prof.name, violations, sonorities, ctx)


#: The rule instances of the last profiles checked, by (profile's id, the registry's entries):
#: building 16 rules costs more than several of them take to check a chorale, and a check
#: only reads them. Another registered rule (or another class under an id) builds anew.
_RULES_OF: dict[tuple, tuple[Profile, list]] = {}


def _rules_of(prof: Profile) -> list:
    key = (id(prof), tuple(RULES.items()))
    hit = _RULES_OF.get(key)
    if hit is None or hit[0] is not prof:  # (an id can be reused once a profile is gone)
        if len(_RULES_OF) > 32:
            _RULES_OF.clear()
        hit = _RULES_OF[key] = (prof, prof.rules())
    return hit[1]


def check(score_or_path: Any, profile: str | Profile = "strict", key: str | None = None, plan: Any = None,
          parts: Sequence[str | int] | None = None) -> Report:
    """Check a four-voice score (a music21 stream or a file path) and locate every violation.

    ``key`` forces one key for the whole score; ``plan`` (a :class:`~partimento.grammar.plan.Plan`)
    gives keys and chords per sonority; ``parts`` names the four voices' parts (names or
    1-based numbers, soprano first) in a score that has other parts too. Bad input raises
    :class:`~partimento.grammar.errors.ScoreError`.
    """
    prof = get_profile(profile)
    parsed = parse_score(score_or_path, key=key, plan=plan, parts=parts)
    report = check_arrays(parsed.sonorities, parsed.ctx, prof)
    report.parsed = parsed
    return report
