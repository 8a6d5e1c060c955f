"""What Bach does with a melody: chord-transition and melody-fit statistics, and the slots they speak of.

The harmonizer (:mod:`partimento.hybrid.harmony`) scores a harmonization with counts
taken from Bach's chorales of the ``train`` split only (``neural/chorale_split.json``):
the When-in-Rome Roman-numeral analyses and music21's Riemenschneider analyses aligned
with the chorales' four voices (``tools/fit_harmony_model.py`` fits them; the counts
ship as ``harmony_model.json``, with the list of chorales they come from). They say:

* which chords follow which, in the local key, and how often the chord is held instead
  (per kind of slot: a downbeat, another beat, or the second half of a beat where the
  melody moves in eighths);
* which pitch each voice sounds at a slot's onset, and inside it, under each chord
  (relative to the local key's tonic): a soprano on the raised fourth points to V/V,
  a soprano on the leading tone of the dominant to a modulation there;
* which chords stand on fermatas and lead into them (the cadences), which open a piece;
* how often the local key changes (after a fermata, or inside a phrase), to which
  closely related key, on which chord the new key is entered, and whether that chord
  also belongs to the old key (a pivot chord).

A *slot* is a beat aligned to the barlines (the pickup forms its own), split in two
where the melody attacks a note on the half beat: the unit in which harmony may change.
Chords are Roman-numeral figures with their inversion; the vocabulary of each mode is
every chord the analyses use at least :data:`MIN_CHORD_COUNT` times, named by its most
common figure.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from partimento.grammar.errors import PlanError
from partimento.grammar.metre import STEPS_PER_QUARTER, Metre
from partimento.grammar.theory import ChordSpec, chord_spec, key_info, normalize_key

__all__ = ["MODES", "RELATED_KEYS", "SLOT_KINDS", "MIN_CHORD_COUNT", "MODEL_PATH", "Slot", "slots_of",
           "signature", "related_key_names", "HarmonyModel", "load_model", "BachChorale", "read_bach_chorale"]

MODES = ("major", "minor")
#: the closely related keys of a home key, home first: (semitones above the home tonic, mode, Roman numeral)
RELATED_KEYS: dict[str, tuple[tuple[int, str, str], ...]] = {
    "major": ((0, "major", "I"), (7, "major", "V"), (9, "minor", "vi"), (5, "major", "IV"), (2, "minor", "ii"),
              (4, "minor", "iii")),
    "minor": ((0, "minor", "i"), (3, "major", "III"), (7, "minor", "v"), (5, "minor", "iv"), (8, "major", "VI"),
              (10, "major", "VII")),
}
SLOT_KINDS = ("downbeat", "beat", "half")
MIN_CHORD_COUNT = 3  # a chord the analyses use fewer times stays out of the vocabulary
MODEL_PATH = Path(__file__).with_name("harmony_model.json")


@dataclass(frozen=True)
class Slot:
    """A span of the grid in which one chord sounds (or the chord before is held)."""

    start: int  # sixteenth step
    stop: int  # exclusive
    kind: int  # index into SLOT_KINDS


def slots_of(steps: int, metre: Metre, pickup_steps: int, half_attacks: np.ndarray) -> list[Slot]:
    """Beats aligned to the barlines, each split at its half where ``half_attacks`` is True there.

    ``half_attacks`` is a (steps,) bool array (the melody attacks a note at that step).
    A compound beat (a dotted quarter) splits only at its eighths, an undivisible beat never.
    """
    beat = int(metre.beat_quarters * STEPS_PER_QUARTER)
    bar = metre.bar_steps
    starts = sorted({b for b in range(pickup_steps % beat, steps, beat)} | {0})
    out: list[Slot] = []
    for i, a in enumerate(starts):
        b = starts[i + 1] if i + 1 < len(starts) else steps
        down = (a - pickup_steps) % bar == 0
        kind = 0 if down else 1
        halves = [a + beat // 2] if beat % 2 == 0 and beat >= 4 and b - a == beat else []
        if beat == 6 and b - a == beat:  # compound beat: its eighths
            halves = [a + 2, a + 4]
        cut = [h for h in halves if half_attacks[h]]
        edges = [a] + cut + [b]
        for j in range(len(edges) - 1):
            out.append(Slot(edges[j], edges[j + 1], kind if j == 0 else 2))
    return out


@dataclass(frozen=True)
class BachChorale:
    """A corpus chorale's four sung voices on the sixteenth grid, as the fit and the benchmarks read it."""

    parts: list  # the four music21 parts, soprano first (the soprano alone is what harmonize is given)
    pitch: np.ndarray  # (T, 4) sounding MIDI pitch, -1 silent
    attack: np.ndarray  # (T, 4) bool, a note starts here
    fermatas: list[int]  # steps where a soprano note with a fermata starts
    metre: Metre
    pickup: int  # steps before measure 1
    on_grid: bool  # every onset lies on the sixteenth grid (else onsets were rounded to it)


