"""Style against Bach: harmonized chorale sopranos and composed chorales beside Bach's own settings.

For the chorales of one split (``--split valid`` while developing; ``test`` is reported
once, at the end) the soprano is harmonized (``harmonize(soprano, key=<the chorale's key>,
seed=0)``), and ``--compose`` (30) chorales of 16 bars are composed with the ``chorale``
grammar (seeds 0.. or from ``--compose-from``, keys in turn). Every piece, Bach's included, is measured the same way:

* per voice: the share of notes shorter than a quarter; of melodic moves that repeat the
  note, step (1-2 semitones) or leap; and the overlap of its melodic-interval histogram
  (semitones -12..+12, wider ones pooled) with Bach's for the same voice (sum of minima;
  1 = the same distribution);
* beats (every quarter note) whose sonority holds a non-chord tone, by class
  (:mod:`partimento.grammar.rules.nct`), and the unclassified ones;
* the share of beats whose bass sounds the root of the chord; chord changes per bar;
* cadence types at fermatas (PAC, IAC, HC, DC, PC, other; local key per phrase);
* errors of the ``strict`` checker per piece, by rule (for a harmonization, those that
  involve only the given soprano are the melody's own and counted apart).

Chords come from the notes (inferred, as ``partimento check`` reads a plain score), so
Bach and partimento are judged alike; partimento's pieces are also measured against the
plan's own chords ("plan" rows), which is what their decoder and checker used. The
functions are importable (``from style_vs_bach import style_of, piece_of_result ...``).

    python benchmarks/style_vs_bach.py --split valid [--compose 30] [--limit N] [--jobs 2]
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from partimento.grammar.fileio import write_text_atomic
from partimento.grammar.rules import REST, Context, SonorityArray, check_arrays, parse_score, sonorities_from_grid
from partimento.grammar.rules.chords import infer_chords
from partimento.grammar.rules.nct import KINDS, UNCLASSIFIED, accent_levels, classify_notes, sounding_classes
from partimento.grammar.rules.sonority import find_keys
from partimento.grammar.theory import VOICES, ChordSpec, KeyInfo, key_info

__all__ = ["Piece", "piece_of_score", "piece_of_result", "voice_statistics", "interval_histogram",
           "histogram_overlap", "beat_rows", "beat_dissonances", "root_position_share", "chords_per_bar",
           "cadences", "strict_errors", "style_of", "summarize", "TARGETS"]

RESULTS = Path(__file__).parent / "results"  # style_vs_bach_<split>.json
SPLIT = Path(__file__).parents[1] / "neural" / "chorale_split.json"
KEYS = ("C", "G", "d", "F", "a", "B-", "e", "D")
WIDEST = 13  # histogram bins -13..13; +-13 pools every move wider than an octave
_EPS = 1e-6

#: The issue's targets (harmonized and composed pieces, each).
TARGETS = {
    "short_notes_atb_min": 0.25,  # alto, tenor, bass: share of notes shorter than a quarter
    "bass_step_min": 0.50,
    "interval_overlap_atb_min": 0.85,
    "beat_dissonance_min": 0.04,  # share of beats with a non-chord tone on the beat (every one in a class)
    "root_position_max": 0.72,
}


@dataclass
class Piece:
    """One four-voice piece as the measures read it: sonorities, inferred-chord context, plan context."""

    name: str
    s: SonorityArray
    inferred: Context  # chords inferred from the notes, keys per phrase
    plan: Context | None = None  # the plan's chords and keys (partimento's pieces)
    soprano_given: bool = False


def _with_inferred(s: SonorityArray, ctx: Context) -> Context:
    keys = find_keys(s)
    return Context(keys=keys, chords=infer_chords(s, keys), chords_inferred=True, file=ctx.file, accent=ctx.accent)


def piece_of_score(name: str, score: Any) -> Piece:
    """A Bach chorale (music21 score or path): its four voices, chords inferred.

    Chorales with instrumental parts (horns, recorders, timpani) name their four voices.
    """
    parts = None
    if len(getattr(score, "parts", ())) > 4:
        parts = ["Soprano", "Alto", "Tenor", "Bass"]
    parsed = parse_score(score, parts=parts)
    return Piece(name, parsed.sonorities, _with_inferred(parsed.sonorities, parsed.ctx))


def piece_of_result(name: str, result: Any, soprano_given: bool = False) -> Piece:
    """A partimento :class:`~partimento.hybrid.result.Result`: its grid, the plan's chords and inferred ones."""
    plan = result.plan
    s = sonorities_from_grid(result.pitch, result.attack, plan.metre, plan.pickup)
    chords: list[ChordSpec | None] = []
    keys: list[KeyInfo] = []
    fermata = np.zeros(len(s), bool)
    for i, off in enumerate(s.offset):
        c = plan.chord_at(float(off))
        chords.append(c.spec if c is not None else None)
        keys.append(key_info(c.key if c is not None else plan.key))
        fermata[i] = bool(c is not None and c.fermata and abs(c.onset - off) < _EPS)
    s.fermata = fermata
    accent = accent_levels(s.beat, plan.metre)
    ctx = Context(keys=keys, chords=chords, accent=accent)
    return Piece(name, s, _with_inferred(s, ctx), ctx, soprano_given)


