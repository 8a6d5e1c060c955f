"""Spelling: which letter a note is written with, so that intervals are judged as written.

The rules work on MIDI numbers, which do not tell an augmented second (E♯–D) from a
minor third (F–D). A note is judged as written:

* a note the score writes (MusicXML) keeps its letter (``SonorityArray.letter``);
* any other note (a decoding prefix, a MIDI file, a grid) is spelled exactly as
  partimento writes it (``hybrid/result.py`` calls :func:`spelled_name`): a member of
  the plan chord sounding where the note starts takes the chord's spelling (its Roman
  numeral in its key: V7/vi in A gives E♯, It+6 in C gives A♭ and F♯), any other note
  the local key's (diatonic notes by degree, raised 6 and 7 in minor, the usual
  alteration for the rest, see ``_CHROMATIC``). Chords guessed from the notes spell
  nothing: there the key decides.

Both faces of a rule (``check`` on a score, ``allowed`` while decoding) call the functions
here, so they spell alike. A note's spelling is its diatonic position (7 per octave,
``7 * octave + letter``); an interval's quality follows from positions and semitones.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..theory import KeyInfo, key_info

__all__ = ["LETTERS", "spelling_table", "note_name", "spelled_note_name", "augmented_table", "interval_name",
           "chord_spelling", "chord_table", "spelled_name", "positions_over", "spell_source", "spelled_positions",
           "cell_position", "written_position", "is_augmented", "position_name", "interval_name_between"]

LETTERS = "CDEFGAB"  #: letter index 0..6 -> letter name
_LETTER_PC = (0, 2, 4, 5, 7, 9, 11)
# semitones above the tonic -> (degree 0..6, alteration) for notes outside the scale
_CHROMATIC = {
    "major": {1: (0, 1), 3: (2, -1), 6: (3, 1), 8: (5, -1), 10: (6, -1)},
    "minor": {1: (1, -1), 4: (2, 1), 6: (3, 1)},
}
_MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
_MINOR_STEPS = (0, 2, 3, 5, 7, 8, 10)


@lru_cache(maxsize=None)
def spelling_table(key_name: str) -> tuple[tuple[int, int], ...]:
    """For each pitch class 0..11: (letter index 0=C..6=B, alteration in semitones)."""
    key = key_info(key_name)
    tonic_letter = LETTERS.index(key.name[0].upper())
    steps = _MINOR_STEPS if key.is_minor else _MAJOR_STEPS
    table: dict[int, tuple[int, int]] = {}
    for deg, st in enumerate(steps):
        table[st] = (deg, 0)
    if key.is_minor:
        table[9] = (5, 1)  # raised 6
        table[11] = (6, 1)  # raised 7
    table.update(_CHROMATIC[key.mode])
    out = []
    for pc in range(12):
        deg, alt = table[(pc - key.tonic) % 12]
        letter = (tonic_letter + deg) % 7
        # the alteration that makes this letter sound pitch class pc
        a = (pc - _LETTER_PC[letter] + 6) % 12 - 6
        out.append((letter, a))
    return tuple(out)


def note_name(midi: int, key: KeyInfo | str) -> str:
    """``F#4``-style name of a MIDI number as spelled in ``key``."""
    if midi < 0:
        return "rest"
    letter, alt = spelling_table(key if isinstance(key, str) else key.name)[midi % 12]
    return spelled_note_name(midi, letter, alt)


def spelled_note_name(midi: int, letter: int, alt: int) -> str:
    """``D#4``-style name of ``midi`` written as ``letter`` (0=C..6=B) with ``alt`` semitones (B#3 is MIDI 60)."""
    octave = (midi - alt) // 12 - 1
    return LETTERS[letter] + ("#" * alt if alt > 0 else "-" * -alt) + str(octave)


@lru_cache(maxsize=None)
def augmented_table(key_name: str, source: str | None = None, target: str | None = None) -> np.ndarray:
    """bool[128, 128]: moving from pitch a to pitch b is an augmented interval (unisons excepted).

    ``a`` is spelled over the chord figure ``source``, ``b`` over ``target`` (None: the key's spelling).
    """
    pa, pb = positions_over(source, key_name), positions_over(target, key_name)
    generic = pb[None, :] - pa[:, None]
    semis = np.arange(128)[None, :] - np.arange(128)[:, None]
    aug = is_augmented(semis, generic)
    aug.setflags(write=False)
    return aug


_NAMES = ("unison", "second", "third", "fourth", "fifth", "sixth", "seventh")


def interval_name(a: int, b: int, key_name: str) -> str:
    """Readable name of the melodic interval a -> b spelled in the key, e.g. 'augmented second'."""
    pos = positions_over(None, key_name)
    return interval_name_between(a, int(pos[a]), b, int(pos[b]))


# --------------------------------------------------------------------------- chord spelling
@lru_cache(maxsize=4096)
def chord_spelling(figure: str, key_name: str) -> dict[int, tuple[int, int]]:
    """pitch class -> (letter 0=C..6=B, alteration) for every member of ``figure`` in ``key_name`` (music21, cached)."""
    from music21 import roman

    out: dict[int, tuple[int, int]] = {}
    for p in roman.RomanNumeral(figure, key_name).pitches:
        out.setdefault(p.pitchClass, (LETTERS.index(p.step), int(p.alter)))
    return out