def read_bach_chorale(corpus_path: str) -> BachChorale | None:
    """The four sung voices of a music21 corpus chorale (None: not four voices).

    Cantata chorales carry doubling instruments as extra parts; the voices are the parts
    named after them (:func:`partimento.neural.score_analysis._satb_parts`). The grid comes
    from the rule checker's reader, so the fit, the benchmark and the checker see the same notes.
    """
    from music21 import corpus, meter, stream

    from partimento.grammar.rules import parse_score
    from partimento.neural.score_analysis import _satb_parts

    score = corpus.parse(corpus_path)
    parts = _satb_parts(score)
    if parts is None:
        return None
    s = parse_score(score if len(score.parts) == 4 else stream.Score(parts)).sonorities
    ts = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None)
    metre = Metre(int(ts.numerator), int(ts.denominator)) if ts is not None else Metre(4, 4)
    q = STEPS_PER_QUARTER
    on_grid = not np.any(np.abs(s.offset * q - np.round(s.offset * q)) > 1e-6)
    end = int(round((s.offset[-1] + s.duration[-1]) * q))
    pitch = np.full((end, 4), -1, np.int64)
    attack = np.zeros((end, 4), bool)
    starts = np.round(s.offset * q).astype(int)
    for i, a in enumerate(starts):
        b = starts[i + 1] if i + 1 < len(starts) else end
        pitch[a:b] = s.pitch[i]
        attack[a] = s.attack[i]
    first = next(i for i in range(len(s)) if s.measure[i] >= 1)
    bar = float(metre.bar_quarters)
    pickup_q = s.offset[first] - (s.measure[first] - 1) * bar - (s.beat[first] - 1) * float(metre.beat_quarters)
    pickup = int(round(max(0.0, pickup_q) * q)) % metre.bar_steps
    fermatas = [int(round(o * q)) for o, f, a in zip(s.offset, s.fermata, s.attack[:, 0]) if f and a]
    return BachChorale(list(parts), pitch, attack, fermatas, metre, pickup, bool(on_grid))


@lru_cache(maxsize=8192)
def signature(figure: str, key: str) -> tuple[str, tuple[int, ...], int, int] | None:
    """A chord as a key-free fact: (mode, pitch classes above the tonic, bass, root); None if unreadable."""
    try:
        spec = chord_spec(figure, key)
    except PlanError:
        return None
    k = key_info(key)
    rel = tuple(sorted((pc - k.tonic) % 12 for pc in spec.members))
    return (k.mode, rel, (spec.bass - k.tonic) % 12, (spec.root - k.tonic) % 12)