# ---------------------------------------------------------------------------------------- voices
def _note_starts(s: SonorityArray, v: int) -> np.ndarray:
    """Row of each struck note of voice ``v`` (a rest counts as a note), in order."""
    p = s.pitch[:, v]
    return np.flatnonzero(s.attack[:, v] | np.concatenate([[True], p[1:] != p[:-1]]))


def _notes(s: SonorityArray, v: int) -> tuple[np.ndarray, np.ndarray]:
    """(pitch, duration) of each struck note of voice ``v`` (REST for rests), in order."""
    p = s.pitch[:, v].astype(np.int64)
    starts = _note_starts(s, v)
    ends = np.append(starts[1:], len(s))
    end_off = np.append(s.offset[1:], s.offset[-1] + s.duration[-1])
    dur = end_off[ends - 1] - s.offset[starts]
    return p[starts], dur


def interval_histogram(s: SonorityArray, v: int) -> np.ndarray:
    """Counts of melodic moves of voice ``v`` by signed semitones -13..13 (index + 13); moves across rests skipped."""
    pitch, _ = _notes(s, v)
    a, b = pitch[:-1], pitch[1:]
    ok = (a != REST) & (b != REST)
    d = np.clip(b[ok] - a[ok], -WIDEST, WIDEST)
    return np.bincount(d + WIDEST, minlength=2 * WIDEST + 1).astype(float)


#: Note values (quarter lengths) the duration histogram counts; anything else falls in the last bin.
DURATION_BINS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)
DURATION_LABELS = ("16th", "8th", "dotted 8th", "quarter", "dotted quarter", "half", "dotted half", "whole", "other")
DOTTED = (0.75, 1.5, 3.0)


def duration_histogram(s: SonorityArray, v: int) -> np.ndarray:
    """Counts of the struck notes of voice ``v`` by note value (:data:`DURATION_BINS`, then "other").

    Rhythm beside pitch: a voice can match Bach's shares of short notes and still move in
    16th-note oscillations or dotted figures Bach's inner voices rarely use.
    """
    pitch, dur = _notes(s, v)
    dur = dur[pitch != REST]
    bins = np.asarray(DURATION_BINS)
    hit = np.abs(dur[:, None] - bins[None, :]) < _EPS  # (notes, bins)
    idx = np.where(hit.any(axis=1), hit.argmax(axis=1), len(bins))
    return np.bincount(idx, minlength=len(bins) + 1).astype(float)


def histogram_overlap(h: np.ndarray, ref: np.ndarray) -> float:
    """Sum of the minima of two normalized histograms (1 = identical)."""
    if h.sum() == 0 or ref.sum() == 0:
        return 0.0
    return float(np.minimum(h / h.sum(), ref / ref.sum()).sum())


def rocking_notes(pitch: np.ndarray) -> int:
    """Notes of a voice (its struck pitches in order, REST for rests) inside a run alternating a-b-a-b (a != b).

    Four notes in a row on two pitches: an inner voice rocking between two notes instead
    of moving on (what ``prefer:no-rocking`` weighs).
    """
    p = np.asarray(pitch, np.int64)
    if len(p) < 4:
        return 0
    start = (p[:-3] == p[2:-1]) & (p[1:-2] == p[3:]) & (p[:-3] != p[1:-2]) & (p[:-3] != REST) & (p[1:-2] != REST)
    inside = np.zeros(len(p), bool)
    for k in range(4):
        inside[k:len(p) - 3 + k] |= start
    return int(inside.sum())


def _beat_phase(s: SonorityArray) -> float:
    """Where the quarter-note beats fall (offset modulo 1), counted from the first barline."""
    first_bar = s.offset[np.flatnonzero(s.beat <= 1 + _EPS)[0]] if (s.beat <= 1 + _EPS).any() else s.offset[0]
    return float(first_bar % 1.0)


