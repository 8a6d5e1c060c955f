"""Profiles: which rules run, at which severity, with which tolerances.

``strict`` is textbook four-part writing: every rule is an error, and a non-chord tone
that fits no class (``unprepared-dissonance``, see :mod:`.nct`) is an error where it is
dissonant on a beat and a warning off the beat. ``chorale`` keeps those severities and
adds Bach's tolerances: hidden fifths/octaves are also looked for between every pair of
voices but only soprano–bass ones are errors (the rest are warnings), an alto–tenor
crossing lasting at most one beat (a quarter note) is a warning, and an unclassified
non-chord tone is an error only on the downbeat: on 313 train/valid Bach chorales checked
with inferred chords that gives 0.03 such errors per chorale, 0.11 on every beat as in
strict, beside 15.7 per chorale from the other rules (``benchmarks/nct_bach.py``). A leading tone that does not
rise is an error only in the soprano in ``chorale`` (a warning in the other voices). The soprano may reach A5
(Bach's highest soprano note, in BWV 19.7 and 327) in ``chorale``. Rules
a user registers run at their own ``default_severity`` in every profile.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InputError
from . import crossing, dissonance, key_rules, melodic, motion, spacing_range, tendency  # noqa: F401  (register rules)
from .base import RULES, Rule, Severity
from .nct import DOWNBEAT

__all__ = ["Profile", "PROFILES", "RULE_ORDER", "get_profile", "hard_rules"]

#: Built-in rules in report order.
RULE_ORDER: tuple[str, ...] = (
    "parallel-fifths", "parallel-octaves", "hidden-fifths", "hidden-octaves",
    "voice-crossing", "voice-overlap", "spacing", "range",
    "doubled-leading-tone", "leading-tone-resolution", "seventh-resolution", "augmented-sixth-resolution",
    "melodic-augmented-interval", "large-leap", "out-of-key", "unprepared-dissonance",
)


@dataclass(frozen=True)
class Profile:
    """A named set of rule severities and options."""

    name: str
    description: str
    severities: dict[str, Severity] = field(default_factory=dict)  # overrides of default_severity
    options: dict[str, dict] = field(default_factory=dict)  # keyword arguments per rule id

    def rule_ids(self) -> list[str]:
        extra = [r for r in RULES if r not in RULE_ORDER]
        return [r for r in RULE_ORDER if r in RULES] + extra

    def rules(self) -> list[Rule]:
        """Fresh rule instances, severities and options applied; rules turned off are left out."""
        out: list[Rule] = []
        for rid in self.rule_ids():
            cls = RULES[rid]
            sev = self.severities.get(rid, cls.default_severity)
            if sev == Severity.OFF:
                continue
            opts = self.options.get(rid, {})
            try:
                rule = cls(severity=sev, **opts)
            except TypeError:  # a user rule whose __init__ takes no severity
                rule = cls(**opts)
                rule.severity = sev
            out.append(rule)
        return out


PROFILES: dict[str, Profile] = {
    "strict": Profile("strict", "textbook four-part writing: every rule an error (unclassified dissonance off the beat: a warning)",
                      severities={"unprepared-dissonance": Severity.ERROR}),
    "chorale": Profile(
        "chorale",
        "Bach-style tolerances: hidden intervals in inner voices and brief inner-voice crossings are warnings",
        options={
            "hidden-fifths": {"all_pairs": True, "inner_severity": Severity.WARNING},
            "hidden-octaves": {"all_pairs": True, "inner_severity": Severity.WARNING},
            "voice-crossing": {"brief_inner": 1.0},
            "range": {"ranges": {"soprano": (60, 81)}},
            "unprepared-dissonance": {"error_accent": DOWNBEAT},
            "leading-tone-resolution": {"relaxed": ("alto", "tenor", "bass")},
        },
        severities={"unprepared-dissonance": Severity.ERROR},
    ),
}


def get_profile(name: str | Profile) -> Profile:
    """The profile called ``name`` (``strict`` or ``chorale``); InputError names the choices."""
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[str(name).lower()]
    except KeyError:
        raise InputError(f"unknown profile {name!r}", expected=sorted(PROFILES)) from None


def hard_rules(profile: str | Profile = "strict") -> list[Rule]:
    """Rule instances whose severity is error in ``profile``: the decoder's masks."""
    return [r for r in get_profile(profile).rules() if r.severity == Severity.ERROR]