@lru_cache(maxsize=256)
def related_key_names(home: str) -> tuple[str, ...]:
    """The closely related keys of ``home`` as music21 spells them, in :data:`RELATED_KEYS` order."""
    from music21 import roman

    k = key_info(home)
    out = []
    for _, mode, numeral in RELATED_KEYS[k.mode]:
        name = roman.RomanNumeral(numeral, k.name).root().name
        out.append(normalize_key(name.lower() if mode == "minor" else name))
    return tuple(out)


def _log_rows(counts: np.ndarray, alpha: float, prior: np.ndarray | None = None) -> np.ndarray:
    """log of (counts + alpha * prior) row-normalized; ``prior`` sums to 1 (uniform when None)."""
    counts = np.asarray(counts, float)
    if prior is None:
        prior = np.full(counts.shape[-1], 1.0 / counts.shape[-1])
    sm = counts + alpha * prior
    return np.log(sm / sm.sum(axis=-1, keepdims=True))


class HarmonyModel:
    """The fitted counts as log-probabilities over one mode's vocabulary (see the module docstring)."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.vocab: dict[str, list[str]] = {m: list(data["vocab"][m]) for m in MODES}
        self.log: dict[str, dict[str, np.ndarray]] = {}
        for m in MODES:
            d = {k: np.asarray(v, float) for k, v in data["counts"][m].items()}
            uni = d["unigram"] + 1.0
            uni = uni / uni.sum()
            lm = {
                "unigram": np.log(uni),
                "change": _log_rows(d["change"], 4.0, uni),  # (F, F), diagonal unused
                "cadence": _log_rows(d["cadence"], 8.0, uni),  # (F, F) into a fermata slot
                "fermata": _log_rows(d["fermata"], 4.0, uni) - np.log(uni),  # log P(chord | fermata) / P(chord)
                "start": _log_rows(d["start"], 4.0, uni) - np.log(uni),
                "final": _log_rows(d["final"], 4.0, uni) - np.log(uni),
                "entry": _log_rows(d["entry"], 4.0, uni),
                "onset": _log_rows(d["onset"], 1.0),  # (4, F, 12)
                "inner": _log_rows(d["inner"], 1.0),  # (4, F, 12)
                "next": _log_rows(d["next"], 1.0),  # (F, 12) soprano at the next slot's onset
                "prev": _log_rows(d["prev"], 1.0),  # (F, 12) soprano at the previous slot's onset
                "kind": _log_rows(d["kind"], 4.0, uni) - np.log(uni),  # (3, F)
            }
            self.log[m] = lm
        c = data["counts"]
        self.stay = {k: float(np.log((c["stay"][k][0] + 1) / (sum(c["stay"][k]) + 2))) for k in SLOT_KINDS}
        self.move = {k: float(np.log((c["stay"][k][1] + 1) / (sum(c["stay"][k]) + 2))) for k in SLOT_KINDS}
        kc = c["key_change"]
        self.key_change = {ctx: float(np.log((kc[ctx][0] + 0.5) / (sum(kc[ctx]) + 1))) for ctx in kc}
        self.key_stay = {ctx: float(np.log((kc[ctx][1] + 0.5) / (sum(kc[ctx]) + 1))) for ctx in kc}
        pv = c["pivot"]
        self.pivot = {ctx: (float(np.log((pv[ctx][0] + 1) / (sum(pv[ctx]) + 2))),
                            float(np.log((pv[ctx][1] + 1) / (sum(pv[ctx]) + 2)))) for ctx in pv}
        self.key_relation = {m: np.log((np.asarray(c["key_relation"][m], float) + 1.0)
                                       / (np.sum(c["key_relation"][m]) + len(c["key_relation"][m])))
                             for m in MODES}

    @property
    def about(self) -> str:
        return str(self.data.get("about", ""))


@lru_cache(maxsize=2)
def load_model(path: str | None = None) -> HarmonyModel:
    """The shipped statistics (or those in ``path``), read once per process."""
    p = Path(path) if path else MODEL_PATH
    return HarmonyModel(json.loads(p.read_text()))
