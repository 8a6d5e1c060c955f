"""A melody read onto the sixteenth grid, exactly: pitches, rhythm, pickup, ties, fermatas, breaths, key.

``harmonize`` keeps the user's melody as the soprano token for token, so this module is
strict about what it can represent (sixteenth-note rhythm, one line) and says so with a
location when it cannot: a one-staff melody that holds two voices at once or chords, a
file with no notes, a rhythm finer than sixteenths. A score of several staves (a grand
staff, an SATB score) is read from the top voice of its top staff, with a warning. The
only change ever made to the melody is an octave transposition of a melody written in
another octave (most of it outside the soprano range of the rule profile, and all of it
inside after the move), reported as a warning; a melody with notes out of range
otherwise is refused before any decoding, its first such note located.

The key comes from, in order: an explicit key (it wins, unless the melody plainly
contradicts it); else the key signature together with the melody (the major key of the
signature, its relative minor, or a mode one accidental away such as Dorian, whichever
the melody's pitch profile and its final note fit best); else, with no signature, the
most likely of the 24 keys, which ``Melody.key_source`` and a warning name.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from partimento.grammar.errors import InputError, Location, ScoreError
from partimento.grammar.rules.satb_reader import check_midi_length, check_score_length
from partimento.grammar.metre import STEPS_PER_QUARTER, Metre, parse_metre
from partimento.grammar.theory import VOICE_RANGES, key_info, normalize_key, pc_name
from partimento.neural.encoding import HOLD, PITCH_OFFSET, REST

__all__ = ["Melody", "read_melody", "load_stream", "key_fit", "choose_key", "soprano_range"]

#: least share of melody duration inside the key's scale for a given key to be accepted
MIN_KEY_FIT = 0.75
#: a given key whose key-profile correlation trails the best key's by more than this contradicts the melody
MAX_KEY_CORRELATION_GAP = 0.3
_FINAL_TONIC = 0.4  # key score bonus when the melody ends on the key's tonic (on its third or fifth: a fifth of it)
_SIGNATURE_OFF_BY_ONE = 0.3  # key score cost of a key one accidental away from the signature (a church mode)
_KEY_NAMES = tuple(n for t in ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B") for n in (t, t.lower()))


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
    breath_steps: list[int] = field(default_factory=list)  # steps where a note with a breath mark after it starts
    key_source: str = "given"  # "given" | "key signature and melody" | "melody (no key signature)"
    spellings: dict[int, str] = field(default_factory=dict)  # attack step -> the note's name as written ("F#5")
    key_ranking: list[tuple[str, float]] = field(default_factory=list)  # keys the melody admits, likeliest first

    @property
    def steps(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def metre_obj(self) -> Metre:
        return parse_metre(self.metre)

    def location(self, step: int) -> Location:
        """File, measure and beat of a grid step."""
        m, b = self.metre_obj.measure_beat(step / STEPS_PER_QUARTER, self.pickup)
        return Location(file=self.source, measure=m, beat=b)


def load_stream(source: Any):
    """A music21 stream from a path or a stream; ScoreError naming the file otherwise."""
    from music21 import converter, stream

    if isinstance(source, stream.Stream):
        return source, None
    path = Path(source)
    if not path.is_file():
        raise InputError("no such file" if not path.is_dir() else "is a directory, not a melody file",
                         Location(file=str(path)))
    check_midi_length(path, str(path))
    try:
        score = converter.parse(str(path))
    except Exception as e:  # music21 raises many types for unreadable files
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise ScoreError(f"music21 cannot read this file ({type(e).__name__}: {first})",
                         Location(file=str(path))) from None
    check_score_length(score, str(path))
    return score, str(path)


def key_fit(pitches: list[int], durations: list[float], key: str) -> float:
    """Share of the melody's duration whose pitch class lies in the key's scale."""
    scale = set(key_info(key).scale)
    total = sum(durations) or 1.0
    return sum(d for p, d in zip(pitches, durations) if p % 12 in scale) / total


def soprano_range(profile: str = "strict") -> tuple[int, int]:
    """The soprano's inclusive MIDI range under ``profile`` (the ``range`` rule's own numbers)."""
    from partimento.grammar.rules import get_profile

    for rule in get_profile(profile).rules():
        if rule.id == "range" and hasattr(rule, "ranges"):
            return tuple(rule.ranges["soprano"])  # type: ignore[return-value]
    return VOICE_RANGES["soprano"]


@lru_cache(maxsize=1)
def _aarden_essen() -> dict[str, np.ndarray]:
    from music21.analysis.discrete import AardenEssen

    a = AardenEssen()
    return {m: np.asarray(a.getWeights(m), float) for m in ("major", "minor")}


def _key_score(hist: np.ndarray, final_pc: int, name: str) -> float:
    """Key-profile correlation (music21's Aarden-Essen profiles, made on folk melodies) plus the final note."""
    k = key_info(name)
    prof = _aarden_essen()
    r = float(np.corrcoef(hist, np.roll(prof[k.mode], k.tonic))[0, 1]) if hist.std() > 0 else 0.0
    triad = {k.tonic, (k.tonic + (3 if k.is_minor else 4)) % 12, (k.tonic + 7) % 12}
    return r + (_FINAL_TONIC if final_pc == k.tonic else _FINAL_TONIC / 5 if final_pc in triad else 0.0)


def _key_scores(hist: np.ndarray, final_pc: int) -> dict[str, float]:
    return {name: _key_score(hist, final_pc, name) for name in _KEY_NAMES}


def _signature_keys(sharps: int) -> dict[str, float]:
    """Keys a signature of ``sharps`` (negative: flats) admits, with their cost: its own two, then one off."""
    from music21 import key as m21key

    out: dict[str, float] = {}
    for delta, cost in ((0, 0.0), (-1, _SIGNATURE_OFF_BY_ONE), (1, _SIGNATURE_OFF_BY_ONE)):  # music21 spells them
        ks = m21key.KeySignature(max(-7, min(7, sharps + delta)))
        for mode in ("major", "minor"):
            name = normalize_key(ks.asKey(mode).tonicPitchNameWithCase)
            out.setdefault(name, cost)
    return out


def choose_key(pitches: list[int], durations: list[float], sharps: int | None) -> tuple[str, list[tuple[str, float]]]:
    """(key, ranking) for a melody: see the module docstring. ``sharps`` None: no key signature."""
    hist = np.zeros(12)
    for p, d in zip(pitches, durations):
        hist[p % 12] += d
    scores = _key_scores(hist, pitches[-1] % 12)
    if sharps is not None:
        allowed = _signature_keys(sharps)
        scores = {k: s - allowed[k] for k, s in scores.items() if k in allowed}
    ranking = sorted(scores.items(), key=lambda kv: -kv[1])
    return ranking[0][0], ranking


def _top_staff(score: Any) -> tuple[Any, bool]:
    """(the part holding the melody, whether the score has several staves)."""
    from music21 import stream

    parts = list(score.parts) if isinstance(score, stream.Score) and len(score.parts) else [score]
    return parts[0], len(parts) > 1


def _events(part: Any, several_staves: bool, file: str | None, metre: Metre, pickup: float, warnings: list[str]):
    """(onset, duration, midi or -1, tied in, fermata, breath after, name) of the top voice, measure by measure."""
    from music21 import articulations, chord, expressions, note, stream

    measures = list(part.getElementsByClass(stream.Measure))
    holders: list[tuple[float, Any]] = []  # (offset of the container, container of notes)
    for m in measures:
        base = float(part.elementOffset(m))
        voices = list(m.getElementsByClass(stream.Voice))
        if voices:
            sounding = [v for v in voices if any(not n.isRest for n in v.notesAndRests)]
            if len(sounding) > 1 and not several_staves:
                raise InputError(f"the melody has {len(sounding)} voices on one staff in this measure; "
                                 "harmonize needs one line", Location(file=file, measure=m.number),
                                 hint="Give the melody alone, or a score whose top staff's top voice is it.")
            top = (sounding or voices)[0]
            holders.append((base + float(m.elementOffset(top)), top))
        if m.getElementsByClass(note.GeneralNote).first() is not None:
            holders.append((base, m))  # notes standing in the measure itself
    if not measures:
        holders.append((0.0, part.flatten()))
    out = []
    for base, holder in holders:
        for el in holder.notesAndRests:
            off0 = float(holder.elementOffset(el))
            if el.duration.isGrace or el.quarterLength == 0:
                continue
            off = base + off0
            if isinstance(el, chord.Chord):
                if not several_staves:
                    m, beat = metre.measure_beat(off, pickup)
                    raise InputError(f"the melody has a chord ({' '.join(p.nameWithOctave for p in el.pitches)}); "
                                     "harmonize needs one line", Location(file=file, measure=m, beat=beat),
                                     hint="Write the melody as single notes.")
                if "chords" not in " ".join(warnings):
                    warnings.append("the top staff has chords; harmonizing their top notes")
                top = max(el.pitches, key=lambda p: p.midi)
                midi, name = top.midi, top.nameWithOctave
            elif isinstance(el, note.Note):
                midi, name = el.pitch.midi, el.pitch.nameWithOctave
            else:
                midi, name = -1, ""
            tied_in = midi >= 0 and el.tie is not None and el.tie.type in ("stop", "continue")
            fermata = any(isinstance(e, expressions.Fermata) for e in el.expressions)
            breath = any(isinstance(a, articulations.BreathMark) for a in getattr(el, "articulations", []))
            out.append((off, float(el.quarterLength), midi, tied_in, fermata, breath, name))
    out.sort(key=lambda e: e[0])
    return out


def read_melody(source: Any, key: str | None = None, *, profile: str = "strict") -> Melody:
    """Read the top line of ``source`` onto the grid; see the module docstring."""
    from music21 import key as m21key, meter, stream

    if key is not None:
        key = normalize_key(key)  # a malformed key is refused before the file is read
    score, file = load_stream(source)
    warnings: list[str] = []
    part, several = _top_staff(score)
    if several:
        name = part.partName or "the top staff"
        warnings.append(f"the file has {len(score.parts)} parts; harmonizing the top voice of the top one ({name})")
    ts = next(iter(part.recurse().getElementsByClass(meter.TimeSignature)), None)
    metre = parse_metre(ts.ratioString if ts is not None else "4/4")
    measures = list(part.getElementsByClass(stream.Measure))
    pickup = 0.0
    if len(measures) > 1:
        first = measures[0]
        bar_q = float(metre.bar_quarters)
        length = float(first.duration.quarterLength)
        if (first.paddingLeft or 0) > 0 or (0 < length < bar_q - 1e-9 and first.number in (0, 1)):
            pickup = length
    events = _events(part, several, file, metre, pickup, warnings)
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
    breaths: list[int] = []
    spellings: dict[int, str] = {}
    for off, dur, midi, tied_in, fermata, breath, name in events:
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
        start = a
        while cont and start > 0 and tokens[start] == HOLD:
            start -= 1
        if not cont:
            spellings[a] = name
        if fermata and start not in fermatas:
            fermatas.append(start)
        if breath and start not in breaths:
            breaths.append(start)
    sounding = pitch[pitch >= 0]
    lo, hi = soprano_range(profile)
    if sounding.min() < lo or sounding.max() > hi:
        outside = float(np.mean((sounding < lo) | (sounding > hi)))  # share of the sounding steps
        shift = next((s for s in (12, -12, 24, -24) if sounding.min() + s >= lo and sounding.max() + s <= hi), None)
        if shift is None or outside <= 0.5:  # only a melody written in another octave is moved; a few notes are errors
            bad = int(np.flatnonzero((pitch >= 0) & ((pitch < lo) | (pitch > hi)))[0])
            from partimento.grammar.rules.spelling import note_name

            hint = ("The chorale profile admits Bach's soprano up to A5 (--profile chorale)."
                    if profile != "chorale" and sounding.max() <= 81 and sounding.min() >= lo else
                    "Transpose the melody into the soprano range.")
            loc = Location(file=file, measure=metre.measure_beat(bad / q, pickup)[0],
                           beat=metre.measure_beat(bad / q, pickup)[1], voice="soprano")
            raise InputError(f"the melody note {note_name(int(pitch[bad]), 'C')} lies outside the soprano range "
                             f"{note_name(lo, 'C')}–{note_name(hi, 'C')} of the {profile} profile (the melody spans "
                             f"{note_name(int(sounding.min()), 'C')}–{note_name(int(sounding.max()), 'C')})", loc,
                             hint=hint)
        warnings.append(f"the melody lies outside the soprano range; transposed {'up' if shift > 0 else 'down'} "
                        f"{abs(shift) // 12} octave(s)")
        att = tokens >= PITCH_OFFSET
        tokens[att] += shift
        pitch[pitch >= 0] += shift
        spellings = {t: _octave_shifted(n, shift // 12) for t, n in spellings.items()}
    durs = [d for _, d, m, *_ in events if m >= 0]
    mids = [m for _, _, m, *_ in events if m >= 0]
    sigs = list(part.recurse().getElementsByClass(m21key.KeySignature))
    # a signature with no number of sharps (a <key> without <fifths>: music21's non-traditional one) counts as none
    sharps = int(sigs[0].sharps) if sigs and isinstance(sigs[0].sharps, int) else None
    chosen, ranking = choose_key(mids, durs, sharps)
    if key is None:
        key = chosen
        if sharps is None:
            source_name = "melody (no key signature)"
            others = ", ".join(k for k, _ in ranking[1:3])
            warnings.append(f"the melody has no key signature; harmonizing in {_key_words(key)}, the most likely "
                            f"key (next: {others}); give --key to choose another")
        else:
            source_name = "key signature and melody"
    else:
        source_name = "given"
        _refuse_contradicting_key(key, mids, durs, events, metre, pickup, file)
    return Melody(tokens, pitch, key, metre.name, pickup, bars, sorted(fermatas), warnings, file, sorted(breaths),
                  source_name, spellings, ranking)


def _octave_shifted(name: str, octaves: int) -> str:
    """``"G#4"`` moved by whole octaves, spelling kept."""
    head = name.rstrip("0123456789")
    return f"{head}{int(name[len(head):]) + octaves}"


def _key_words(key: str) -> str:
    k = key_info(key)
    return f"{k.name[0].upper() + k.name[1:]} {k.mode}"


def _refuse_contradicting_key(key: str, mids: list[int], durs: list[float], events, metre: Metre, pickup: float,
                              file: str | None) -> None:
    """An explicit key wins, unless the melody plainly contradicts it (InputError at the first foreign note)."""
    hist = np.zeros(12)
    for p, d in zip(mids, durs):
        hist[p % 12] += d
    scores = _key_scores(hist, -1)
    best = max(scores, key=scores.get)
    mine = _key_score(hist, -1, key)
    if mine < scores[best] - MAX_KEY_CORRELATION_GAP:
        raise InputError(f"the key {key} contradicts the melody, which reads as {best} (key-profile "
                         f"correlation {mine:.2f} against {scores[best]:.2f})",
                         Location(file=file, measure=1 if pickup == 0 else 0, beat=1.0),
                         hint="Leave --key out to use the analysed key.")
    fit = key_fit(mids, durs, key)
    if fit < MIN_KEY_FIT:
        scale = set(key_info(key).scale)
        first = next(e for e in events if e[2] >= 0 and e[2] % 12 not in scale)
        m, beat = metre.measure_beat(first[0], pickup)
        raise InputError(f"the key {key} contradicts the melody: only {fit:.0%} of its duration lies in the "
                         f"{key} scale (first outside note: {pc_name(first[2])})",
                         Location(file=file, measure=m, beat=beat),
                         hint="Leave --key out to use the analysed key.")