@lru_cache(maxsize=4096)
def chord_table(figure: str | None, key_name: str) -> tuple[tuple[int, int], ...]:
    """(letter, alteration) of every pitch class 0..11 sounding over ``figure`` (None: no chord) in ``key_name``."""
    base = spelling_table(key_name)
    if not figure:
        return base
    from music21.exceptions21 import Music21Exception

    try:
        members = chord_spelling(figure, key_name)
    except (Music21Exception, ValueError):  # not a Roman numeral music21 reads (a chord named from its notes, "F#m7"): the key spells
        return base
    return tuple(members.get(pc, base[pc]) for pc in range(12))


def spelled_name(midi: int, figure: str | None, key_name: str) -> str:
    """``D#4``-style name of ``midi`` struck over ``figure`` in ``key_name``: how partimento writes it."""
    letter, alt = chord_table(figure, key_name)[midi % 12]
    return spelled_note_name(midi, letter, alt)


@lru_cache(maxsize=4096)
def positions_over(figure: str | None, key_name: str) -> np.ndarray:
    """(128,) read-only diatonic position of every MIDI number struck over ``figure`` in ``key_name``."""
    table = chord_table(figure, key_name)
    m = np.arange(128)
    letter = np.asarray([t[0] for t in table])[m % 12]
    alt = np.asarray([t[1] for t in table])[m % 12]
    pos = 7 * ((m - alt) // 12) + letter
    pos.flags.writeable = False
    return pos


def spell_source(chord, key, inferred: bool) -> tuple[str | None, str]:
    """(figure, key name) that spells notes struck over ``chord``: a plan chord's own, else the key's."""
    if chord is None or inferred:
        return None, key.name
    return chord.figure, chord.key


def written_position(midi, letter):
    """Diatonic position of ``midi`` written with ``letter`` (0=C..6=B); works on ints and arrays."""
    lpc = np.asarray(_LETTER_PC)[letter]
    alt = (midi - lpc + 6) % 12 - 6
    return 7 * ((midi - alt) // 12) + letter


def _inferred(ctx) -> bool:
    return ctx.chords is None or ctx.chords_inferred


def cell_position(s, ctx, i: int, v: int) -> int:
    """Diatonic position of the note voice ``v`` sounds at row ``i`` (as written, else as partimento writes it).

    An unwritten note is spelled over the chord at the row where it was struck (a held
    note keeps the spelling of its attack), as the score writer does.
    """
    p = s.pitch
    x = int(p[i, v])
    if s.letter is not None and s.letter[i, v] >= 0:
        return int(written_position(x, int(s.letter[i, v])))
    r = i
    while r > 0 and not s.attack[r, v] and p[r - 1, v] == x:
        r -= 1
    figure, key_name = spell_source(ctx.chord(r) if ctx.chords is not None else None, ctx.keys[r], _inferred(ctx))
    return int(positions_over(figure, key_name)[x])


def spelled_positions(s, ctx) -> np.ndarray:
    """(N, 4) diatonic position of every note (:func:`cell_position` for the whole array at once; rests -1)."""
    n = len(s)
    p = s.pitch.astype(np.int64)
    if n == 0:
        return np.zeros((0, 4), np.int64)
    sounding = p >= 0
    written = (s.letter >= 0) & sounding if s.letter is not None else np.zeros(p.shape, bool)
    if (written == sounding).all():  # every note as written (a score file): no note to spell
        pos = np.full(p.shape, -1, np.int64)
    else:
        new = s.attack.copy()
        new[0] = True
        new[1:] |= p[1:] != p[:-1]
        start = np.maximum.accumulate(np.where(new, np.arange(n)[:, None], 0), axis=0)  # (N, 4) row the note was struck
        inferred = _inferred(ctx)
        sources: dict[tuple[str | None, str], int] = {}
        row_table = np.empty(n, np.int64)
        chords = ctx.chords
        for i in range(n):
            src = spell_source(chords[i] if chords is not None else None, ctx.keys[i], inferred)
            row_table[i] = sources.setdefault(src, len(sources))
        tables = np.stack([positions_over(f, k) for f, k in sources])  # (U, 128)
        pos = tables[row_table[start], np.where(sounding, p, 0)]
    if written.any():
        pos[written] = written_position(p[written], s.letter[written].astype(np.int64))
    pos[~sounding] = -1
    return pos


_MAJOR_OR_PERFECT = np.asarray(_LETTER_PC)  # semitones of the major/perfect interval of each generic size 0..6


def is_augmented(semis, generic):
    """An augmented melodic interval (unisons excepted) from semitones and diatonic steps (ints or arrays)."""
    sign = np.where(generic < 0, -1, 1)
    g, st = generic * sign, semis * sign
    base = _MAJOR_OR_PERFECT[g % 7] + 12 * (g // 7)
    return (st - base >= 1) & (g % 7 != 0)


def position_name(midi: int, pos: int) -> str:
    """``E#4``-style name of ``midi`` written at diatonic position ``pos``."""
    letter = pos % 7
    alt = midi - (12 * (pos // 7) + _LETTER_PC[letter])
    return spelled_note_name(midi, letter, alt)


def interval_name_between(a: int, pa: int, b: int, pb: int) -> str:
    """Readable name of the melodic interval from ``a`` (at position ``pa``) to ``b`` (at ``pb``)."""
    g = abs(pb - pa)
    st = abs(b - a)
    d = st - (_LETTER_PC[g % 7] + 12 * (g // 7))
    if g % 7 in (0, 3, 4):
        q = {0: "perfect", 1: "augmented", -1: "diminished"}.get(d, "altered")
    else:
        q = {0: "major", -1: "minor", 1: "augmented", -2: "diminished"}.get(d, "altered")
    name = "octave" if g == 7 else _NAMES[g % 7] if g < 7 else "compound " + _NAMES[g % 7]
    return f"{q} {name}"