MOVE_KINDS = ("repeat", "step", "third", "leap")  #: 0, 1-2, 3-4, 5 or more semitones


def beat_moves(s: SonorityArray, v: int) -> list[int]:
    """Counts of the moves of voice ``v`` into a note struck on a quarter-note beat, by :data:`MOVE_KINDS`.

    Where a voice goes as the chord changes: Bach's alto and tenor arrive on a beat by step or on a
    common tone (struck again or held, and then no move) far more often than by a third or a leap.
    """
    out = [0, 0, 0, 0]
    if len(s) == 0:
        return out
    starts = _note_starts(s, v)
    pitch, off = s.pitch[starts, v].astype(np.int64), s.offset[starts]
    phase = _beat_phase(s)
    on_beat = np.abs((off - phase + _EPS) % 1.0) < 2 * _EPS
    ok = (pitch[:-1] != REST) & (pitch[1:] != REST) & on_beat[1:]
    d = np.abs(pitch[1:][ok] - pitch[:-1][ok])
    for k, (lo, hi) in enumerate(((0, 0), (1, 2), (3, 4), (5, 10 ** 6))):
        out[k] = int(((d >= lo) & (d <= hi)).sum())
    return out


def voice_statistics(s: SonorityArray) -> dict[str, dict[str, float]]:
    """Per voice: notes, share shorter than a quarter, the shares of repeated / step / leap moves, rocking notes."""
    out = {}
    for v, name in enumerate(VOICES):
        pitch, dur = _notes(s, v)
        sounding = pitch != REST
        h = interval_histogram(s, v)
        moves = h.sum()
        d = np.abs(np.arange(-WIDEST, WIDEST + 1))
        out[name] = {
            "notes": int(sounding.sum()),
            "short": float((dur[sounding] < 1 - _EPS).mean()) if sounding.any() else 0.0,
            "repeat": float(h[d == 0].sum() / moves) if moves else 0.0,
            "step": float(h[(d >= 1) & (d <= 2)].sum() / moves) if moves else 0.0,
            "leap": float(h[d >= 3].sum() / moves) if moves else 0.0,
            "rocking_notes": rocking_notes(pitch),
            "beat_moves": beat_moves(s, v),
        }
    return out


# ---------------------------------------------------------------------------------------- harmony
def beat_rows(s: SonorityArray) -> np.ndarray:
    """Row of the sonority sounding at every quarter-note beat (beats counted from the first barline)."""
    if len(s) == 0:
        return np.zeros(0, np.int64)
    phase = _beat_phase(s)
    end = s.offset[-1] + s.duration[-1]
    times = np.arange(np.ceil(s.offset[0] - phase - _EPS) + phase, end - _EPS, 1.0)
    return np.searchsorted(s.offset, times + _EPS, side="right") - 1


def offbeat_eighth_attacks(s: SonorityArray) -> dict[str, list[int]]:
    """Per voice, [struck, sounding] at the off-beat eighths (half-way through each quarter-note beat).

    How often a voice moves in eighths: the rate the preference layer's ``prefer:motion``
    calibrates (``hybrid/preferences.py``).
    """
    out = {v: [0, 0] for v in VOICES}
    if len(s) == 0:
        return out
    first_bar = s.offset[np.flatnonzero(s.beat <= 1 + _EPS)[0]] if (s.beat <= 1 + _EPS).any() else s.offset[0]
    phase = first_bar % 1.0
    end = s.offset[-1] + s.duration[-1]
    times = np.arange(np.ceil(s.offset[0] - phase - _EPS) + phase, end - _EPS, 1.0) + 0.5
    times = times[(times > s.offset[0] - _EPS) & (times < end - _EPS)]
    rows = np.searchsorted(s.offset, times + _EPS, side="right") - 1
    exact = np.abs(s.offset[rows] - times) < _EPS
    for i, v in enumerate(VOICES):
        sounding = s.pitch[rows, i] != REST
        out[v] = [int((sounding & exact & s.attack[rows, i]).sum()), int(sounding.sum())]
    return out


