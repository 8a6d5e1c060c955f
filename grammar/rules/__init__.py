"""Voice-leading and key rules: a checker for finished scores and masks for the decoder.

``check(score_or_path, profile="strict")`` returns a :class:`Report` of located
violations; ``hard_rules(profile)`` gives the error-severity rule objects whose
``allowed(state, voice)`` masks the decoder applies. Add a rule by subclassing
:class:`Rule` and decorating it with :func:`register`.
"""
from .base import REST, RULES, Context, DecodeState, Rule, Severity, SonorityArray, Violation, register
from .profiles import PROFILES, RULE_ORDER, Profile, get_profile, hard_rules
from .checker import check, check_arrays
from .report import Report
from .sonority import ParsedScore, parse_score, sonorities_from_grid
from .chords import infer_chords

__all__ = [
    "check",
    "check_arrays",
    "Report",
    "Rule",
    "Violation",
    "Severity",
    "SonorityArray",
    "Context",
    "DecodeState",
    "REST",
    "RULES",
    "RULE_ORDER",
    "register",
    "Profile",
    "PROFILES",
    "get_profile",
    "hard_rules",
    "ParsedScore",
    "parse_score",
    "sonorities_from_grid",
    "infer_chords",
]
