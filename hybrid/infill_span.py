"""Infill: a four-part score on the grid, its plan, and the tokens that must stay.

A score to edit comes as a :class:`~partimento.hybrid.result.Result` (its plan is
exact), a result ``.json``, or any four-part score music21 reads (then the plan is
analysed beat by beat: the pitch classes sounding on each beat, named by music21's
Roman-numeral analysis in the score's key). Outside the chosen measures and voices
every token is forced; a kept note that the rewritten voice used to hold into is
re-struck, so nothing outside the span changes pitch.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from partimento.grammar.errors import InputError, Location, ScoreError
from partimento.grammar.metre import STEPS_PER_QUARTER, parse_metre
from partimento.grammar.plan import ChordEvent, Phrase, Plan
from partimento.grammar.theory import VOICES, chord_spec, normalize_key
from partimento.neural.encoding import HOLD, PITCH_OFFSET, REST, sounding_pitches

from partimento.grammar.rules.satb_reader import read_satb

from .result import Result

__all__ = ["ScoreGrid", "grid_of_score", "forced_outside"]


@dataclass
class ScoreGrid:
    """A four-voice score as tokens with its plan."""

    plan: Plan
    tokens: np.ndarray  # (T, 4)
    warnings: list[str] = field(default_factory=list)
    file: str | None = None


def grid_of_score(score: Any) -> ScoreGrid:
    """Read ``score`` (Result, result .json, music21 stream or score file) onto the grid."""
    if isinstance(score, Result):
        return ScoreGrid(score.plan, score.tokens.copy())
    if isinstance(score, (str, Path)) and Path(score).suffix.lower() == ".json":
        path = Path(score)
        if not path.is_file():
            raise InputError("no such file", Location(file=str(path)))
        try:
            r = Result.from_dict(json.loads(path.read_text()))
        except json.JSONDecodeError as e:
            raise ScoreError(f"invalid JSON: {e.msg}", Location(file=str(path), line=e.lineno)) from None
        return ScoreGrid(r.plan, r.tokens.copy(), file=str(path))
    return _grid_of_stream(score)


def _grid_of_stream(source: Any) -> ScoreGrid:
    from music21 import chord, meter, roman, stream

    satb = read_satb(source)  # the checker's reader: four parts or two staves, refused with reasons
    s, file = satb.score, satb.file
    ts = next(iter(s.recurse().getElementsByClass(meter.TimeSignature)), None)
    metre = parse_metre(ts.ratioString if ts is not None else "4/4")
    measures = list(satb.staves[0].getElementsByClass(stream.Measure))
    pickup = 0.0
    if len(measures) > 1:
        first = measures[0]
        length = float(first.duration.quarterLength)
        if (first.paddingLeft or 0) > 0 or (0 < length < float(metre.bar_quarters) - 1e-9 and first.number in (0, 1)):
            pickup = length
    q = STEPS_PER_QUARTER
    end = satb.end
    bars = max(1, math.ceil((end - pickup) / float(metre.bar_quarters) - 1e-9))
    T = int(round((pickup + bars * float(metre.bar_quarters)) * q))
    tokens = np.full((T, 4), REST, np.int64)
    for v, voice in enumerate(satb.voices):
        prev_end, prev_pitch = -1, -1
        for off, stop, midi, attack in zip(voice.starts, voice.ends, voice.midis.tolist(), voice.attacks):
            if midi < 0:  # a rest
                continue
            off = float(off)
            a, b = off * q, float(stop) * q
            if abs(a - round(a)) > 1e-6 or abs(b - round(b)) > 1e-6:
                m, beat = metre.measure_beat(off, pickup)
                raise ScoreError("a rhythm finer than sixteenth notes", Location(file=file, measure=m, beat=beat,
                                                                                 voice=VOICES[v]))
            a, b = int(round(a)), int(round(b))
            tied = not attack and prev_end == a and prev_pitch == midi
            tokens[a, v] = HOLD if tied else PITCH_OFFSET + midi
            tokens[a + 1:b, v] = HOLD
            prev_end, prev_pitch = b, midi
    k = s.analyze("key")
    key = normalize_key(k.tonic.name + ("" if k.mode == "major" else " minor"))
    pitch = sounding_pitches(tokens)
    beat = int(metre.beat_quarters * q)
    pk = int(round(pickup * q))
    onsets = sorted(set(range(pk, T, beat)) | set(range(pk, -1, -beat)) | {0})
    onsets = [o for o in onsets if o < T] + [T]
    events: list[ChordEvent] = []
    for a, b in zip(onsets[:-1], onsets[1:]):
        sounding = [int(p) for p in pitch[a] if p >= 0]
        if not sounding:
            continue
        try:
            fig = roman.romanNumeralFromChord(chord.Chord(sounding), key).figure
            chord_spec(fig, key)
        except Exception:  # music21 cannot name every sonority (PlanError included)
            continue
        if events and events[-1].figure == fig:
            events[-1].duration = b / q - events[-1].onset
        else:
            events.append(ChordEvent(onset=a / q, duration=(b - a) / q, figure=fig, key=key))
    if not events:
        raise ScoreError("no beat of this score could be named as a chord", Location(file=file))
    for i in range(len(events) - 1):  # fill the gaps of unnamed beats by extending the chord before
        events[i].duration = events[i + 1].onset - events[i].onset
    events[-1].duration = T / q - events[-1].onset
    length = T / q
    plan = Plan(key=key, metre=metre.name, bars=bars, pickup=pickup, chords=events,
                phrases=[Phrase(0.0, length, key, None)], grammar="analysis of " + (file or "the score"))
    return ScoreGrid(plan.validate(), tokens, file=file)


def forced_outside(grid: ScoreGrid, measures: tuple[int, int], voices: Sequence[str]) -> np.ndarray:
    """Tokens fixed outside the span (-1 inside it for the chosen voices).

    Raises InputError naming the measure when the span lies outside the score.
    """
    plan = grid.plan
    metre = plan.metre_obj
    first_number = 0 if plan.pickup > 0 else 1
    last_number = plan.bars
    m0, m1 = measures
    for m in (m0, m1):
        if not first_number <= m <= last_number:
            raise InputError(f"measure {m} is outside the score (measures {first_number}–{last_number})",
                             Location(file=grid.file, measure=m),
                             hint="Choose --measures within the score, e.g. 1-2.")
    q = STEPS_PER_QUARTER
    start = 0 if m0 == 0 else int(round(float(metre.offset(m0, 1.0, plan.pickup)) * q))
    stop = int(round(float(metre.offset(m1 + 1, 1.0, plan.pickup)) * q))
    stop = min(stop, grid.tokens.shape[0])
    idx = [VOICES.index(v) for v in voices]
    forced = grid.tokens.copy()
    pitch = sounding_pitches(grid.tokens)
    forced[start:stop, idx] = -1
    for v in idx:  # a note held out of the span is struck again, so it keeps its pitch
        t = stop
        if t < forced.shape[0] and forced[t, v] == HOLD and pitch[t, v] >= 0:
            forced[t, v] = PITCH_OFFSET + int(pitch[t, v])
    return forced
