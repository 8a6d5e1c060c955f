"""Chords guessed from the notes, and the harmonic facts rules ask of any chord.

When a score comes without a plan (a Bach chorale, a student's exercise) the rules still
need to know which chord sounds at each sonority: which note is the leading tone of a
dominant, which is a chord seventh, which is a non-chord tone. :func:`infer_chords`
names one chord per sonority from its pitch classes alone (a cached table lookup per
(pitch-class set, bass, key)), preferring the template that covers most notes, then
the one with fewest missing members, then root in the bass. Notes it leaves out are
treated as non-chord tones. It is deliberately per sonority, so that the chord of one
row never depends on the notes of another (the decoder's masks rely on that).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from ..records import record_maker
from ..theory import ChordSpec, KeyInfo, key_info, pc_name
from .base import REST, Context, SonorityArray, key_numbers

__all__ = [
    "infer_chord",
    "infer_chords",
    "chords_for",
    "leading_tone_of",
    "explains_chromatic",
    "same_harmony",
    "augmented_sixth",
    "is_augmented_sixth_figure",
    "tonic_letter",
]

# (suffix, intervals above the root, root first); sevenths without fifth are common in four parts
_TEMPLATES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("", (0, 4, 7)),
    ("m", (0, 3, 7)),
    ("o", (0, 3, 6)),
    ("+", (0, 4, 8)),
    ("7", (0, 4, 7, 10)),
    ("m7", (0, 3, 7, 10)),
    ("ø7", (0, 3, 6, 10)),
    ("o7", (0, 3, 6, 9)),
    ("7", (0, 4, 10)),
)
_DIM_FAMILY = ("o", "ø7", "o7")


def _degree_function(root: int, quality: str, members: tuple[int, ...], key: KeyInfo) -> str:
    """Function of an inferred chord in ``key``; applied dominants count as dominants."""
    deg = (root - key.tonic) % 12
    major_like = quality in ("", "7")
    dim_like = quality in _DIM_FAMILY
    chromatic = any(m not in key.scale for m in members)
    if (deg == 7 and major_like) or (deg == 11 and dim_like):
        return "dominant"
    # applied dominants: a chromatic major chord (or any major-minor seventh chord) a fifth
    # above, or a chromatic diminished chord a semitone below, a diatonic degree other than the tonic
    target_v, target_vii = (root + 5) % 12, (root + 1) % 12
    if major_like and (chromatic or quality == "7") and target_v in key.scale and target_v != key.tonic:
        return "dominant"
    if dim_like and chromatic and target_vii in key.scale and target_vii != key.tonic:
        return "dominant"
    if deg in (0, 3, 4, 8, 9) and not dim_like:
        return "tonic"
    if deg in (1, 2, 5):
        return "predominant"
    return "other"


# Every (root, template) candidate, in the order ties are broken by (root 0..11, then _TEMPLATES' order):
_CAND_ROOT = np.repeat(np.arange(12), len(_TEMPLATES))  # (C,) root pitch class
_CAND_TEMPLATE = np.tile(np.arange(len(_TEMPLATES)), 12)  # (C,) index into _TEMPLATES
_CAND_BITS = np.asarray([sum(1 << ((r + iv) % 12) for iv in set(_TEMPLATES[k][1]))
                         for r, k in zip(_CAND_ROOT, _CAND_TEMPLATE)], np.int64)  # (C,) its pitch classes as bits
_CAND_SIZE = np.asarray([len(_TEMPLATES[k][1]) for k in _CAND_TEMPLATE], np.int64)  # (C,) members
_CAND_DIM = np.asarray([_TEMPLATES[k][0] in _DIM_FAMILY for k in _CAND_TEMPLATE])  # (C,) diminished family
_POPCOUNT = np.asarray([bin(m).count("1") for m in range(4096)], np.int64)  # bits set in a 12-bit mask


# The ranking below, one integer per candidate, split by what each part depends on (exact integer algebra of
# ((covered * 9 - size + 4) * 2 + on_lt) * 32 + tail * 8 + 8 - size, tail = 2 * root_in_bass + root_in_scale):
_COVERED_TERM = _POPCOUNT * 576  # (4096,) by the members covered
_SIZE_TERM = 264 - 65 * _CAND_SIZE  # (C,)
_LT_TERM = 32 * (_CAND_DIM[None, :] & (_CAND_ROOT[None, :] == np.arange(12)[:, None]))  # (12, C) by leading tone
_BASS_TERM = 16 * (_CAND_ROOT[None, :] == np.arange(12)[:, None])  # (12, C) by bass pitch class
_NO_ROOT = 1 << 20  # subtracted where the root does not sound: below every candidate whose root sounds


@lru_cache(maxsize=256)
def _key_term(leading_tone: int, scale: tuple[int, ...]) -> np.ndarray:
    """(C,) the key's part of the ranking: a diminished chord on its leading tone, the root in its scale."""
    return _LT_TERM[leading_tone] + 8 * ((_scale_bits(scale) >> _CAND_ROOT) & 1)


