"""From a music21 score (or a file) to the integer arrays every rule reads.

:mod:`.satb_reader` finds the four voices in whatever layout the score uses (four parts,
or two staves with two voices or two-note chords each) as (start, end, MIDI, attack,
written letter) events; this module samples all four at every onset in any voice: one
:class:`SonorityArray` row per onset, held notes repeated with ``attack=False``. Tied
continuations are not attacks; rows where nothing changes are dropped. The written
letter of each note travels along (``SonorityArray.letter``), so that rules judge an
interval as it is written (E♯–D is an augmented second, F–D a minor third).

Keys per sonority come, in this order, from the ``key`` argument, a plan, the score's
Key objects (a bare key signature is read as its major or relative minor, whichever the
notes fit better), or key finding per phrase (phrases end at fermatas) with music21's
Aarden-Essen key profiles, computed on the arrays.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from ..errors import PartimentoError
from ..metre import STEPS_PER_QUARTER, Metre, parse_metre
from ..theory import ChordSpec, KeyInfo, chord_spec, key_info, normalize_key
from .base import REST, Context, SonorityArray
from .satb_reader import SATBScore, VoiceEvents, load_score, read_satb

__all__ = ["ParsedScore", "load_score", "parse_score", "sonorities_from_grid", "find_keys"]

_EPS = 1e-6


@dataclass
class ParsedScore:
    """A score reduced to arrays, with the music21 objects kept for annotation."""

    sonorities: SonorityArray
    ctx: Context
    score: Any  # music21 stream.Score, as read (never modified)
    satb: SATBScore  # the four voices as note events, with the music21 note behind each
    file: str | None

    @property
    def layout(self) -> str:
        """How the voices are written: "four parts" or "two staves" (see :mod:`.satb_reader`)."""
        return self.satb.layout

    @property
    def voices(self) -> list[Any]:
        """Four music21 streams, soprano first: the parts themselves, or (two staves) one new part per voice."""
        if self.satb.layout == "four parts":
            return list(self.satb.staves)
        from music21 import note, stream

        out = []
        for ev in self.satb.voices:
            part = stream.Part()
            for a, b, m in zip(ev.starts, ev.ends, ev.midis):
                el = note.Rest(quarterLength=b - a) if m == REST else note.Note(int(m), quarterLength=b - a)
                part.insert(float(a), el)
            out.append(part)
        return out


def _segment_of(starts: np.ndarray, times: np.ndarray) -> np.ndarray:
    """(len(times),) the index of the last of the sorted ``starts`` at or before each time (0 before the first)."""
    seg = starts.searchsorted(times + _EPS, side="right")
    seg -= 1
    np.maximum(seg, 0, out=seg)
    return seg


def _any_column(x: np.ndarray) -> np.ndarray:
    """``x.any(axis=1)`` as a ufunc reduction (without the method's Python-level wrapper)."""
    return np.logical_or.reduce(x, axis=1)


def _sample(walks: list[VoiceEvents], times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pitch, attack, written letter), each (N, V): every voice at each time (all voices in one pass)."""
    shape = (len(times), len(walks))
    sizes = [len(w.starts) for w in walks]
    if not sum(sizes):
        return np.full(shape, REST, np.int16), np.zeros(shape, bool), np.full(shape, -1, np.int8)
    starts, ends = np.concatenate([w.starts for w in walks]), np.concatenate([w.ends for w in walks])
    midis, attacks = np.concatenate([w.midis for w in walks]), np.concatenate([w.attacks for w in walks])
    letters = np.concatenate([w.letters for w in walks])
    # (N, V) index of the event sounding at each time, per voice (-1: before its first event)
    idx = np.empty(shape, np.intp)
    after = times + _EPS
    for v, w in enumerate(walks):
        idx[:, v] = w.starts.searchsorted(after, side="right")
    idx -= 1
    ok = idx >= 0
    base = 0
    for v, size in enumerate(sizes):  # into the joined arrays: where each voice's events begin
        idx[:, v] += base
        base += size
    at = np.where(ok, idx, 0)  # (0 where nothing sounds: masked below)
    ok &= ends[at] > after[:, None]
    pitch = np.where(ok, midis[at], REST).astype(np.int16)
    attack = ok & (np.abs(starts[at] - times[:, None]) < _EPS) & attacks[at]
    letter = np.where(ok & (pitch != REST), letters[at], -1).astype(np.int8)
    return pitch, attack, letter


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
    names = candidates or _ALL_KEYS
    if hist.sum() <= 0:
        return names[0]
    w = _rotated_profiles(tuple(names))  # (K, 12)
    x = hist - hist.mean()
    y = w - w.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):  # a flat histogram correlates with nothing
        r = (y @ x) / np.sqrt((y * y).sum(axis=1) * (x @ x))  # Pearson r per candidate, as np.corrcoef
    if np.isnan(r).all():
        return names[0]
    return names[int(np.nanargmax(r))]  # the first best, as a scan with ">" keeps


_ALL_KEYS = [n for t in ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B") for n in (t, t.lower())]


@lru_cache(maxsize=256)
def _rotated_profiles(names: tuple[str, ...]) -> np.ndarray:
    """(K, 12): each key's Aarden-Essen profile rotated onto its tonic."""
    prof = _key_profiles()
    return np.stack([np.roll(prof[key_info(n).mode], key_info(n).tonic) for n in names])


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


def _score_keys(satb: SATBScore, s: SonorityArray) -> list[KeyInfo] | None:
    """Keys from Key objects / key signatures in the score, or None when it has none."""
    from music21 import key as m21key

    found = satb.key_signatures
    if not found:
        return None
    starts = np.asarray([f[0] for f in found])
    seg = _segment_of(starts, s.offset)
    seg_of_row = seg.tolist()
    key_of_seg: list[KeyInfo] = []
    for j, (_, ks) in enumerate(found):
        if j not in seg_of_row:  # a signature no onset falls under
            key_of_seg.append(key_info("C"))
            continue
        if isinstance(ks, m21key.Key):
            name = normalize_key(ks.tonicPitchNameWithCase)
        else:  # a bare signature: its major or its relative minor, whichever the notes fit
            rows = np.flatnonzero(seg == j)
            cands = [normalize_key(ks.asKey("major").tonicPitchNameWithCase),
                     normalize_key(ks.asKey("minor").tonicPitchNameWithCase)]
            name = _best_key(_histogram(s, slice(rows[0], rows[-1] + 1)), cands)
        key_of_seg.append(key_info(name))
    return [key_of_seg[j] for j in seg_of_row]


def parse_score(source: Any, key: str | None = None, plan: Any = None,
                parts: Sequence[str | int] | None = None) -> ParsedScore:
    """Read a score (path or music21 stream) into sonority arrays and a rule context.

    ``parts`` names the four voices' parts (names or 1-based numbers, soprano first) in a
    score that has others; see :func:`~.satb_reader.read_satb` for the layouts read.
    """
    satb = read_satb(source, parts)
    label = satb.file
    walks = satb.voices
    # (numpy's methods and ufuncs here rather than its Python-level functions, np.sort, np.diff, np.append ...:
    # at a hundred rows a call costs more than its arithmetic, and a check makes hundreds of them)
    times = np.concatenate([w.starts for w in walks]).round(6)
    times.sort()
    new = np.ones(len(times), bool)  # np.unique's result, without its first-call import of numpy.ma
    np.not_equal(times[1:], times[:-1], out=new[1:])
    times = times[new]
    end = satb.end
    pitch, attack, letter = _sample(walks, times)  # (N, 4) each
    keep = np.ones(len(times), bool)
    keep[1:] = _any_column(attack[1:]) | _any_column(pitch[1:] != pitch[:-1])
    times, pitch, attack, letter = times[keep], pitch[keep], attack[keep], letter[keep]
    duration = np.empty_like(times)  # np.diff(np.append(times, end))
    np.subtract(times[1:], times[:-1], out=duration[:-1])
    duration[-1:] = end - times[-1:]
    ferm_offs = np.asarray(sorted({f for w in walks for f in w.fermatas}), float)
    fermata = np.zeros(len(times), bool)
    if len(ferm_offs):
        fermata[_segment_of(times, ferm_offs)] = True
    measure, beat, metres, metre_of_row = _locate(satb, times)
    s = SonorityArray(pitch, attack, times.astype(float), duration, measure, beat, fermata,
                      letter if (letter >= 0).any() else None)

    chords: list[ChordSpec | None] | None = None
    labelled = None if plan is not None else _chords_from_bass_lyrics(walks[3].lyrics, times)
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
        keys = _score_keys(satb, s) or find_keys(s)
    ctx = Context(keys=keys, chords=chords, file=label, accent=_accents(beat, metres, metre_of_row))
    return ParsedScore(s, ctx, satb.score, satb, label)


def _chords_from_bass_lyrics(lyrics: list[tuple[float, str]], times: np.ndarray) -> list[ChordSpec] | None:
    """Chords from Roman numerals written as lyrics under the bass (``"G: V65"``, then ``"I6"``).

    partimento writes its plan this way, so checking its own output judges the notes against
    the chords it was asked to realize, exactly as the decoder did, rather than against
    chords guessed from the notes (which read passing tones as sevenths). Returns None
    unless every lyric under the bass is such a label and the first one names its key.
    """
    onsets: list[float] = []
    specs: list[ChordSpec] = []
    current: str | None = None
    for off, raw in sorted(lyrics, key=lambda t: t[0]):
        text = raw.strip()
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
        onsets.append(off)
    if not specs:
        return None
    idx = np.searchsorted(np.asarray(onsets), times + _EPS, side="right") - 1
    if (idx < 0).any():
        return None
    return [specs[i] for i in idx]


def _locate(satb: SATBScore, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[Metre], np.ndarray | None]:
    """Printed measure number and 1-based beat of each onset (bar lines of the first staff that has them),
    with the distinct metres and each onset's metre number in that list (None: one metre throughout)."""
    info = satb.measures
    if info is None:
        from music21 import meter

        ts = satb.score.recurse().getElementsByClass(meter.TimeSignature)
        metre = Metre(4, 4)
        if ts and isinstance(ts[0].numerator, int) and isinstance(ts[0].denominator, int) \
                and ts[0].numerator > 0 and ts[0].denominator > 0:
            metre = Metre(int(ts[0].numerator), int(ts[0].denominator))
        mb = [metre.measure_beat(float(t)) for t in times]
        accent_metre = Metre(int(ts[0].numerator), int(ts[0].denominator)) if ts else None
        return (np.asarray([m for m, _ in mb], np.int32), np.asarray([b for _, b in mb], float),
                [accent_metre], None)
    offs, nums, pads, metres = info.offsets, info.numbers, info.padding, info.metres
    k = _segment_of(offs, times)
    first = metres[0]
    if all(m is first for m in metres):  # one Metre object runs over every measure
        distinct, metre_of_row = [first], None
        beat_len = float(first.beat_quarters)
    else:
        distinct = list({id(m): m for m in metres}.values())
        number = {id(m): j for j, m in enumerate(distinct)}
        metre_of_row = np.asarray([number[id(m)] for m in metres], np.intp)[k]  # (N,) metre number
        beat_len = np.asarray([float(m.beat_quarters) for m in distinct])[metre_of_row]
    beats = 1.0 + (times - offs[k] + pads[k]) / beat_len
    return nums[k].astype(np.int32), beats.round(4), distinct, metre_of_row


def _accents(beat: np.ndarray, metres: list[Metre | None], metre_of_row: np.ndarray | None) -> np.ndarray:
    """Metric accent of each onset (:func:`.nct.accent_levels`) under the time signature of its measure."""
    from .nct import accent_levels

    if metre_of_row is None:  # one time signature throughout
        return accent_levels(beat, metres[0])
    out = np.zeros(len(beat), np.int8)
    for j, m in enumerate(metres):
        rows = metre_of_row == j
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
