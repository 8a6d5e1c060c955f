"""Spelling MIDI numbers in a key, for messages and for interval qualities.

The rules work on MIDI numbers, which do not tell an augmented second from a minor
third. Both faces of the checker (a parsed score and a decoding prefix) therefore spell
every pitch class the same way, from the local key: diatonic notes by their degree,
chromatic ones by the usual alteration (raised 1, 4, 5 in major read as #1, #4, b6 ...
see ``_CHROMATIC``). A table of all 128x128 melodic intervals per key is cached, so
a rule's mask is one row lookup.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..theory import KeyInfo, key_info

__all__ = ["LETTERS", "spelling_table", "note_name", "spelled_note_name", "augmented_table", "interval_name"]

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
def _diatonic_positions(key_name: str) -> np.ndarray:
    """Diatonic step number (7 per octave) of every MIDI number as spelled in the key."""
    table = spelling_table(key_name)
    m = np.arange(128)
    letter = np.asarray([table[pc][0] for pc in range(12)])[m % 12]
    alt = np.asarray([table[pc][1] for pc in range(12)])[m % 12]
    return 7 * ((m - alt) // 12) + letter


@lru_cache(maxsize=None)
def augmented_table(key_name: str) -> np.ndarray:
    """bool[128, 128]: moving from pitch a to pitch b is an augmented interval (unisons excepted)."""
    pos = _diatonic_positions(key_name)
    generic = pos[None, :] - pos[:, None]
    semis = np.arange(128)[None, :] - np.arange(128)[:, None]
    sign = np.where(generic < 0, -1, 1)
    g, st = generic * sign, semis * sign
    base = np.asarray(_LETTER_PC)[g % 7] + 12 * (g // 7)
    aug = (st - base >= 1) & (g % 7 != 0)
    aug.setflags(write=False)
    return aug


_NAMES = ("unison", "second", "third", "fourth", "fifth", "sixth", "seventh")


def interval_name(a: int, b: int, key_name: str) -> str:
    """Readable name of the melodic interval a -> b, e.g. 'augmented second'."""
    pos = _diatonic_positions(key_name)
    g = abs(int(pos[b] - pos[a]))
    st = abs(b - a)
    base = _LETTER_PC[g % 7] + 12 * (g // 7)
    d = st - base
    perfect = g % 7 in (0, 3, 4)
    if perfect:
        q = {0: "perfect", 1: "augmented", -1: "diminished"}.get(d, "altered")
    else:
        q = {0: "major", -1: "minor", 1: "augmented", -2: "diminished"}.get(d, "altered")
    name = "octave" if g == 7 else _NAMES[g % 7] if g < 7 else "compound " + _NAMES[g % 7]
    return f"{q} {name}"