def _best_candidates(pc_masks: np.ndarray, bass_pcs: np.ndarray, keys: Sequence[KeyInfo]) -> np.ndarray:
    """(N,) index of the best candidate (root, template) for each row's pitch classes, bass and key.

    Candidates are ranked by, in turn: members covered, fewest members missing, a
    diminished chord on the key's leading tone, root in the bass, root in the key's
    scale, fewest members; the root must sound; the first best in candidate order wins.
    The ranking is one integer per candidate (each criterion bounded, so the integer
    orders as the tuple of criteria does), all rows at once, summed from tables of its
    parts (what depends on the notes, on the bass, on the key).
    """
    return _ranked(pc_masks, bass_pcs, *key_numbers(list(keys)))


def _ranked(pc_masks: np.ndarray, bass_pcs: np.ndarray, distinct: list[KeyInfo], rows: np.ndarray) -> np.ndarray:
    """:func:`_best_candidates` with the keys given as the distinct keys and (N,) each row's number in them."""
    masks = np.asarray(pc_masks, np.int64)[:, None]  # (N, 1)
    key_terms = np.stack([_key_term(k.leading_tone, k.scale) for k in distinct])  # (K, C)
    score = _COVERED_TERM[masks & _CAND_BITS] + _SIZE_TERM  # (N, C)
    score += key_terms[rows]
    score += _BASS_TERM[np.asarray(bass_pcs, np.intp)]
    score -= _NO_ROOT * (1 - ((masks >> _CAND_ROOT) & 1))  # the root must sound
    return np.argmax(score, axis=1)


@lru_cache(maxsize=64)
def _scale_bits(scale: tuple[int, ...]) -> int:
    return sum(1 << pc for pc in scale)


def _candidate_parts(candidate: int) -> tuple:
    """(figure, suffix, members, root, third, fifth, seventh) of a candidate (root, template)."""
    root, template = divmod(candidate, len(_TEMPLATES))  # the order of _CAND_ROOT and _CAND_TEMPLATE
    suffix, ivs = _TEMPLATES[template]
    members = tuple((root + iv) % 12 for iv in ivs)
    fifth = next(((root + iv) % 12 for iv in ivs if iv in (6, 7, 8)), None)
    seventh = next(((root + iv) % 12 for iv in ivs if iv in (9, 10)), None)
    return pc_name(root) + suffix, suffix, members, root, members[1], fifth, seventh


#: What a candidate's chord is before a bass and a key are known, one row per candidate: a chord
#: met for the first time (a new pitch-class set, bass or key) is then a lookup and a ChordSpec.
_PARTS = tuple(_candidate_parts(c) for c in range(12 * len(_TEMPLATES)))


@lru_cache(maxsize=4096)
def _function_of(candidate: int, key_name: str) -> str:
    key = key_info(key_name)
    root, template = divmod(candidate, len(_TEMPLATES))
    return _relative_function((root - key.tonic) % 12 * len(_TEMPLATES) + template, key.mode)


