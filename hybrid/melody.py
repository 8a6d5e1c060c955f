"""A melody read onto the sixteenth grid, exactly: pitches, rhythm, pickup and ties.

``harmonize`` keeps the user's melody as the soprano token for token, so this module is
strict about what it can represent (sixteenth-note rhythm, one line) and says so with a
location when it cannot. The only change it makes is an octave transposition into the
soprano range, reported as a warning.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from partimento.grammar.errors import InputError, Location, ScoreError
from partimento.grammar.metre import STEPS_PER_QUARTER, Metre, parse_metre
from partimento.grammar.theory import VOICE_RANGES, key_info, normalize_key, pc_name
from partimento.neural.encoding import HOLD, PITCH_OFFSET, REST

__all__ = ["Melody", "read_melody", "load_stream", "key_fit"]

#: least share of melody duration inside the key's scale for a given key to be accepted
MIN_KEY_FIT = 0.75
#: a given key whose Krumhansl-Schmuckler correlation trails the best key's by more than this contradicts the melody
MAX_KEY_CORRELATION_GAP = 0.3


@dataclass
class Melody:
    """One line on the grid with the facts a plan needs."""

    tokens: np.ndarray  # (T,) soprano tokens (HOLD, REST, PITCH_OFFSET + midi)
    pitch: np.ndarray  # (T,) sounding MIDI pitch, -1 silent
    key: str  # music21 spelling
    metre: str
    pickup: float  # quarter notes before measure 1
    bars: int  # full bars after the pickup (the last one padded with rest if short)
    fermata_steps: list[int] = field(default_factory=list)  # steps where a fermata note starts
    warnings: list[str] = field(default_factory=list)
    source: str | None = None

    @property
    def steps(self) -> int:
        return int(self.tokens.shape[0])


def load_stream(source: Any):
    """A music21 stream from a path or a stream; ScoreError naming the file otherwise."""
    from music21 import converter, stream

    if isinstance(source, stream.Stream):
        return source, None
    path = Path(source)
    if not path.is_file():
        raise InputError("no such file", Location(file=str(path)))
    try:
        return converter.parse(str(path)), str(path)
    except Exception as e:  # music21 raises many types for unreadable files
        raise ScoreError(f"music21 cannot read this file ({type(e).__name__}: {e})", Location(file=str(path))) from None


def key_fit(pitches: list[int], durations: list[float], key: str) -> float:
    """Share of the melody's duration whose pitch class lies in the key's scale."""
    scale = set(key_info(key).scale)
    total = sum(durations) or 1.0
    return sum(d for p, d in zip(pitches, durations) if p % 12 in scale) / total


def read_melody(source: Any, key: str | None = None) -> Melody:
    """Read the top line of ``source`` onto the grid; see the module docstring."""
    from music21 import chord, expressions, meter, note, stream

    score, file = load_stream(source)
    warnings: list[str] = []
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    if len(parts) > 1:
        name = parts[0].partName or "the first part"
        warnings.append(f"the melody file has {len(parts)} parts; harmonizing the top one ({name})")
    part = parts[0]
    ts = next(iter(part.recurse().getElementsByClass(meter.TimeSignature)), None)
    metre_name = ts.ratioString if ts is not None else "4/4"
    metre: Metre = parse_metre(metre_name)
    measures = list(part.getElementsByClass(stream.Measure))
    pickup = 0.0
    if len(measures) > 1:
        first = measures[0]
        bar_q = float(metre.bar_quarters)
        length = float(first.duration.quarterLength)
        if (first.paddingLeft or 0) > 0 or (0 < length < bar_q - 1e-9 and first.number in (0, 1)):
            pickup = length
    flat = part.flatten()
    events: list[tuple[float, float, int, bool, bool]] = []  # onset, dur, midi (-1 rest), tied-in, fermata
    chords_seen = False
    for el in flat.notesAndRests:
        if el.duration.isGrace or el.quarterLength == 0:
            continue
        off = float(el.getOffsetInHierarchy(flat))
        dur = float(el.quarterLength)
        if isinstance(el, chord.Chord):
            chords_seen = True
            midi = max(p.midi for p in el.pitches)
        elif isinstance(el, note.Note):
            midi = el.pitch.midi
        else:
            midi = -1
        tied_in = midi >= 0 and el.tie is not None and el.tie.type in ("stop", "continue")
        fermata = any(isinstance(e, expressions.Fermata) for e in el.expressions)
        events.append((off, dur, midi, tied_in, fermata))
    if chords_seen:
        warnings.append("the melody has chords; harmonizing their top notes")
    if not any(e[2] >= 0 for e in events):
        raise ScoreError("the melody has no notes", Location(file=file))
    q = STEPS_PER_QUARTER
    end = max(o + d for o, d, *_ in events)
    bar_q = float(metre.bar_quarters)
    bars = max(1, math.ceil((end - pickup) / bar_q - 1e-9))
    T = int(round((pickup + bars * bar_q) * q))
    tokens = np.full(T, REST, np.int64)
    pitch = np.full(T, -1, np.int64)
    covered = np.zeros(T, bool)
    fermatas: list[int] = []
    for off, dur, midi, tied_in, fermata in events:
        a, b = off * q, (off + dur) * q
        if abs(a - round(a)) > 1e-6 or abs(b - round(b)) > 1e-6:
            m, beat = metre.measure_beat(off, pickup)
            raise InputError("the melody has a rhythm finer than sixteenth notes (tuplets or 32nds), "
                             "which the decoding grid cannot hold", Location(file=file, measure=m, beat=beat))
        a, b = int(round(a)), int(round(b))
        if covered[a:b].any():
            m, beat = metre.measure_beat(off, pickup)
            raise InputError("the melody has overlapping notes (more than one line in a part)",
                             Location(file=file, measure=m, beat=beat),
                             hint="Give one voice per part, or a file whose top part is the melody.")
        covered[a:b] = True
        if midi < 0:
            continue
        cont = tied_in and a > 0 and pitch[a - 1] == midi
        tokens[a] = HOLD if cont else PITCH_OFFSET + midi
        tokens[a + 1:b] = HOLD
        pitch[a:b] = midi
        if fermata and not cont:
            fermatas.append(a)
    sounding = pitch[pitch >= 0]
    lo, hi = VOICE_RANGES["soprano"]
    if sounding.min() < lo or sounding.max() > hi:
        shift = next((s for s in (12, -12, 24, -24) if sounding.min() + s >= lo and sounding.max() + s <= hi), None)
        if shift is None:
            raise InputError(f"the melody spans MIDI {sounding.min()}–{sounding.max()}, which no octave "
                             f"transposition fits into the soprano range {lo}–{hi}", Location(file=file))
        warnings.append(f"the melody lies outside the soprano range; transposed {'up' if shift > 0 else 'down'} "
                        f"{abs(shift) // 12} octave(s)")
        att = tokens >= PITCH_OFFSET
        tokens[att] += shift
        pitch[pitch >= 0] += shift
    durs = [d for _, d, m, *_ in events if m >= 0]
    mids = [m for _, _, m, *_ in events if m >= 0]
    if key is None:
        analysed = part.analyze("key")
        key = normalize_key(analysed.tonic.name + ("" if analysed.mode == "major" else " minor"))
    else:
        key = normalize_key(key)
        fit = key_fit(mids, durs, key)
        analysed = part.analyze("key")
        coeffs = {normalize_key(k.tonic.name + ("" if k.mode == "major" else " minor")): k.correlationCoefficient
                  for k in [analysed] + list(analysed.alternateInterpretations)}
        best_name = max(coeffs, key=coeffs.get)
        if coeffs.get(key, -1.0) < coeffs[best_name] - MAX_KEY_CORRELATION_GAP:
            raise InputError(f"the key {key} contradicts the melody, which reads as {best_name} (key-profile "
                             f"correlation {coeffs.get(key, -1.0):.2f} against {coeffs[best_name]:.2f})",
                             Location(file=file, measure=1 if pickup == 0 else 0, beat=1.0),
                             hint="Leave --key out to use the analysed key.")
        if fit < MIN_KEY_FIT:
            scale = set(key_info(key).scale)
            first = next(e for e in events if e[2] >= 0 and e[2] % 12 not in scale)
            m, beat = metre.measure_beat(first[0], pickup)
            raise InputError(f"the key {key} contradicts the melody: only {fit:.0%} of its duration lies in the "
                             f"{key} scale (first outside note: {pc_name(first[2])})",
                             Location(file=file, measure=m, beat=beat),
                             hint="Leave --key out to use the analysed key.")
    return Melody(tokens, pitch, key, metre.name, pickup, bars, fermatas, warnings, file)
