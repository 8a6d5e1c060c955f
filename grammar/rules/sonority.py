"""From a music21 score (or a file) to the integer arrays every rule reads.

This is the only module of the checker that touches music21 per note. It picks the four
voices (parts named Soprano/Alto/Tenor/Bass or S/A/T/B in any case, else exactly four
parts top to bottom, else two staves of two voices each), turns each voice into
(start, end, MIDI, attack) events, and samples all four at every onset in any voice:
one :class:`SonorityArray` row per onset, held notes repeated with ``attack=False``.
Tied continuations are not attacks; rows where nothing changes are dropped.

Keys per sonority come, in this order, from the ``key`` argument, a plan, the score's
Key objects (a bare key signature is read as its major or relative minor, whichever the
notes fit better), or key finding per phrase (phrases end at fermatas) with music21's
Aarden-Essen key profiles, computed on the arrays.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Location, PartimentoError, ScoreError
from ..metre import STEPS_PER_QUARTER, Metre, parse_metre
from ..theory import ChordSpec, KeyInfo, chord_spec, key_info, normalize_key
from .base import REST, Context, SonorityArray

__all__ = ["ParsedScore", "load_score", "parse_score", "sonorities_from_grid", "find_keys"]

_VOICE_NAMES = {"soprano": 0, "s": 0, "alto": 1, "a": 1, "tenor": 2, "t": 2, "bass": 3, "b": 3}
_EPS = 1e-6


@dataclass
class ParsedScore:
    """A score reduced to arrays, with the music21 objects kept for annotation."""

    sonorities: SonorityArray
    ctx: Context
    score: Any  # music21 stream.Score
    voices: list[Any]  # four music21 streams (parts or voices), soprano first
    file: str | None


def load_score(source: Any) -> tuple[Any, str | None]:
    """(music21 score, file label) from a path or a stream; bad files raise ScoreError naming them."""
    from music21 import converter, stream

    if isinstance(source, stream.Stream):
        return source, None
    path = Path(source)
    label = str(source)
    if not path.exists():
        raise ScoreError("no such file", Location(file=label))
    if path.is_dir():
        raise ScoreError("is a directory, not a score file", Location(file=label),
                         hint="Give MusicXML (.musicxml, .xml, .mxl), MIDI (.mid) or another file music21 reads.")
    try:
        score = converter.parse(str(path))
    except Exception as exc:  # music21 raises many types for unreadable input
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = first.split(", got:")[0].split(" b'")[0][:160]
        raise ScoreError(f"music21 cannot read this file ({first})", Location(file=label),
                         hint="Give MusicXML (.musicxml, .xml, .mxl), MIDI (.mid) or another file music21 reads.") from None
    if isinstance(score, stream.Opus):
        scores = list(score.scores)
        if len(scores) != 1:
            raise ScoreError(f"contains {len(scores)} scores; give one four-voice score per file", Location(file=label))
        score = scores[0]
    return score, label


def _pick_voices(score: Any, label: str | None) -> list[Any]:
    from music21 import stream

    parts = [p for p in score.elements if isinstance(p, stream.Part)] if isinstance(score, stream.Stream) else []
    if not parts and isinstance(score, stream.Stream) and score.recurse().notesAndRests:
        parts = [score]
    found: dict[int, Any] = {}
    for p in parts:
        for name in (p.partName, p.id if isinstance(p.id, str) else None):
            v = _VOICE_NAMES.get(str(name or "").strip().lower().rstrip("."))
            if v is not None:
                found.setdefault(v, p)
                break
    if len(found) == 4:
        return [found[v] for v in range(4)]
    if len(parts) == 4:
        return parts
    if len(parts) == 2:  # closed score: two staves with two voices each
        split = []
        for p in parts:
            ids = sorted({str(v.id) for v in p.recurse().getElementsByClass(stream.Voice)})
            if len(ids) != 2:
                break
            for vid in ids:
                sub = stream.Part()
                for m in p.getElementsByClass(stream.Measure):
                    for v in m.getElementsByClass(stream.Voice):
                        if str(v.id) == vid:
                            for n in v.notesAndRests:
                                sub.insert(m.offset + n.offset, n)
                split.append(sub)
        if len(split) == 4:
            return split
    if not parts or not score.recurse().notesAndRests:
        raise ScoreError("the score is empty (no notes)", Location(file=label))
    raise ScoreError(
        f"has {len(parts)} part{'s' if len(parts) != 1 else ''}; expected four voices",
        Location(file=label),
        hint="Name the parts Soprano, Alto, Tenor, Bass (or S, A, T, B), or give exactly four parts, top to bottom.",
    )


@dataclass
class _Walk:
    """What one pass over a part's measures yields: note events, bar lines, signatures."""

    starts: np.ndarray
    ends: np.ndarray
    midis: np.ndarray
    attacks: np.ndarray
    fermatas: list[float]
    measures: tuple[np.ndarray, np.ndarray, np.ndarray, list[Metre]] | None  # offsets, numbers, padding, metre
    key_signatures: list[tuple[float, Any]]


