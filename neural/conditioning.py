"""Per-step conditioning: what a grammar plan says about each sixteenth step.

The model reads one conditioning vector per step, made only of facts a
:class:`~partimento.grammar.plan.Plan` carries, so the same fields come from a plan at
generation time and from an analysed Bach score at training time:

============== ====== ===========================================================
field          values meaning
============== ====== ===========================================================
tonic          12     local key tonic pitch class (absolute)
mode           2      0 major, 1 minor
pcs            4096   chord pitch classes relative to the tonic, 12-bit mask (0 = no chord)
root           13     chord root relative to the tonic (12 = no chord)
bass           13     pitch class the chord puts in the bass, relative (12 = no chord)
onset          2      1 where a chord starts
fermata        2      1 under a fermata chord
cadence        6      0 none, 1 + index into ``CADENCES`` on a phrase's final chord
bar_pos        48     sixteenth step within the bar (pickup counted from the bar's end)
bar_steps      49     sixteenth steps per bar (16 for 4/4, 12 for 3/4)
to_change      17     steps until the chord changes (capped at 16)
next_pcs       4096   the next chord's pitch classes relative to this step's tonic
to_phrase_end  17     quarter notes until the phrase ends (capped at 16)
============== ====== ===========================================================

Relative fields make transposition a change of ``tonic`` only; the model recovers
absolute chord pitch classes by rotating ``pcs`` by ``tonic``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from partimento.grammar.metre import STEPS_PER_QUARTER
from partimento.grammar.theory import key_info

if TYPE_CHECKING:  # pragma: no cover
    from partimento.grammar.plan import Plan

__all__ = ["FIELDS", "FIELD_SIZES", "Conditioning", "ChordSegment", "conditioning_from_segments",
           "plan_conditioning", "pcs_mask", "CADENCE_CODES"]

FIELDS: tuple[str, ...] = ("tonic", "mode", "pcs", "root", "bass", "onset", "fermata", "cadence",
                           "bar_pos", "bar_steps", "to_change", "next_pcs", "to_phrase_end")
FIELD_SIZES: dict[str, int] = {"tonic": 12, "mode": 2, "pcs": 4096, "root": 13, "bass": 13, "onset": 2,
                               "fermata": 2, "cadence": 6, "bar_pos": 48, "bar_steps": 49,
                               "to_change": 17, "next_pcs": 4096, "to_phrase_end": 17}
#: cadence label -> code in the ``cadence`` field (0 = none)
CADENCE_CODES: dict[str, int] = {"PAC": 1, "IAC": 2, "HC": 3, "DC": 4, "PC": 5}


def pcs_mask(pcs: Sequence[int], tonic: int) -> int:
    """12-bit mask of pitch classes relative to ``tonic`` (bit i = tonic + i)."""
    mask = 0
    for pc in pcs:
        mask |= 1 << ((int(pc) - tonic) % 12)
    return mask


@dataclass(frozen=True)
class Conditioning:
    """Conditioning of a whole piece: ``values`` is (steps, len(FIELDS)) int64."""

    values: np.ndarray

    def __post_init__(self) -> None:
        v = np.asarray(self.values, dtype=np.int64)
        if v.ndim != 2 or v.shape[1] != len(FIELDS):
            raise ValueError(f"conditioning must be (steps, {len(FIELDS)}), got {v.shape}")
        object.__setattr__(self, "values", v)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def field(self, name: str) -> np.ndarray:
        """One field as a (steps,) array."""
        return self.values[:, FIELDS.index(name)]

    def transposed(self, semitones: int) -> "Conditioning":
        """The same plan in a key ``semitones`` higher (only ``tonic`` moves)."""
        v = self.values.copy()
        v[:, 0] = (v[:, 0] + semitones) % 12
        return Conditioning(v)

    def slice(self, start: int, stop: int) -> "Conditioning":
        return Conditioning(self.values[start:stop])


@dataclass(frozen=True)
class ChordSegment:
    """One chord span on the step grid with absolute pitch classes (plan or analysis)."""

    start: int  # first step
    stop: int  # one past the last step
    tonic: int  # local key tonic pitch class
    minor: bool
    members: tuple[int, ...]  # absolute pitch classes, root first
    root: int
    bass: int
    fermata: bool = False
    cadence: str | None = None


def conditioning_from_segments(steps: int, segments: Sequence[ChordSegment], bar_steps: int,
                               pickup_steps: int, phrase_ends: Sequence[int],
                               default_tonic: int = 0, default_minor: bool = False) -> Conditioning:
    """Build the per-step fields from chord spans, metre and phrase ends (in steps)."""
    v = np.zeros((steps, len(FIELDS)), dtype=np.int64)
    col = {name: i for i, name in enumerate(FIELDS)}
    v[:, col["tonic"]] = default_tonic
    v[:, col["mode"]] = int(default_minor)
    v[:, col["root"]] = 12
    v[:, col["bass"]] = 12
    segs = sorted((s for s in segments if s.stop > s.start), key=lambda s: s.start)
    for i, s in enumerate(segs):
        a, b = max(s.start, 0), min(s.stop, steps)
        if a >= b:
            continue
        t = s.tonic % 12
        v[a:b, col["tonic"]] = t
        v[a:b, col["mode"]] = int(s.minor)
        v[a:b, col["pcs"]] = pcs_mask(s.members, t)
        v[a:b, col["root"]] = (s.root - t) % 12
        v[a:b, col["bass"]] = (s.bass - t) % 12
        v[a, col["onset"]] = 1
        v[a:b, col["fermata"]] = int(s.fermata)
        v[a:b, col["cadence"]] = CADENCE_CODES.get(s.cadence or "", 0)
        v[a:b, col["to_change"]] = np.minimum(np.arange(b - a, 0, -1), 16)
        if i + 1 < len(segs):
            v[a:b, col["next_pcs"]] = pcs_mask(segs[i + 1].members, t)
    idx = np.arange(steps)
    bar_steps = max(int(bar_steps), 1)
    v[:, col["bar_pos"]] = np.minimum((idx - pickup_steps) % bar_steps, 47)
    v[:, col["bar_steps"]] = min(bar_steps, 48)
    ends = np.array(sorted(set(int(e) for e in phrase_ends if e > 0)) or [steps], dtype=np.int64)
    nxt = np.searchsorted(ends, idx, side="right")  # first phrase end strictly after the step
    dist = np.where(nxt < len(ends), ends[np.minimum(nxt, len(ends) - 1)] - idx, 64)
    v[:, col["to_phrase_end"]] = np.minimum((dist + STEPS_PER_QUARTER - 1) // STEPS_PER_QUARTER, 16)
    return Conditioning(v)


def plan_conditioning(plan: "Plan") -> Conditioning:
    """Per-step conditioning of a plan (len = ``plan.steps``); reads ``ChordEvent.spec``."""
    q = STEPS_PER_QUARTER
    segments: list[ChordSegment] = []
    for c in plan.chords:
        spec = c.spec
        info = key_info(c.key)
        segments.append(ChordSegment(
            start=int(round(c.onset * q)), stop=int(round(c.end * q)), tonic=info.tonic,
            minor=info.is_minor, members=tuple(spec.members), root=spec.root, bass=spec.bass,
            fermata=bool(c.fermata), cadence=c.cadence))
    ends = [int(round(p.end * q)) for p in plan.phrases]
    ends += [s.stop for s in segments if s.fermata]
    home = key_info(plan.key)
    metre = plan.metre_obj
    return conditioning_from_segments(plan.steps, segments, metre.bar_steps,
                                      int(round(plan.pickup * q)), ends, home.tonic, home.is_minor)