def beat_dissonances(s: SonorityArray, ctx: Context) -> dict[str, Any]:
    """Beats whose sonority holds a non-chord tone: their share, and counts by class (a beat may hold two)."""
    rows = beat_rows(s)
    kinds = sounding_classes(s, ctx, what="kind")
    by_class: Counter = Counter()
    with_nct = 0
    for r in rows:
        found = {k for k in kinds[r] if k not in ("", "chord tone")}
        with_nct += bool(found)
        by_class.update(found)
    notes = classify_notes(s, ctx)
    by_voice = {v: Counter(n.kind for n in notes if n.voice == i) for i, v in enumerate(VOICES)}
    return {"beats": int(len(rows)), "with_non_chord_tone": with_nct,
            "by_class": {k: by_class[k] for k in KINDS[1:] + (UNCLASSIFIED, "pending") if by_class[k]},
            "unclassified_notes": sum(1 for n in notes if n.kind == UNCLASSIFIED),
            "non_chord_tone_notes": sum(1 for n in notes if n.is_nct),
            "classes_by_voice": {v: dict(c) for v, c in by_voice.items()}}


def root_position_share(s: SonorityArray, ctx: Context) -> tuple[int, int]:
    """(beats whose bass sounds the chord's root, beats with a chord and a bass)."""
    rows = beat_rows(s)
    root = total = 0
    for r in rows:
        ch = ctx.chords[r] if ctx.chords is not None else None
        b = int(s.pitch[r, 3])
        if ch is None or b == REST:
            continue
        total += 1
        root += b % 12 == ch.root
    return root, total


def _bars(s: SonorityArray) -> float:
    return float(len(np.unique(s.measure[s.measure > 0]))) or 1.0


def chords_per_bar(s: SonorityArray, ctx: Context) -> float:
    """Chord changes (a new root or quality on a beat) per bar."""
    rows = beat_rows(s)
    changes, prev = 0, None
    for r in rows:
        ch = ctx.chords[r] if ctx.chords is not None else None
        key = None if ch is None else (ch.root, ch.members)
        if key is not None and key != prev:
            changes += 1
        prev = key
    return changes / _bars(s)


def _cadence(prev: ChordSpec | None, last: ChordSpec | None, key: KeyInfo, soprano: int, bass: int) -> str:
    if last is None:
        return "other"
    t = key.tonic
    dom = (t + 7) % 12
    if last.root == t and prev is not None and prev.root in (dom, key.leading_tone):
        perfect = prev.root == dom and bass % 12 == t and soprano % 12 == t
        return "PAC" if perfect else "IAC"
    if last.root == dom:
        return "HC"
    if prev is not None and prev.root == dom and last.root == (t + (8 if key.is_minor else 9)) % 12:
        return "DC"
    if last.root == t and prev is not None and prev.root == (t + 5) % 12:
        return "PC"
    return "other"


def cadences(s: SonorityArray, ctx: Context) -> Counter:
    """Cadence type at each fermata (the chord there and the last different chord before it, local key)."""
    out: Counter = Counter()
    if s.fermata is None or ctx.chords is None:
        return out
    rows = np.flatnonzero(s.fermata)
    keep = [r for i, r in enumerate(rows) if i == 0 or r != rows[i - 1] + 1]  # one per fermata chord
    for r in keep:
        last = ctx.chords[r]
        prev = None
        for q in range(r - 1, -1, -1):
            c = ctx.chords[q]
            if c is not None and last is not None and (c.root, c.members) != (last.root, last.members):
                prev = c
                break
        out[_cadence(prev, last, ctx.keys[r], int(s.pitch[r, 0]), int(s.pitch[r, 3]))] += 1
    return out


def strict_errors(s: SonorityArray, ctx: Context, soprano_given: bool = False) -> tuple[Counter, Counter]:
    """Errors of the strict profile by rule: (the rest, those of a given soprano alone: the melody's own)."""
    rep = check_arrays(s, ctx, "strict")
    own, melody = Counter(), Counter()
    for v in rep.violations:
        if v.severity.value == "error":
            (melody if soprano_given and v.voices == ["soprano"] else own)[v.rule] += 1
    return own, melody


def style_of(p: Piece) -> dict[str, Any]:
    """Every measure of one piece (raw counts, so that pieces add up)."""
    out: dict[str, Any] = {"voices": voice_statistics(p.s),
                           "histograms": {v: interval_histogram(p.s, i).tolist() for i, v in enumerate(VOICES)},
                           "durations": {v: duration_histogram(p.s, i).tolist() for i, v in enumerate(VOICES)},
                           "bars": _bars(p.s), "offbeat_eighths": offbeat_eighth_attacks(p.s)}
    for label, ctx in (("inferred", p.inferred), ("plan", p.plan)):
        if ctx is None:
            continue
        root, total = root_position_share(p.s, ctx)
        own, melody = strict_errors(p.s, ctx, p.soprano_given)
        out[label] = {"beat_dissonance": beat_dissonances(p.s, ctx), "root": root, "root_of": total,
                      "chords_per_bar": chords_per_bar(p.s, ctx), "cadences": dict(cadences(p.s, ctx)),
                      "strict_errors": dict(own), "melody_errors": dict(melody)}
    return out