def _walk(part: Any, voice: int) -> _Walk:
    """One pass over a part, measure by measure (no ``flatten``: it costs more than all the rules).

    Chords in one voice keep their outer note (highest for soprano/alto, lowest below).
    """
    from music21 import key as m21key
    from music21 import meter, note, stream

    starts: list[float] = []
    ends: list[float] = []
    midis: list[int] = []
    attacks: list[bool] = []
    fermatas: list[float] = []
    keysigs: list[tuple[float, Any]] = []

    Note, Rest = note.Note, note.Rest
    high = voice < 2

    def take(el: Any, off: float) -> None:
        ql = el.duration.quarterLength
        if ql <= 0:  # grace notes
            return
        kind = type(el)
        if kind is Note or (kind is not Rest and not el.isRest and not el.isChord):
            midi = round(el.pitch.ps)
            attack = el.tie is None or el.tie.type not in ("stop", "continue")
        elif kind is Rest or el.isRest:
            midi, attack = REST, False
        else:  # a chord in one voice: its outer note
            ps = [p.midi for p in el.pitches]
            midi = max(ps) if high else min(ps)
            attack = el.tie is None or el.tie.type not in ("stop", "continue")
        if el.expressions and any(type(e).__name__ == "Fermata" for e in el.expressions):
            fermatas.append(off)
        starts.append(off)
        ends.append(off + ql)
        midis.append(midi)
        attacks.append(attack)

    ms = [m for m in part.elements if isinstance(m, stream.Measure)]  # cheaper than getElementsByClass
    measures = None
    if ms:
        offs, nums, pads, metres = [], [], [], []
        current = Metre(4, 4)
        for m in ms:
            moff = float(part.elementOffset(m))
            for el in m.elements:
                if isinstance(el, note.GeneralNote):
                    take(el, moff + float(m.elementOffset(el)))
                elif isinstance(el, stream.Voice):
                    voff = moff + float(m.elementOffset(el))
                    for sub in el.elements:
                        if isinstance(sub, note.GeneralNote):
                            take(sub, voff + float(el.elementOffset(sub)))
                elif isinstance(el, meter.TimeSignature):
                    current = Metre(int(el.numerator), int(el.denominator))
                elif isinstance(el, m21key.KeySignature):
                    keysigs.append((moff + float(m.elementOffset(el)), el))
            offs.append(moff)
            nums.append(int(m.number))
            pads.append(float(m.paddingLeft or 0.0))
            metres.append(current)
        measures = (np.asarray(offs), np.asarray(nums, np.int32), np.asarray(pads), metres)
    else:  # a part without measures
        flat = part.flatten()
        for el in flat.notesAndRests:
            take(el, float(el.offset))
        keysigs = [(float(k.offset), k) for k in flat.getElementsByClass(m21key.KeySignature)]
    order = np.argsort(np.asarray(starts, float), kind="stable")
    return _Walk(np.asarray(starts, float)[order], np.asarray(ends, float)[order],
                 np.asarray(midis, np.int16)[order], np.asarray(attacks, bool)[order], fermatas, measures, keysigs)


