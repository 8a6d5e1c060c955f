"""Infill: a four-part score on the grid, its plan, the tokens that must stay, and the window to decode.

A score to edit comes as a :class:`~partimento.hybrid.result.Result` (its plan is
exact), a result ``.json``, or any four-voice score the checker's reader
(:func:`partimento.grammar.rules.parse_score`) accepts: four parts, parts named S/A/T/B, or
two staves of two voices. Its harmony is then read, in this order, from the plan partimento
stores in the file's metadata (:mod:`.explain_file`; exact, used while the notes are still the
ones written with it), else from the Roman numerals partimento writes under the bass (with their
local keys as lyrics; a chord struck again reads as one), else by the harmonizer's own search
with all four voices heard (:func:`partimento.hybrid.harmony.analyse_grid`: local keys per phrase,
chords per beat or half beat). Each note's spelling as written is
kept, so what infill does not rewrite is written back note for note.

Outside the chosen measures and voices every token is forced; a kept note that a
rewritten voice held over the span's end is struck at the span's end for the decoder, so
nothing outside changes pitch, and tied again to the new note before it where that has
its pitch (:func:`rejoin_ties`), so the kept note stays the score's note. Only a window around the span is decoded (:func:`decode_window`): two bars
before it (the model's context) and one after (the joins), with everything but the span
forced, so the cost does not grow with the length of the piece.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from partimento.grammar.errors import InputError, Location, PlanError, ScoreError, UnsatisfiableError
from partimento.grammar.metre import STEPS_PER_QUARTER, parse_metre
from partimento.grammar.plan import ChordEvent, Phrase, Plan
from partimento.grammar.theory import VOICES
from partimento.neural.encoding import HOLD, PITCH_OFFSET, REST, sounding_pitches

from .result import Result

__all__ = ["ScoreGrid", "grid_of_score", "forced_outside", "span_steps", "window_plan", "decode_window", "rejoin_ties",
           "kept_spellings", "CONTEXT_BARS"]

CONTEXT_BARS = 2  # bars decoded before the span (the model's context); one bar after it holds the joins


@dataclass
class ScoreGrid:
    """A four-voice score as tokens with its plan, and how each kept note was spelled."""

    plan: Plan
    tokens: np.ndarray  # (T, 4)
    warnings: list[str] = field(default_factory=list)
    file: str | None = None
    spellings: dict[tuple[int, int], str] = field(default_factory=dict)  # (voice, attack step) -> "F#4"
    plan_source: str = "result"  # "result" | "plan stored in the file" | "plan under the bass" | "analysis"


def grid_of_score(score: Any) -> ScoreGrid:
    """Read ``score`` (Result, result .json, music21 stream or score file) onto the grid."""
    if isinstance(score, Result):
        return ScoreGrid(score.plan, score.tokens.copy(), spellings=dict(getattr(score, "spellings", {}) or {}))
    if isinstance(score, (str, Path)) and Path(score).suffix.lower() == ".json":
        path = Path(score)
        if not path.is_file():
            raise InputError("no such file", Location(file=str(path)))
        try:
            r = Result.from_dict(json.loads(path.read_text()))
            r.plan.validate()  # a result file may hold anything: its plan is judged as a plan file's is
        except json.JSONDecodeError as e:
            raise ScoreError(f"invalid JSON: {e.msg}", Location(file=str(path), line=e.lineno)) from None
        except PlanError as e:  # reported with this file's name, as Plan.read reports a plan file's
            raise PlanError(e.message, replace(e.location, file=str(path)), expected=e.expected, hint=e.hint) from None
        return ScoreGrid(r.plan, r.tokens.copy(), file=str(path))
    return _grid_of_stream(score)


def _grid_of_stream(source: Any) -> ScoreGrid:
    from music21 import meter

    from partimento.grammar.rules import parse_score

    ps = parse_score(source)
    s, file = ps.sonorities, ps.file
    q = STEPS_PER_QUARTER
    off = np.asarray(s.offset) * q
    bad = np.flatnonzero(np.abs(off - np.round(off)) > 1e-6)
    if len(bad):
        i = int(bad[0])
        raise ScoreError("a rhythm finer than sixteenth notes, which the decoding grid cannot hold",
                         Location(file=file, measure=int(s.measure[i]), beat=float(s.beat[i])))
    ts = next(iter(ps.score.recurse().getElementsByClass(meter.TimeSignature)), None)
    metre = parse_metre(ts.ratioString if ts is not None else "4/4")
    bar_q = float(metre.bar_quarters)
    first = next((i for i in range(len(s)) if s.measure[i] >= 1), 0)
    pickup = float(s.offset[first] - (s.measure[first] - 1) * bar_q - (s.beat[first] - 1) * float(metre.beat_quarters))
    pickup = round(pickup, 6) % bar_q if pickup > 1e-6 else 0.0
    end = float(s.offset[-1] + s.duration[-1])
    bars = max(1, math.ceil((end - pickup) / bar_q - 1e-9))
    T = int(round((pickup + bars * bar_q) * q))
    starts = np.round(off).astype(int)
    tokens = np.full((T, 4), REST, np.int64)
    for i, a in enumerate(starts):
        b = starts[i + 1] if i + 1 < len(starts) else int(round(end * q))
        for v in range(4):
            p = int(s.pitch[i, v])
            if p < 0:
                tokens[a:b, v] = REST if i == 0 or s.pitch[i - 1, v] >= 0 else HOLD
                tokens[a, v] = REST
                tokens[a + 1:b, v] = HOLD
                continue
            prev = int(s.pitch[i - 1, v]) if i > 0 else -1
            tokens[a, v] = PITCH_OFFSET + p if (s.attack[i, v] or prev != p) else HOLD
            tokens[a + 1:b, v] = HOLD
    fermatas = [int(starts[i]) for i in np.flatnonzero(s.fermata)] if s.fermata is not None else []
    spellings = _spellings(ps.voices, T)
    warnings: list[str] = []
    stored = _stored_plan(source, tokens)
    if stored is not None:
        plan, source_name = stored, "plan stored in the file"
    elif ps.ctx.chords is not None and not ps.ctx.chords_inferred and all(c is not None for c in ps.ctx.chords):
        plan = _plan_from_labels(ps.ctx.chords, starts, T, metre.name, pickup, bars, fermatas, tokens)
        source_name = "plan under the bass"
    else:
        from .harmony import analyse_grid

        pitch = sounding_pitches(tokens)
        attack = tokens >= PITCH_OFFSET
        home = ps.ctx.keys[0].name if ps.ctx.keys else "C"
        plan = analyse_grid(pitch, attack, home, metre.name, pickup, bars, fermatas,
                            grammar="analysis of " + (file or "the score"))
        source_name = "analysis"
        warnings.append(f"the score carries no plan; its harmony was analysed ({len(plan.chords)} chords, "
                        f"{len(plan.keys)} key area(s), home key {plan.key})")
    return ScoreGrid(plan, tokens, warnings, file, spellings, source_name)


def _stored_plan(source: Any, tokens: np.ndarray) -> Plan | None:
    """The exact plan a partimento MusicXML file carries (:mod:`.explain_file`), when its notes are
    still the ones written with it; else None. The labels under the bass lose what the plan knew:
    a chord struck again (V V) reads as one, and a fermata on the first then covers both."""
    if not isinstance(source, (str, Path)):
        return None
    from .explain_file import read_provenance

    try:
        prov = read_provenance(source)
    except ScoreError:  # damaged fields: the labels or an analysis instead
        return None
    if prov is None or prov["tokens"].shape != tokens.shape:
        return None
    same = (np.array_equal(sounding_pitches(prov["tokens"]), sounding_pitches(tokens))
            and np.array_equal(prov["tokens"] >= PITCH_OFFSET, tokens >= PITCH_OFFSET))
    return prov["plan"] if same else None


def _spellings(voices: list[Any], T: int) -> dict[tuple[int, int], str]:
    """(voice, attack step) -> the written name of every note (outer note of a chord, as the reader takes it)."""
    from music21 import chord

    out: dict[tuple[int, int], str] = {}
    q = STEPS_PER_QUARTER
    for v, part in enumerate(voices):
        flat = part.flatten()
        for n in flat.notes:
            if n.duration.quarterLength <= 0 or (n.tie is not None and n.tie.type in ("stop", "continue")):
                continue
            a = int(round(float(n.getOffsetInHierarchy(flat)) * q))
            if isinstance(n, chord.Chord):
                ps = sorted(n.pitches, key=lambda p: p.midi)
                p = ps[-1] if v < 2 else ps[0]
            else:
                p = n.pitch
            if 0 <= a < T:
                out[(v, a)] = p.nameWithOctave
    return out


def _plan_from_labels(specs, starts: np.ndarray, T: int, metre: str, pickup: float, bars: int,
                      fermatas: list[int], tokens: np.ndarray) -> Plan:
    """The plan written under the bass (one ChordSpec per sonority) as chord events and phrases."""
    from .harmony import cadence_label

    q = STEPS_PER_QUARTER
    events: list[ChordEvent] = []
    for i, spec in enumerate(specs):
        a = int(starts[i])
        if events and events[-1].figure == spec.figure and events[-1].key == spec.key and a not in fermatas:
            continue
        events.append(ChordEvent(onset=a / q, duration=0.0, figure=spec.figure, key=spec.key, fermata=a in fermatas))
    events[0].onset = 0.0
    for e, n in zip(events, events[1:] + [None]):
        e.duration = (n.onset if n is not None else T / q) - e.onset
    phrases: list[Phrase] = []
    phrase, start = 0, 0.0
    for i, e in enumerate(events):
        e.phrase = phrase
        closes = (e.fermata and (i + 1 == len(events) or not events[i + 1].fermata)) or i + 1 == len(events)
        if closes:
            prev = events[i - 1] if i > 0 and events[i - 1].phrase == phrase else None
            sop = sounding_pitches(tokens)[int(round(e.onset * q)), 0]
            e.cadence = cadence_label(prev, e, int(sop))
            phrases.append(Phrase(start, e.end, e.key, e.cadence))
            phrase, start = phrase + 1, e.end
    return Plan(key=events[0].key, metre=metre, bars=bars, pickup=pickup, chords=events, phrases=phrases,
                grammar="plan read from the score").validate()


def span_steps(plan: Plan, measures: tuple[int, int], file: str | None = None) -> tuple[int, int]:
    """[start, stop) steps of measures m0..m1 as printed; InputError naming a measure outside the score."""
    metre = plan.metre_obj
    first_number = 0 if plan.pickup > 0 else 1
    m0, m1 = measures
    for m in (m0, m1):
        if not first_number <= m <= plan.bars:
            raise InputError(f"measure {m} is outside the score (measures {first_number}–{plan.bars})",
                             Location(file=file, measure=m), hint="Choose --measures within the score, e.g. 1-2.")
    q = STEPS_PER_QUARTER
    start = 0 if m0 == 0 else int(round(float(metre.offset(m0, 1.0, plan.pickup)) * q))
    stop = min(int(round(float(metre.offset(m1 + 1, 1.0, plan.pickup)) * q)), plan.steps)
    return start, stop


def forced_outside(grid: ScoreGrid, measures: tuple[int, int], voices: Sequence[str]) -> np.ndarray:
    """Tokens fixed outside the span (-1 inside it for the chosen voices).

    Raises InputError naming the measure when the span lies outside the score.
    """
    start, stop = span_steps(grid.plan, measures, grid.file)
    idx = [VOICES.index(v) for v in voices]
    forced = grid.tokens.copy()
    pitch = sounding_pitches(grid.tokens)
    forced[start:stop, idx] = -1
    for v in idx:  # what sounds right after the span is written out: a held note struck again, a rest as a rest
        t = stop
        if t < forced.shape[0] and forced[t, v] == HOLD:
            forced[t, v] = PITCH_OFFSET + int(pitch[t, v]) if pitch[t, v] >= 0 else REST
    return forced


def window_plan(plan: Plan, start: int, stop: int) -> tuple[Plan, int, int]:
    """(the plan cut to the window around steps [start, stop), window start step, its first measure number).

    The window runs on barlines from :data:`CONTEXT_BARS` bars before the span to one bar
    after it (from the beginning, pickup included, when the span starts earlier than that).
    """
    metre = plan.metre_obj
    q = STEPS_PER_QUARTER
    bar = metre.bar_steps
    pk = int(round(plan.pickup * q))
    w0 = 0 if start < pk + CONTEXT_BARS * bar else pk + ((start - pk) // bar - CONTEXT_BARS) * bar
    w1 = min(plan.steps, stop + bar)
    pickup = plan.pickup if w0 == 0 else 0.0
    bars = (w1 - w0 - (pk if w0 == 0 else 0)) // bar
    chords = []
    for c in plan.chords:
        a, b = int(round(c.onset * q)), int(round(c.end * q))
        if b <= w0 or a >= w1:
            continue
        lo, hi = max(a, w0), min(b, w1)
        chords.append(ChordEvent(onset=(lo - w0) / q, duration=(hi - lo) / q, figure=c.figure, key=c.key,
                                 cadence=c.cadence if b <= w1 else None, fermata=c.fermata, phrase=c.phrase,
                                 inversion_open=c.inversion_open))
    phrases = [Phrase(max(0.0, p.start - w0 / q), min(p.end, w1 / q) - w0 / q, p.key, p.cadence, p.label)
               for p in plan.phrases if p.end * q > w0 and p.start * q < w1]
    first_measure = metre.measure_beat(w0 / q, plan.pickup)[0]
    win = Plan(key=plan.key, metre=plan.metre, bars=bars, pickup=pickup, chords=chords, phrases=phrases,
               grammar=plan.grammar, seed=plan.seed, tempo=plan.tempo)
    return win.validate(), w0, first_measure


def decode_window(plan: Plan, forced: np.ndarray, start: int, stop: int, run, *,
                  original: np.ndarray | None = None, profile: str = "strict") -> tuple[np.ndarray, dict, Any]:
    """Decode only the window around the span [start, stop) with ``run(window_plan, window_forced)``.

    ``run`` returns a :class:`~partimento.hybrid.decode.Decoded`. Returns the whole score's
    tokens (``forced`` wherever it is given, the decoded tokens in the span), the decoding's
    stats and its trace placed in the score (None unless ``run`` recorded). ``original``:
    the score's own tokens, to tie a rewritten note into the kept note after the span as
    the score did (:func:`rejoin_ties`, under ``profile``'s rules). An
    ``UnsatisfiableError`` is re-raised with the measure numbers of the whole score.
    """
    win, w0, first_measure = window_plan(plan, start, stop)
    w1 = w0 + win.steps
    wf = forced[w0:w1].copy()
    sounding = sounding_pitches(np.where(forced >= 0, forced, HOLD))
    for v in range(4):  # a kept note sounding into the window's first step is struck there (for the decoder)
        if wf[0, v] == HOLD:
            wf[0, v] = PITCH_OFFSET + int(sounding[w0, v]) if sounding[w0, v] >= 0 else REST
    try:
        dec = run(win, wf)
    except UnsatisfiableError as e:
        loc = e.location
        shift = first_measure - (0 if win.pickup > 0 else 1)
        measure = loc.measure + shift if loc.measure is not None else None
        raise UnsatisfiableError(e.message, Location(file=loc.file, measure=measure, beat=loc.beat, voice=loc.voice),
                                 rules=e.rules, hint=e.hint) from None
    tokens = forced.copy()
    free = tokens[w0:w1] < 0
    tokens[w0:w1][free] = dec.tokens[free]
    stats = dict(dec.stats, window=[int(w0), int(w1)])
    if original is not None:
        stats["ties_kept"] = rejoin_ties(tokens, original, win, w0, stop, profile)
    trace = getattr(dec, "trace", None)
    if trace is not None:
        q = STEPS_PER_QUARTER
        trace.shifted(w0, lambda t: plan.metre_obj.measure_beat(t / q, plan.pickup))
    return tokens, stats, trace


def rejoin_ties(tokens: np.ndarray, original: np.ndarray, win: Plan, w0: int, stop: int,
                profile: str = "strict") -> list[str]:
    """Tie a rewritten note into the kept note after the span where the score tied them (in place).

    A note of a rewritten voice that the score held over the span's end is written out
    (struck) at ``stop`` for the decoder (:func:`forced_outside`). Where the new note before
    it has the same pitch, the score's tie comes back: the kept note is the same note as
    before, not a fresh attack. The tie is kept only if the rules (``profile``, judged on
    the window) find nothing with it that they did not find with the attack. Returns the
    voices tied.
    """
    T = tokens.shape[0]
    if stop >= T:
        return []
    sounding = sounding_pitches(tokens)
    tied = [v for v in range(4) if original[stop, v] == HOLD and tokens[stop, v] >= PITCH_OFFSET
            and int(sounding[stop - 1, v]) == int(tokens[stop, v]) - PITCH_OFFSET]
    if not tied:
        return []
    w1 = w0 + win.steps
    before = _window_errors(tokens[w0:w1], win, profile)
    trial = tokens.copy()
    trial[stop, tied] = HOLD
    if not _window_errors(trial[w0:w1], win, profile) <= before:
        return []
    tokens[stop, tied] = HOLD
    return [VOICES[v] for v in tied]


def _window_errors(tokens: np.ndarray, win: Plan, profile: str) -> set[tuple]:
    """(rule, measure, beat, voices) of every error the checker finds in the window's tokens."""
    from .api import report_for

    report = report_for(sounding_pitches(tokens).astype(np.int16), tokens >= PITCH_OFFSET, win, profile)
    return {(x.rule, x.measure, x.beat, tuple(x.voices)) for x in report.violations
            if getattr(x.severity, "value", x.severity) == "error"}


def kept_spellings(grid: ScoreGrid, tokens: np.ndarray, start: int, stop: int, voices: Sequence[str]) -> dict:
    """(voice, attack step) -> name as written, for the notes kept from the score (see ``Result.spellings``).

    A kept note that a rewritten voice held over the span's end keeps its spelling too:
    written from ``stop`` (struck again), or from the new note tied into it.
    """
    idx = [VOICES.index(v) for v in voices]
    out = {k: n for k, n in grid.spellings.items() if not (start <= k[1] < stop and k[0] in idx)}
    if stop >= tokens.shape[0]:
        return out
    for v in idx:
        if grid.tokens[stop, v] != HOLD:
            continue
        a0 = _attack_before(grid.tokens[:, v], stop)
        name = grid.spellings.get((v, a0)) if a0 is not None else None
        if name is None:
            continue
        a1 = stop if tokens[stop, v] >= PITCH_OFFSET else _attack_before(tokens[:, v], stop)
        if a1 is not None:
            out[(v, a1)] = name
    return out


def _attack_before(column: np.ndarray, stop: int) -> int | None:
    """The step of the last attack at or before ``stop - 1`` in one voice's tokens (None: a rest or nothing)."""
    for t in range(stop - 1, -1, -1):
        if column[t] >= PITCH_OFFSET:
            return t
        if column[t] != HOLD:
            return None
    return None
