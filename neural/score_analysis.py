"""A four-voice chorale score -> voice tokens and the plan fields, on the sixteenth grid.

This is the music21 edge of the neural layer: music21 reads the score and names the
global key; everything after is numpy over MIDI numbers. The plan fields a grammar
gives for free have to be recovered from Bach's notes here:

* **local key** per phrase (phrases end at fermatas): Krumhansl–Kessler profiles
  against the phrase's duration-weighted pitch-class histogram; the global key wins
  unless another key correlates clearly better (margin ``KEY_MARGIN``).
* **chord per beat** by template matching: every triad and seventh chord (major, minor,
  diminished; dominant, minor, half-diminished, diminished and major sevenths) on every
  root is scored against the sounding pitch classes of the beat (onsets and the bass
  weigh more, diatonic chords get a small prior); equal neighbours merge into one chord.
  This is fast and transparent rather than a full Roman-numeral analysis; its output is
  exactly the fields a ``ChordSpec`` carries (members, root, bass).
* **cadence** at each fermata from the last two chord roots relative to the key
  (V–I: PAC, or IAC when the soprano is not on the tonic; ending on V: HC; V–vi: DC;
  IV–I: PC).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partimento.grammar.errors import DataError
from partimento.grammar.metre import STEPS_PER_QUARTER

from .conditioning import ChordSegment, Conditioning, conditioning_from_segments
from .encoding import HOLD, N_VOICES, PITCH_OFFSET, REST, sounding_pitches

__all__ = ["EncodedChorale", "encode_score", "analyse_keys", "label_chords", "KEY_MARGIN"]

KEY_MARGIN = 0.08  # correlation a phrase key must beat the global key by

_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_TEMPLATES = ((0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 7, 10), (0, 3, 7, 10), (0, 3, 6, 10), (0, 3, 6, 9),
              (0, 4, 7, 11))
_SEVENTH_PENALTY = 0.6  # a seventh chord must explain its seventh to beat the triad


@dataclass
class EncodedChorale:
    """One chorale on the grid: tokens (T, 4), conditioning (T, F) and facts about it."""

    name: str
    tokens: np.ndarray  # (T, 4) int64 voice tokens, soprano..bass
    cond: Conditioning
    key: str  # global key, music21 spelling
    bar_steps: int
    pickup_steps: int


def _key_matrix() -> tuple[np.ndarray, list[tuple[int, bool]]]:
    rows, keys = [], []
    for minor, prof in ((False, _MAJOR_PROFILE), (True, _MINOR_PROFILE)):
        for tonic in range(12):
            rows.append(np.roll(prof, tonic))
            keys.append((tonic, minor))
    m = np.array(rows)
    m = (m - m.mean(1, keepdims=True)) / m.std(1, keepdims=True)
    return m, keys


_KEYS, _KEY_LIST = _key_matrix()


def analyse_keys(pitches: np.ndarray, phrase_bounds: list[tuple[int, int]], global_key: tuple[int, bool]
                 ) -> list[tuple[int, bool]]:
    """(tonic, minor) per phrase from sounding pitches (T, 4); see the module docstring."""
    out = []
    g = _KEY_LIST.index(global_key)
    for a, b in phrase_bounds:
        p = pitches[a:b]
        hist = np.bincount(p[p >= 0] % 12, minlength=12).astype(float)
        if hist.std() == 0:
            out.append(global_key)
            continue
        corr = _KEYS @ ((hist - hist.mean()) / hist.std()) / 12
        best = int(np.argmax(corr))
        out.append(_KEY_LIST[best] if corr[best] > corr[g] + KEY_MARGIN else global_key)
    return out


def _template_matrix() -> tuple[np.ndarray, list[tuple[int, tuple[int, ...]]]]:
    rows, labels = [], []
    for root in range(12):
        for t in _TEMPLATES:
            members = tuple((root + i) % 12 for i in t)
            row = -np.ones(12)
            row[list(members)] = 1.0
            rows.append(row)
            labels.append((root, members))
    return np.array(rows), labels


_TEMPLATE_ROWS, _TEMPLATE_LABELS = _template_matrix()


def label_chords(pitches: np.ndarray, attacks: np.ndarray, tonic_per_step: np.ndarray,
                 minor_per_step: np.ndarray, beat_steps: int = STEPS_PER_QUARTER
                 ) -> list[tuple[int, int, tuple[int, ...], int, int]]:
    """Chord spans ``(start, stop, members, root, bass)`` per beat, merged when equal."""
    T = pitches.shape[0]
    spans: list[tuple[int, int, tuple[int, ...], int, int]] = []
    sizes = np.array([len(m) for _, m in _TEMPLATE_LABELS])
    for a in range(0, T, beat_steps):
        b = min(a + beat_steps, T)
        w = np.zeros(12)
        for s in range(a, b):
            for v in range(N_VOICES):
                p = pitches[s, v]
                if p >= 0:
                    w[p % 12] += (2.0 if attacks[s, v] else 1.0) * (1.5 if v == N_VOICES - 1 else 1.0) * (
                        2.0 if s == a else 1.0)
        if not w.any():
            continue
        scores = _TEMPLATE_ROWS @ w - _SEVENTH_PENALTY * (sizes == 4)
        tonic, minor = int(tonic_per_step[a]), bool(minor_per_step[a])
        scale = {(tonic + i) % 12 for i in ((0, 2, 3, 5, 7, 8, 10, 11) if minor else (0, 2, 4, 5, 7, 9, 11))}
        diatonic = np.array([set(m) <= scale for _, m in _TEMPLATE_LABELS])
        bass_pc = pitches[a, N_VOICES - 1] % 12 if pitches[a, N_VOICES - 1] >= 0 else -1
        root_in_bass = np.array([r == bass_pc for r, _ in _TEMPLATE_LABELS])
        scores = scores + 0.5 * diatonic + 0.5 * root_in_bass
        root, members = _TEMPLATE_LABELS[int(np.argmax(scores))]
        bass = bass_pc if bass_pc in members else root
        if spans and spans[-1][2] == members and spans[-1][4] == bass and spans[-1][1] == a:
            spans[-1] = (spans[-1][0], b, members, root, bass)
        else:
            spans.append((a, b, members, root, bass))
    return spans


def _cadence(prev_root: int | None, root: int, tonic: int, minor: bool, soprano_pc: int) -> str | None:
    r = (root - tonic) % 12
    p = None if prev_root is None else (prev_root - tonic) % 12
    if r == 0 and p == 7:
        return "PAC" if soprano_pc == tonic else "IAC"
    if r == 0 and p == 5:
        return "PC"
    if r == 7:
        return "HC"
    if p == 7 and r == (8 if minor else 9):
        return "DC"
    return None


def _satb_parts(score) -> list | None:
    """The four sung parts: exactly four parts, or the first named Soprano*, Alto*, Tenor*, Bass*.

    Cantata chorales in the corpus carry doubling instruments (horns, oboes, continuo)
    as extra parts; the voices are the parts named after them.
    """
    parts = list(score.parts)
    if len(parts) == N_VOICES:
        return parts
    chosen = []
    for voice in ("soprano", "alto", "tenor", "bass"):
        match = [p for p in parts if str(p.partName or p.id or "").strip().lower().startswith(voice)]
        if not match:
            return None
        chosen.append(match[0])
    return chosen


def encode_score(score, name: str = "") -> EncodedChorale:
    """Tokens and analysed conditioning of a four-part music21 score (see module docstring)."""
    from music21 import expressions, key as m21key, meter, note as m21note

    parts = _satb_parts(score)
    if parts is None:
        raise DataError(f"{name or 'score'}: expected four parts named soprano, alto, tenor, bass "
                        f"(or exactly four parts), found {len(score.parts)}")
    q = STEPS_PER_QUARTER
    ts = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None)
    bar_q = float(ts.barDuration.quarterLength) if ts is not None else 4.0
    bar_steps = int(round(bar_q * q))
    measures = parts[0].getElementsByClass("Measure")
    pickup_q = 0.0
    if len(measures) and float(measures[0].duration.quarterLength) < bar_q - 1e-6:
        pickup_q = float(measures[0].duration.quarterLength)
    length = max(float(p.highestTime) for p in parts)
    T = int(round(length * q))
    if T == 0:
        raise DataError(f"{name or 'score'}: empty score")
    tokens = np.full((T, N_VOICES), REST, dtype=np.int64)
    fermata = np.zeros(T, dtype=bool)
    for v, part in enumerate(parts):
        for n in part.flatten().notesAndRests:
            ql = float(n.duration.quarterLength)
            if ql <= 0:
                continue  # grace notes take no grid time
            a = int(round(float(n.offset) * q))
            b = min(int(round((float(n.offset) + ql) * q)), T)
            if a >= T or b <= a:
                continue
            if isinstance(n, m21note.Rest):
                tokens[a, v] = REST
            else:
                midi = max(p.midi for p in n.pitches)
                tied_on = n.tie is not None and n.tie.type in ("stop", "continue")
                tokens[a, v] = HOLD if tied_on else PITCH_OFFSET + midi
            tokens[a + 1:b, v] = HOLD
            if any(isinstance(e, expressions.Fermata) for e in n.expressions):
                fermata[a:b] = True
    pitches = sounding_pitches(tokens)
    attacks = tokens >= PITCH_OFFSET
    # phrases end where a fermata ends (and at the end of the piece)
    ends = [i + 1 for i in range(T) if fermata[i] and (i + 1 == T or not fermata[i + 1])]
    if not ends or ends[-1] != T:
        ends.append(T)
    bounds = list(zip([0] + ends[:-1], ends))
    from music21 import stream

    k = stream.Score(parts).analyze("key") if len(score.parts) != N_VOICES else score.analyze("key")
    global_key = (int(k.tonic.pitchClass), k.mode == "minor")
    keys = analyse_keys(pitches, bounds, global_key)
    tonic = np.zeros(T, dtype=np.int64)
    minor = np.zeros(T, dtype=bool)
    for (a, b), (t, m) in zip(bounds, keys):
        tonic[a:b], minor[a:b] = t, m
    spans = label_chords(pitches, attacks, tonic, minor)
    segments: list[ChordSegment] = []
    phrase_end_set = set(ends)
    for i, (a, b, members, root, bass) in enumerate(spans):
        ferm = bool(fermata[a:b].any())
        cad = None
        if ferm or b in phrase_end_set:
            prev = spans[i - 1][3] if i > 0 else None
            sop = pitches[a, 0] % 12 if pitches[a, 0] >= 0 else -1
            cad = _cadence(prev, root, int(tonic[a]), bool(minor[a]), int(sop))
        segments.append(ChordSegment(a, b, int(tonic[a]), bool(minor[a]), members, root, bass, ferm, cad))
    cond = conditioning_from_segments(T, segments, bar_steps, int(round(pickup_q * q)), ends,
                                      global_key[0], global_key[1])
    key_name = m21key.Key(k.tonic.name, k.mode).tonicPitchNameWithCase
    return EncodedChorale(name, tokens, cond, key_name, bar_steps, int(round(pickup_q * q)))