# ---------------------------------------------------------------------------------------- tables
def _shares(counts: np.ndarray) -> dict[str, float]:
    """{kind: share} of :data:`MOVE_KINDS` counts."""
    n = max(int(np.sum(counts)), 1)
    return {k: round(float(c) / n, 4) for k, c in zip(MOVE_KINDS, counts)}


def summarize(styles: list[dict], reference: dict[str, np.ndarray] | None = None,
              duration_reference: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Pool pieces: per-voice shares (weighted by notes / moves), histogram overlaps with the references.

    ``reference`` holds Bach's melodic-interval histograms and ``duration_reference`` his
    note-value histograms, per voice (``summarize(...)["histograms"]`` / ``["durations"]``
    of Bach's own pieces).
    """
    if not styles:
        return {"pieces": 0}
    out: dict[str, Any] = {"pieces": len(styles)}
    voices = {}
    hists = {}
    for v in VOICES:
        notes = sum(st["voices"][v]["notes"] for st in styles)
        h = np.sum([st["histograms"][v] for st in styles], axis=0)
        hists[v] = h
        moves = h.sum()
        d = np.abs(np.arange(-WIDEST, WIDEST + 1))
        voices[v] = {
            "short": round(sum(st["voices"][v]["short"] * st["voices"][v]["notes"] for st in styles) / max(notes, 1), 4),
            "repeat": round(float(h[d == 0].sum() / max(moves, 1)), 4),
            "step": round(float(h[(d >= 1) & (d <= 2)].sum() / max(moves, 1)), 4),
            "leap": round(float(h[d >= 3].sum() / max(moves, 1)), 4),
            "rocking": round(sum(st["voices"][v].get("rocking_notes", 0) for st in styles) / max(notes, 1), 4),
            "beat_moves": _shares(np.sum([st["voices"][v].get("beat_moves", [0] * 4) for st in styles], axis=0)),
            "overlap_with_bach": round(histogram_overlap(h, reference[v]), 4) if reference is not None else 1.0,
        }
    durations = {}
    for v in VOICES:
        dh = np.sum([st["durations"][v] for st in styles], axis=0)
        durations[v] = dh
        n = max(dh.sum(), 1)
        voices[v]["sixteenth"] = round(float(dh[0] / n), 4)
        voices[v]["dotted"] = round(float(sum(dh[DURATION_BINS.index(d)] for d in DOTTED) / n), 4)
        voices[v]["duration_overlap_with_bach"] = (round(histogram_overlap(dh, duration_reference[v]), 4)
                                                   if duration_reference is not None else 1.0)
    for v in VOICES:
        struck = sum(st["offbeat_eighths"][v][0] for st in styles)
        voices[v]["offbeat_eighth_attacks"] = round(struck / max(sum(st["offbeat_eighths"][v][1] for st in styles), 1), 4)
    out["voices"] = voices
    out["histograms"] = {v: hists[v].tolist() for v in VOICES}
    out["durations"] = {v: durations[v].tolist() for v in VOICES}
    bars = sum(st["bars"] for st in styles)
    for label in ("inferred", "plan"):
        rows = [st[label] for st in styles if label in st]
        if not rows:
            continue
        beats = sum(r["beat_dissonance"]["beats"] for r in rows)
        diss = sum(r["beat_dissonance"]["with_non_chord_tone"] for r in rows)
        by_class: Counter = Counter()
        cad: Counter = Counter()
        errs: Counter = Counter()
        melody: Counter = Counter()
        for r in rows:
            by_class.update(r["beat_dissonance"]["by_class"])
            cad.update(r["cadences"])
            errs.update(r["strict_errors"])
            melody.update(r.get("melody_errors", {}))
        classes = {v: Counter() for v in VOICES}  # every note of each voice by class (not only on beats)
        for r in rows:
            for v, c in r["beat_dissonance"].get("classes_by_voice", {}).items():
                classes[v].update(c)
        ncts = sum(r["beat_dissonance"]["non_chord_tone_notes"] for r in rows)
        uncl = sum(r["beat_dissonance"]["unclassified_notes"] for r in rows)
        out[label] = {
            "beat_dissonance": round(diss / max(beats, 1), 4),
            "beat_dissonance_by_class": {k: round(n / max(beats, 1), 4) for k, n in by_class.most_common()},
            "non_chord_tones_unclassified": f"{uncl}/{ncts}",
            "note_classes_by_voice": {v: {k: round(n / max(sum(c.values()), 1), 4) for k, n in c.most_common()}
                                      for v, c in classes.items()},
            "root_position": round(sum(r["root"] for r in rows) / max(sum(r["root_of"] for r in rows), 1), 4),
            "chords_per_bar": round(sum(r["chords_per_bar"] * st["bars"] for r, st in zip(rows, styles)) / max(bars, 1), 3),
            "cadences": dict(cad.most_common()),
            "strict_errors_per_piece": round(sum(errs.values()) / len(rows), 3),
            "strict_errors_by_rule": dict(errs.most_common()),
            "given_soprano_errors_by_rule": dict(melody.most_common()),
        }
    return out


def _targets(s: dict) -> dict[str, Any]:
    if not s.get("pieces"):
        return {}
    v = s["voices"]
    ctx = s.get("plan", s["inferred"])
    return {
        "short_notes_atb": [v[x]["short"] for x in ("alto", "tenor", "bass")],
        "short_notes_atb_ok": all(v[x]["short"] >= TARGETS["short_notes_atb_min"] for x in ("alto", "tenor", "bass")),
        "bass_step": v["bass"]["step"], "bass_step_ok": v["bass"]["step"] >= TARGETS["bass_step_min"],
        "overlap_atb": [v[x]["overlap_with_bach"] for x in ("alto", "tenor", "bass")],
        "overlap_atb_ok": all(v[x]["overlap_with_bach"] >= TARGETS["interval_overlap_atb_min"] for x in ("alto", "tenor", "bass")),
        "beat_dissonance": ctx["beat_dissonance"],
        "beat_dissonance_ok": ctx["beat_dissonance"] >= TARGETS["beat_dissonance_min"]
        and ctx["non_chord_tones_unclassified"].startswith("0/"),
        "root_position": s["inferred"]["root_position"],
        "root_position_ok": s["inferred"]["root_position"] <= TARGETS["root_position_max"],
    }


def print_table(res: dict[str, Any]) -> None:
    cols = [c for c in ("bach", "harmonize", "compose") if res.get(c, {}).get("pieces")]
    counts = ", ".join(f"{c} {res[c]['pieces']}" for c in cols)
    print(f"\nstyle vs Bach, split {res['split']} ({counts} pieces)")
    print(f"{'measure':52s}" + "".join(f"{c:>12s}" for c in cols))

    def row(label, fn):
        vals = []
        for c in cols:
            try:
                vals.append(fn(res[c]))
            except (KeyError, TypeError):
                vals.append("")
        print(f"{label:52s}" + "".join(f"{x:>12}" for x in vals))

    for v in VOICES:
        row(f"{v}: notes shorter than a quarter", lambda r, v=v: f"{r['voices'][v]['short']:.0%}")
    for v in VOICES:
        row(f"{v}: repeat / step / leap", lambda r, v=v: "{:.0%}/{:.0%}/{:.0%}".format(
            r["voices"][v]["repeat"], r["voices"][v]["step"], r["voices"][v]["leap"]))
    for v in VOICES:
        row(f"{v}: onto a beat: same / step / 3rd / leap", lambda r, v=v: "/".join(
            f"{r['voices'][v]['beat_moves'][k] * 100:.0f}" for k in MOVE_KINDS))
    for v in VOICES:
        row(f"{v}: notes rocking a-b-a-b", lambda r, v=v: f"{r['voices'][v].get('rocking', 0):.0%}")
    for v in VOICES:
        row(f"{v}: 16th notes / dotted values", lambda r, v=v: "{:.1%}/{:.1%}".format(
            r["voices"][v]["sixteenth"], r["voices"][v]["dotted"]))
    for v in VOICES:
        row(f"{v}: note-value histogram overlap with Bach", lambda r, v=v: f"{r['voices'][v]['duration_overlap_with_bach']:.2f}")
    for v in VOICES:
        row(f"{v}: struck at off-beat eighths", lambda r, v=v: f"{r['voices'][v]['offbeat_eighth_attacks']:.0%}")
    for v in VOICES:
        row(f"{v}: interval-histogram overlap with Bach", lambda r, v=v: f"{r['voices'][v]['overlap_with_bach']:.2f}")
    for label in ("inferred", "plan"):
        row(f"beats with a non-chord tone ({label} chords)", lambda r, l=label: f"{r[l]['beat_dissonance']:.1%}")
        row(f"  unclassified / all non-chord tones ({label})", lambda r, l=label: r[l]["non_chord_tones_unclassified"])
    for v in VOICES[1:]:
        row(f"{v}: passing / neighbour notes (inferred)", lambda r, v=v: "{:.1%}/{:.1%}".format(
            r["inferred"]["note_classes_by_voice"][v].get("passing", 0),
            r["inferred"]["note_classes_by_voice"][v].get("neighbour", 0)))
    for k in KINDS[1:] + (UNCLASSIFIED,):
        row(f"  beats with {k} (inferred)", lambda r, k=k: f"{r['inferred']['beat_dissonance_by_class'].get(k, 0):.1%}")
    row("root position on the beat (inferred chords)", lambda r: f"{r['inferred']['root_position']:.0%}")
    row("root position on the beat (plan chords)", lambda r: f"{r['plan']['root_position']:.0%}")
    row("chords per bar (inferred / plan)", lambda r: f"{r['inferred']['chords_per_bar']:.2f}" +
        (f"/{r['plan']['chords_per_bar']:.2f}" if "plan" in r else ""))
    for cad in ("PAC", "IAC", "HC", "DC", "PC", "other"):
        row(f"cadences at fermatas: {cad} (inferred)", lambda r, c=cad: r["inferred"]["cadences"].get(c, 0))
    row("strict errors per piece (inferred chords)", lambda r: f"{r['inferred']['strict_errors_per_piece']:.2f}")
    row("strict errors per piece (plan chords)", lambda r: f"{r['plan']['strict_errors_per_piece']:.2f}")
    row("  errors of the given soprano alone (plan chords)",
        lambda r: sum(r["plan"]["given_soprano_errors_by_rule"].values()))


# ---------------------------------------------------------------------------------------- running
def _chorale_key(score) -> str:
    from partimento.grammar.theory import normalize_key

    k = score.analyze("key")
    return normalize_key(k.tonic.name + ("" if k.mode == "major" else " minor"))


def harmonize_soprano(score, seed: int, style: bool = True, checkpoint: str | None = None):
    """``harmonize`` a chorale's soprano in the chorale's key, else in the key it finds (warnings silenced).

    Raises the ``PartimentoError`` of the second try. ``bass_sixteenths.py`` harmonizes the same way.
    """
    from partimento.grammar.errors import PartimentoError
    from partimento.hybrid import harmonize

    soprano = score.parts[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return harmonize(soprano, key=_chorale_key(score), seed=seed, style=style, checkpoint=checkpoint)
        except PartimentoError:
            return harmonize(soprano, seed=seed, style=style, checkpoint=checkpoint)


def _harmonize_one(path: str, seed: int, style: bool = True,
                   checkpoint: str | None = None) -> tuple[dict | None, dict | None, str | None]:
    """(Bach's style, the harmonization's style, failure) for one chorale."""
    from music21 import corpus

    from partimento.grammar.errors import PartimentoError

    score = corpus.parse(path)
    try:
        bach = style_of(piece_of_score(path, score))
    except PartimentoError as e:
        return None, None, f"{path}: Bach's score: {e}"
    try:
        res = harmonize_soprano(score, seed, style, checkpoint)
    except PartimentoError as e:
        return bach, None, f"{path}: {type(e).__name__}: {str(e)[:120]}"
    return bach, style_of(piece_of_result(path, res, soprano_given=True)), None


def _compose_one(i: int, bars: int, style: bool = True, checkpoint: str | None = None) -> tuple[dict | None, str | None]:
    from partimento.grammar.errors import PartimentoError
    from partimento.hybrid import compose

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = compose("chorale", key=KEYS[i % len(KEYS)], bars=bars, seed=i, style=style, checkpoint=checkpoint)
    except PartimentoError as e:
        return None, f"compose seed {i}: {type(e).__name__}: {str(e)[:120]}"
    return style_of(piece_of_result(f"compose {i}", res)), None


def _work(job: tuple) -> tuple:
    import torch

    from partimento.hybrid import preferences

    torch.set_num_threads(1)
    style, weights, checkpoint = job[3], job[4], job[5]
    if weights is not None:  # the strengths being tried (how the defaults were chosen on valid)
        preferences.STYLE = preferences.Style(*weights)
    if job[0] == "harmonize":
        return ("harmonize",) + _harmonize_one(job[1], job[2], style, checkpoint)
    return ("compose",) + _compose_one(job[1], job[2], style, checkpoint)


def _style_record(on: bool, weights: tuple | None) -> dict[str, Any]:
    from dataclasses import asdict

    from partimento.hybrid.preferences import STYLE, Style

    if not on:
        return {"on": False}
    return {"on": True, **asdict(Style(*weights) if weights is not None else STYLE)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    ap.add_argument("--compose", type=int, default=30, help="chorales to compose (16 bars each)")
    ap.add_argument("--compose-from", type=int, default=0,
                    help="seed of the first composed chorale (a second sample of pieces for a sweep's check)")
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--limit", type=int, default=0, help="at most N chorales of the split (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", default=None, help="default: benchmarks/results/style_vs_bach_<split>.json")
    ap.add_argument("--no-style", action="store_true", help="the preference layer's style calibration off (style=False)")
    ap.add_argument("--style-weights", default=None, metavar="MOTION,SUSPENSION[,RESTRIKE[,BASS_SIXTEENTH[,BASS_FILL[,INNER_SIXTEENTH[,ROCKING[,BASS_MOTION[,SOPRANO_ROCKING[,SOPRANO_MOTION[,INNER_STEP[,SOPRANO_STEP[,SOPRANO_EIGHTH]]]]]]]]]]]]",
                    help="try other strengths of the style calibration (hybrid.preferences.Style), e.g. 0.35,0.25,0.2,0.2")
    ap.add_argument("--checkpoint", default=None,
                    help="harmonize and compose with this checkpoint instead of the shipped one (a side-by-side run)")
    args = ap.parse_args()
    weights = None
    if args.style_weights:
        try:
            weights = tuple(float(x) for x in args.style_weights.split(","))
            from partimento.hybrid.preferences import Style

            Style(*weights)
        except (ValueError, TypeError) as e:
            ap.error(f"--style-weights: two to thirteen weights in (0, 1] separated by commas, got {args.style_weights!r} ({e})")
    paths = json.loads(SPLIT.read_text())[args.split]
    if args.limit:
        paths = paths[:args.limit]
    style = not args.no_style
    jobs = ([("harmonize", p, args.seed, style, weights, args.checkpoint) for p in paths]
            + [("compose", i, args.bars, style, weights, args.checkpoint) for i in range(args.compose_from, args.compose_from + args.compose)])
    t0 = time.time()
    if args.jobs > 1:
        from multiprocessing import get_context

        with get_context("spawn").Pool(args.jobs) as pool:
            done = pool.map(_work, jobs, chunksize=1)
    else:
        done = [_work(j) for j in jobs]
    bach, harm, comp, failures = [], [], [], []
    for d in done:
        if d[0] == "harmonize":
            _, b, h, fail = d
            if b is not None:
                bach.append(b)
            if h is not None:
                harm.append(h)
            if fail:
                failures.append(fail)
        else:
            _, c, fail = d
            if c is not None:
                comp.append(c)
            if fail:
                failures.append(fail)
    ref_summary = summarize(bach)
    reference = {v: np.asarray(ref_summary["histograms"][v]) for v in VOICES}
    rhythm = {v: np.asarray(ref_summary["durations"][v]) for v in VOICES}
    res: dict[str, Any] = {
        "split": args.split, "seed": args.seed, "bars": args.bars, "compose_seeds": [args.compose_from, args.compose_from + args.compose],
        "bach": summarize(bach, reference, rhythm), "harmonize": summarize(harm, reference, rhythm),
        "compose": summarize(comp, reference, rhythm), "failures": failures,
        "targets": TARGETS, "seconds": round(time.time() - t0, 1), "jobs": args.jobs,
        "style": _style_record(style, weights), "checkpoint": args.checkpoint or "shipped",
        "machine": platform.processor() or platform.machine(),
    }
    res["targets_met"] = {"harmonize": _targets(res["harmonize"]), "compose": _targets(res["compose"])}
    print_table(res)
    for f in failures:
        print("failed:", f)
    print("targets:", json.dumps(res["targets_met"]))
    if args.out is None:
        args.out = str(RESULTS / f"style_vs_bach_{args.split}.json")
    write_text_atomic(Path(args.out), json.dumps(res, indent=1))
    print(f"wrote {args.out} ({res['seconds']} s)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