@lru_cache(maxsize=None)
def _relative_function(candidate: int, mode: str) -> str:
    """:func:`_degree_function` of a candidate counted from the tonic, in C or c: the function reads only
    intervals above the tonic, so the 24 keys share 2 × 108 answers (a first check meets a new key often)."""
    _, suffix, members, root, *_ = _PARTS[candidate]
    return _degree_function(root, suffix, members, key_info("C" if mode == "major" else "c"))


@lru_cache(maxsize=65536)
def _chord_of(candidate: int, bass_pc: int, key_name: str) -> ChordSpec:
    """The ChordSpec of a candidate (root, template) with ``bass_pc`` lowest, in ``key_name``."""
    figure, _, members, root, third, fifth, seventh = _PARTS[candidate]
    bass = bass_pc if bass_pc in members else root
    inversion = 1 if bass == third else 2 if bass == fifth else 3 if bass == seventh else 0
    return _chord_spec(figure, key_info(key_name).name, members, root, third, fifth, seventh, bass, inversion,
                       _function_of(candidate, key_name))


_chord_spec = record_maker(ChordSpec)  # ChordSpec(...) without its frozen __init__: see grammar.records


def infer_chord(pc_mask: int, bass_pc: int, key_name: str) -> ChordSpec | None:
    """The chord best explaining a set of pitch classes (bit ``pc`` of ``pc_mask``), or None if empty."""
    if pc_mask == 0:
        return None
    best = _best_candidates(np.asarray([pc_mask]), np.asarray([bass_pc]), [key_info(key_name)])
    return _chord_of(int(best[0]), bass_pc, key_name)


def infer_chords(sonorities: SonorityArray, keys: list[KeyInfo]) -> list[ChordSpec | None]:
    """One inferred chord per sonority (None where nothing sounds)."""
    pitch = sonorities.pitch
    if len(pitch) == 0:
        return []
    sounding = pitch != REST
    bits = np.where(sounding, 1 << (np.where(sounding, pitch, 0) % 12), 0)
    masks = np.bitwise_or.reduce(bits, axis=1)
    low = np.where(sounding, pitch, 999).min(axis=1)
    bass = np.where(low != 999, low % 12, 0)
    distinct, key_of_row = key_numbers(keys)
    key_id = np.asarray([_key_id(k) for k in distinct], np.int64)[key_of_row]  # (N,)
    codes = (masks + 4096 * (bass + 12 * key_id)).tolist()  # (pc set, bass, key) per row as one int
    todo, seen = [], set()  # rows never seen before (a pitch class sounding), each once
    for i, code in enumerate(codes):
        if code & 0xFFF and code not in _ROW_CHORDS and code not in seen:
            seen.add(code)
            todo.append(i)
    if todo:  # rows never seen before: ranked all at once
        if len(_ROW_CHORDS) + len(todo) > _ROW_CHORDS_MAX:
            _ROW_CHORDS.clear()
        best = _ranked(masks[todo], bass[todo], distinct, key_of_row[todo]).tolist()
        for i, c in zip(todo, best):
            _ROW_CHORDS[codes[i]] = _chord_of(c, int(bass[i]), keys[i].name)
    chord_of_row = _ROW_CHORDS.get  # rows where nothing sounds were never stored: None
    return [chord_of_row(code) for code in codes]


#: The chord of each row seen so far by its code, pitch-class set + 4096 · (bass pitch class + 12 ·
#: key number): a row's chord depends on nothing else, and chorales repeat the same few sonorities.
_ROW_CHORDS: dict[int, ChordSpec] = {}
_ROW_CHORDS_MAX = 1 << 16
_KEY_IDS: dict[tuple, int] = {}


def _key_id(key: KeyInfo) -> int:
    """A small number per key, by everything :func:`_best_candidates` and :func:`_chord_of` read of it."""
    return _KEY_IDS.setdefault((key.name, key.tonic, key.mode, key.scale, key.leading_tone), len(_KEY_IDS))


def chords_for(sonorities: SonorityArray, ctx: Context) -> tuple[list[ChordSpec | None], bool]:
    """(chords per sonority, inferred?): the plan's chords, else chords guessed from the notes."""
    if ctx.chords is not None:
        return list(ctx.chords), ctx.chords_inferred
    return infer_chords(sonorities, ctx.keys), True