def _sample(w: _Walk, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts, ends, midis, attacks = w.starts, w.ends, w.midis, w.attacks
    if len(starts) == 0:
        return np.full(len(times), REST, np.int16), np.zeros(len(times), bool)
    idx = np.searchsorted(starts, times + _EPS, side="right") - 1
    ok = idx >= 0
    idx_c = np.clip(idx, 0, None)
    ok &= ends[idx_c] > times + _EPS
    pitch = np.where(ok, midis[idx_c], REST).astype(np.int16)
    attack = ok & (np.abs(starts[idx_c] - times) < _EPS) & attacks[idx_c]
    return pitch, attack


_PROFILES: dict[str, np.ndarray] | None = None


def _key_profiles() -> dict[str, np.ndarray]:
    """music21's Aarden-Essen key profiles (its default for ``analyze('key')``), read once."""
    global _PROFILES
    if _PROFILES is None:
        from music21.analysis.discrete import AardenEssen

        a = AardenEssen()
        _PROFILES = {m: np.asarray(a.getWeights(m), float) for m in ("major", "minor")}
    return _PROFILES


def _best_key(hist: np.ndarray, candidates: list[str] | None = None) -> str:
    """Key whose rotated profile correlates best with a pitch-class duration histogram."""
    prof = _key_profiles()
    names = candidates or [n for t in ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")
                           for n in (t, t.lower())]
    best, best_r = names[0], -2.0
    if hist.sum() <= 0:
        return best
    for name in names:
        k = key_info(name)
        w = np.roll(prof[k.mode], k.tonic)
        r = np.corrcoef(hist, w)[0, 1]
        if r > best_r:
            best, best_r = name, r
    return best


def _histogram(s: SonorityArray, rows: slice) -> np.ndarray:
    p = s.pitch[rows]
    d = np.broadcast_to(s.duration[rows][:, None], p.shape)
    ok = p != REST
    return np.bincount((p[ok] % 12).astype(int), weights=d[ok], minlength=12)


def find_keys(s: SonorityArray) -> list[KeyInfo]:
    """A key per sonority by key finding per phrase (phrases end at fermatas, else every four bars)."""
    n = len(s)
    if n == 0:
        return []
    ends = list(np.flatnonzero(s.fermata)) if s.fermata is not None else []
    if not ends:
        ends = [i for i in range(n - 1) if s.measure[i + 1] != s.measure[i] and s.measure[i + 1] % 4 == 1]
    bounds, start = [], 0
    for e in ends + [n - 1]:
        if e >= start:
            bounds.append((start, e + 1))
            start = e + 1
    if start < n:
        bounds.append((start, n))
    keys: list[KeyInfo] = []
    for a, b in bounds:
        keys.extend([key_info(_best_key(_histogram(s, slice(a, b))))] * (b - a))
    return keys


def _score_keys(walks: list[_Walk], s: SonorityArray) -> list[KeyInfo] | None:
    """Keys from Key objects / key signatures in the score, or None when it has none."""
    from music21 import key as m21key

    found: list[tuple[float, Any]] = []
    for w in walks:  # the first voice that has any
        if w.key_signatures:
            found = sorted(w.key_signatures, key=lambda t: t[0])
            break
    if not found:
        return None
    starts = np.asarray([f[0] for f in found])
    seg = np.clip(np.searchsorted(starts, s.offset + _EPS, side="right") - 1, 0, None)
    keys: list[KeyInfo] = [key_info("C")] * len(s)
    for j, (_, ks) in enumerate(found):
        rows = np.flatnonzero(seg == j)
        if len(rows) == 0:
            continue
        if isinstance(ks, m21key.Key):
            name = normalize_key(ks.tonicPitchNameWithCase)
        else:  # a bare signature: its major or its relative minor, whichever the notes fit
            cands = [normalize_key(ks.asKey("major").tonicPitchNameWithCase),
                     normalize_key(ks.asKey("minor").tonicPitchNameWithCase)]
            name = _best_key(_histogram(s, slice(rows[0], rows[-1] + 1)), cands)
        for r in rows:
            keys[r] = key_info(name)
    return keys


def parse_score(source: Any, key: str | None = None, plan: Any = None) -> ParsedScore:
    """Read a score (path or music21 stream) into sonority arrays and a rule context."""
    score, label = load_score(source)
    voices = _pick_voices(score, label)
    walks = [_walk(p, v) for v, p in enumerate(voices)]
    if sum(len(w.starts) for w in walks) == 0:
        raise ScoreError("the score is empty (no notes)", Location(file=label))
    if all((w.midis == REST).all() for w in walks):
        raise ScoreError("the score has only rests", Location(file=label))
    times = np.unique(np.round(np.concatenate([w.starts for w in walks]), 6))
    end = max(float(w.ends.max()) for w in walks if len(w.ends))
    cols = [_sample(w, times) for w in walks]
    pitch = np.stack([c[0] for c in cols], axis=1)
    attack = np.stack([c[1] for c in cols], axis=1)
    keep = np.ones(len(times), bool)
    keep[1:] = attack[1:].any(axis=1) | (pitch[1:] != pitch[:-1]).any(axis=1)
    times, pitch, attack = times[keep], pitch[keep], attack[keep]
    duration = np.diff(np.append(times, end))
    ferm_offs = np.asarray(sorted({f for w in walks for f in w.fermatas}), float)
    fermata = np.zeros(len(times), bool)
    if len(ferm_offs):
        idx = np.clip(np.searchsorted(times, ferm_offs + _EPS, side="right") - 1, 0, None)
        fermata[idx] = True
    measure, beat = _locate(walks, score, times)
    s = SonorityArray(pitch, attack, times.astype(float), duration, measure, beat, fermata)

    chords: list[ChordSpec | None] | None = None
    labelled = None if plan is not None else _chords_from_bass_lyrics(voices[3], times)
    if plan is not None:
        evs = [plan.chord_at(float(t)) for t in times]
        chords = [ev.spec if ev is not None else None for ev in evs]
    elif labelled is not None:
        chords = labelled
    if key is not None:
        keys = [key_info(key)] * len(s)
    elif plan is not None:
        keys = [key_info(ev.key if ev is not None else plan.key) for ev in evs]
    elif labelled is not None:
        keys = [key_info(c.key) for c in labelled]
    else:
        keys = _score_keys(walks, s) or find_keys(s)
    ctx = Context(keys=keys, chords=chords, file=label, accent=_accents(walks, score, times, beat))
    return ParsedScore(s, ctx, score, voices, label)


def _chords_from_bass_lyrics(bass: Any, times: np.ndarray) -> list[ChordSpec] | None:
    """Chords from Roman numerals written as lyrics under the bass (``"G: V65"``, then ``"I6"``).

    partimento writes its plan this way, so checking its own output judges the notes against
    the chords it was asked to realize, exactly as the decoder did, rather than against
    chords guessed from the notes (which read passing tones as sevenths). Returns None
    unless every lyric under the bass is such a label and the first one names its key.
    """
    onsets: list[float] = []
    specs: list[ChordSpec] = []
    current: str | None = None
    for n in bass.flatten().notes:
        text = (n.lyric or "").strip()
        if not text:
            continue
        head, sep, figure = text.rpartition(": ")
        if sep:
            current = head.strip()
        elif current is None:
            return None
        try:
            specs.append(chord_spec(figure.strip() if sep else text, current))
        except PartimentoError:
            return None
        onsets.append(float(n.offset))
    if not specs:
        return None
    idx = np.searchsorted(np.asarray(onsets), times + _EPS, side="right") - 1
    if (idx < 0).any():
        return None
    return [specs[i] for i in idx]


def _locate(walks: list[_Walk], score: Any, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Printed measure number and 1-based beat of each onset (bar lines of the first voice that has them)."""
    info = next((w.measures for w in walks if w.measures is not None), None)
    if info is None:
        from music21 import meter

        ts = score.recurse().getElementsByClass(meter.TimeSignature)
        metre = Metre(int(ts[0].numerator), int(ts[0].denominator)) if ts else Metre(4, 4)
        mb = [metre.measure_beat(float(t)) for t in times]
        return np.asarray([m for m, _ in mb], np.int32), np.asarray([b for _, b in mb], float)
    offs, nums, pads, metres = info
    k = np.clip(np.searchsorted(offs, times + _EPS, side="right") - 1, 0, None)
    beat_len = np.asarray([float(m.beat_quarters) for m in metres])[k]
    beats = 1.0 + (times - offs[k] + pads[k]) / beat_len
    return nums[k].astype(np.int32), np.round(beats, 4)


def _accents(walks: list[_Walk], score: Any, times: np.ndarray, beat: np.ndarray) -> np.ndarray:
    """Metric accent of each onset (:func:`.nct.accent_levels`) under the time signature of its measure."""
    from .nct import accent_levels

    info = next((w.measures for w in walks if w.measures is not None), None)
    if info is None:
        from music21 import meter

        ts = score.recurse().getElementsByClass(meter.TimeSignature)
        return accent_levels(beat, Metre(int(ts[0].numerator), int(ts[0].denominator)) if ts else None)
    offs, _, _, metres = info
    k = np.clip(np.searchsorted(offs, times + _EPS, side="right") - 1, 0, None)
    out = np.zeros(len(times), np.int8)
    for m in set(metres):
        rows = np.asarray([metres[j] == m for j in k], bool)
        out[rows] = accent_levels(beat[rows], m)
    return out


def sonorities_from_grid(pitch: np.ndarray, attack: np.ndarray, metre: str, pickup: float = 0) -> SonorityArray:
    """Sonorities of a decoded 16th-note grid: one row per step where a voice attacks or changes.

    ``pitch`` is (T, 4) MIDI (REST = -1), ``attack`` (T, 4) bool; a step where a voice
    falls silent without any attack also starts a row, so rests are seen.
    """
    pitch = np.asarray(pitch, np.int16)
    attack = np.asarray(attack, bool)
    m = parse_metre(metre)
    t = len(pitch)
    if t == 0:
        return SonorityArray.empty()
    keep = attack.any(axis=1)
    keep[1:] |= (pitch[1:] != pitch[:-1]).any(axis=1)
    keep[0] = True
    steps = np.flatnonzero(keep)
    offset = steps / STEPS_PER_QUARTER
    duration = np.diff(np.append(steps, t)) / STEPS_PER_QUARTER
    mb = [m.measure_beat(float(o), pickup) for o in offset]
    return SonorityArray(pitch[steps].copy(), attack[steps].copy(), offset.astype(float), duration.astype(float),
                         np.asarray([x for x, _ in mb], np.int32), np.asarray([b for _, b in mb], float),
                         np.zeros(len(steps), bool))