def leading_tone_of(chord: ChordSpec | None, key: KeyInfo) -> int | None:
    """Pitch class of the leading tone a dominant-function chord contains (None otherwise).

    V-type chords (major third above the root) lead with their third, vii-type
    (diminished) chords with their root; a cadential 6/4 points at the key's leading tone.
    """
    if chord is None or chord.function != "dominant":
        return None
    if chord.figure.startswith("Cad"):
        return key.leading_tone
    if chord.third is None:
        return None
    q3 = (chord.third - chord.root) % 12
    if q3 == 4:
        return chord.third
    if q3 == 3 and chord.fifth is not None and (chord.fifth - chord.root) % 12 == 6:
        return chord.root
    return None


def same_harmony(a: ChordSpec | None, b: ChordSpec | None) -> bool:
    """Two chords are the same harmony when they share a root (inversions and added sevenths alike)."""
    return a is not None and b is not None and a.root == b.root


def explains_chromatic(chord: ChordSpec | None, key: KeyInfo, inferred: bool) -> bool:
    """Does this chord license its own notes that lie outside ``key``?

    A plan's chord always does (the plan names it). An inferred chord does when it is an
    applied dominant, a chord borrowed from the parallel mode, a Neapolitan or an
    augmented sixth.
    """
    if chord is None:
        return False
    if not inferred:
        return True
    if chord.function == "dominant":  # V, viio and applied dominants
        return True
    t = key.tonic
    parallel = key_info(key.name.upper() if key.is_minor else key.name.lower()).scale
    if all(pc in parallel for pc in chord.members):  # mixture
        return True
    if chord.root == (t + 1) % 12 and chord.third == (t + 5) % 12:  # Neapolitan
        return True
    pcs = set(chord.members)
    if (t + 8) % 12 in pcs and (t + 6) % 12 in pcs:  # augmented sixth (It, Fr, Ger)
        return True
    return False


_AUG6_HEADS = ("It", "Ger", "Fr")


def is_augmented_sixth_figure(figure: str) -> bool:
    """``It+6``, ``It6``, ``Ger65``, ``Fr43``, ``Ger+6/V`` ...: an augmented-sixth chord by name."""
    return figure.lstrip("b#").startswith(_AUG6_HEADS)


@lru_cache(maxsize=1024)
def _named_augmented_sixth(figure: str, key_name: str) -> tuple[int, int] | None:
    """(lower, upper) pitch classes of the augmented sixth a named chord spells (music21, cached)."""
    from .spelling import chord_spelling

    spelled = chord_spelling(figure, key_name)
    for x, (lx, _) in spelled.items():
        for y, (ly, _) in spelled.items():
            if (y - x) % 12 == 10 and (ly - lx) % 7 == 5:  # ten semitones spelled as a sixth
                return x, y
    return None


def augmented_sixth(chord: ChordSpec | None, key: KeyInfo, inferred: bool) -> tuple[int, int] | None:
    """(lower, upper) pitch classes of an augmented-sixth chord's augmented sixth, or None.

    Those two notes, not a seventh, are its tendency tones: the lower (♭6 of the key it
    leads to) falls a semitone and the upper (♯4) rises one, to the octave on the
    dominant. A plan names the chord (``It+6``, ``Ger65``, ``Fr43``, applied ones too);
    a chord guessed from the notes is one when it is built on the key's ♭6 and holds its
    ♯4 (sounding like a dominant seventh on ♭6): whether that ♯4 is written as such (F♯
    in C, not G♭) is the spelling's to decide, note by note (see the tendency rules).
    """
    if chord is None:
        return None
    if not inferred:
        return _named_augmented_sixth(chord.figure, chord.key) if is_augmented_sixth_figure(chord.figure) else None
    lo, up = (key.tonic + 8) % 12, (key.tonic + 6) % 12
    if chord.root == lo and up in chord.members:
        return lo, up
    return None


def tonic_letter(key: KeyInfo) -> int:
    """Letter index (0=C..6=B) of the key's tonic."""
    return "CDEFGAB".index(key.name[0].upper())
