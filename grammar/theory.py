"""Keys, scales and Roman numerals as small integer facts.

music21 is the authority on spelling and Roman-numeral figures; this module asks it
once per (figure, key) and caches the answer as a :class:`ChordSpec` of pitch classes,
so the checker, the plan and the decoder work on integers in their hot loops.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .errors import InputError, PlanError

__all__ = [
    "VOICES",
    "VOICE_RANGES",
    "KeyInfo",
    "ChordSpec",
    "normalize_key",
    "key_info",
    "chord_spec",
    "pc_name",
    "invert_figure",
    "INVERSION_FIGURES",
    "ChordIdentity",
    "chord_identity",
    "is_open_figure",
    "plain_figure",
    "REFERENCE_KEYS",
]

#: Voice order used everywhere: index 0..3.
VOICES: tuple[str, str, str, str] = ("soprano", "alto", "tenor", "bass")

#: Textbook ranges as inclusive MIDI numbers: soprano C4–G5, alto G3–D5, tenor C3–G4, bass E2–C4.
VOICE_RANGES: dict[str, tuple[int, int]] = {
    "soprano": (60, 79),
    "alto": (55, 74),
    "tenor": (48, 67),
    "bass": (40, 60),
}

_PC_NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")
_KEY_RE = re.compile(r"^([A-Ga-g])([#♯]{1,2}|[b♭\-]{1,2})?(?:\s*(major|minor|maj|min|M|m))?$")


def pc_name(pc: int) -> str:
    """A readable default spelling for a pitch class (for messages only)."""
    return _PC_NAMES[pc % 12]


@lru_cache(maxsize=256)
def normalize_key(name: str) -> str:
    """A key name as music21 writes it: ``C``, ``B-``, ``f#`` (lowercase = minor).

    Accepts ``Bb``, ``B-``, ``bb``, ``F# minor``, ``Eb major``. Raises
    :class:`InputError` with the accepted forms for anything else.
    """
    text = str(name).strip()
    m = _KEY_RE.match(text)
    if not m:
        raise InputError(
            f"unknown key {name!r}",
            expected=["C", "G", "F#", "B-", "Bb", "a", "c#", "e-", "'D minor'"],
            hint="Keys are named as music21 names them: uppercase for major, lowercase for minor.",
        )
    letter, accidental, mode = m.groups()
    acc = ""
    if accidental:
        acc = "#" * len(accidental) if accidental[0] in "#♯" else "-" * len(accidental)
    if mode in ("minor", "min", "m"):
        minor = True
    elif mode in ("major", "maj", "M"):
        minor = False
    else:
        minor = letter.islower()
    return (letter.lower() if minor else letter.upper()) + acc


@dataclass(frozen=True)
class KeyInfo:
    """A key reduced to integers: tonic pitch class, mode and scale."""

    name: str  # music21 spelling, lowercase tonic for minor
    tonic: int  # pitch class of the tonic, 0 = C
    mode: str  # "major" | "minor"
    scale: tuple[int, ...]  # diatonic pitch classes; minor includes raised 6 and 7 as well
    leading_tone: int  # pitch class a semitone below the tonic

    @property
    def is_minor(self) -> bool:
        return self.mode == "minor"


@lru_cache(maxsize=None)
def key_info(name: str) -> KeyInfo:
    """Integer facts of a key; accepts any form :func:`normalize_key` accepts."""
    canon = normalize_key(name)
    letter = canon[0].upper()
    base = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[letter]
    tonic = (base + canon.count("#") - canon.count("-")) % 12
    minor = canon[0].islower()
    steps = (0, 2, 3, 5, 7, 8, 9, 10, 11) if minor else (0, 2, 4, 5, 7, 9, 11)
    scale = tuple(sorted({(tonic + s) % 12 for s in steps}))
    return KeyInfo(canon, tonic, "minor" if minor else "major", scale, (tonic + 11) % 12)


@dataclass(frozen=True)
class ChordSpec:
    """A Roman numeral in a key, as pitch classes.

    ``members`` lists the chord's pitch classes root first (root, third, fifth,
    seventh, ...); ``bass`` is the pitch class the inversion puts in the bass.
    """

    figure: str  # as written, e.g. "V65", "viio7/V", "It+6"
    key: str  # local key, music21 spelling
    members: tuple[int, ...]  # pitch classes, root first
    root: int
    third: int | None
    fifth: int | None
    seventh: int | None
    bass: int
    inversion: int  # 0 root position, 1 first, 2 second, 3 third
    function: str  # "tonic" | "dominant" | "predominant" | "other"

    @property
    def pcs(self) -> frozenset[int]:
        return frozenset(self.members)

    @property
    def required(self) -> frozenset[int]:
        """Pitch classes a complete realization must sound: root, third and seventh (and the bass)."""
        return frozenset(pc for pc in (self.root, self.bass, self.third, self.seventh) if pc is not None)


def _function_of(figure: str, degree: int, secondary: bool) -> str:
    """Harmonic function by scale degree: applied chords and cadential 6/4 are dominants."""
    head = figure.lstrip("b#")
    if head.startswith(("It", "Ger", "Fr", "N")):
        return "predominant"
    if secondary or head.startswith("Cad"):
        return "dominant"
    return {1: "tonic", 3: "tonic", 6: "tonic", 5: "dominant", 7: "dominant", 2: "predominant", 4: "predominant"}.get(degree, "other")



@lru_cache(maxsize=4096)
def chord_spec(figure: str, key: str) -> ChordSpec:
    """Parse a Roman-numeral figure in a key with music21 (cached).

    Raises :class:`PlanError` naming the figure when music21 cannot read it.
    """
    from music21 import roman  # music21 only at the edge, once per (figure, key)

    canon = normalize_key(key)
    try:
        rn = roman.RomanNumeral(figure, canon)
        pitches = rn.pitches
        if not pitches:
            raise ValueError("no pitches")
        root = rn.root().pitchClass
        third = rn.third.pitchClass if rn.third is not None else None
        fifth = rn.fifth.pitchClass if rn.fifth is not None else None
        seventh = rn.seventh.pitchClass if rn.seventh is not None else None
        bass = rn.bass().pitchClass
        inversion = rn.inversion() if rn.inversion() is not None else 0
        degree = rn.scaleDegree
        secondary = rn.secondaryRomanNumeral is not None
    except Exception as exc:  # music21 raises many types for bad figures
        raise PlanError(
            f"unknown chord figure {figure!r} in key {canon}",
            hint="Figures are Roman numerals as music21 writes them, e.g. I, V65, viio7/V, It+6, N6.",
        ) from exc
    members: list[int] = []
    for pc in [root, third, fifth, seventh] + [p.pitchClass for p in pitches]:
        if pc is not None and pc not in members:
            members.append(pc)
    function = _function_of(figure, degree, secondary)
    return ChordSpec(figure, canon, tuple(members), root, third, fifth, seventh, bass, int(inversion), function)


#: Figured-bass suffixes of each inversion, for triads and for seventh chords.
INVERSION_FIGURES: dict[bool, tuple[str, ...]] = {False: ("", "6", "64"), True: ("7", "65", "43", "42")}
_INVERSION_SUFFIX = re.compile(r"(753|53|64|65|43|42|7|6|2)$")
_FIXED_SPECIALS = ("It", "Ger", "Fr", "N", "Cad")  # figures whose bass is part of the name


def invert_figure(figure: str, inversion: int) -> str:
    """The same chord with another bass: ``("V7", 1) -> "V65"``, ``("viio7/V", 2) -> "viio43/V"``.

    The chord (degree, quality, added tones, applied-to) is kept and only the figured-bass
    suffix changes; ``IVmaj7`` keeps its ``maj`` (``IVmaj65``). Augmented sixths, the
    Neapolitan and ``Cad64`` name their bass and are returned unchanged. Raises
    :class:`InputError` for an inversion the chord does not have (a triad has no third
    inversion).
    """
    head, slash, applied = figure.partition("/")
    if head.lstrip("b#").startswith(_FIXED_SPECIALS):
        return figure
    base = _INVERSION_SUFFIX.sub("", head)
    if re.search(r"\d*9\d*$", head):  # ninth chords stay as written
        return figure
    seventh = bool(re.search(r"(7|753|65|43|42|2)$", head))
    if base.endswith("maj"):
        seventh = True
    names = INVERSION_FIGURES[seventh]
    if not 0 <= inversion < len(names):
        raise InputError(f"{figure} has no inversion {inversion}", expected=[str(i) for i in range(len(names))])
    return base + names[inversion] + slash + applied


# ---------------------------------------------------------------------------- chord identity
#: Keys in which figures are read when only the mode matters (grammar terminals, phrase tokens).
REFERENCE_KEYS: dict[str, str] = {"major": "C", "minor": "a"}
_BRACKETS = re.compile(r"\[[^\]]*\]")
_OMISSIONS = re.compile(r"\[no\d+\]")
_FIXING_SUFFIX = re.compile(r"(53|63|64|65|643|43|42|2|6)$")  # figured bass that names the bass note


@dataclass(frozen=True)
class ChordIdentity:
    """What makes two Roman-numeral figures the same chord, whatever their spelling.

    Read through music21 in a reference key of the mode (C major, A minor): the chord's
    spelled pitch names (so ``IVmaj7`` and ``IV7`` in major are one chord, and
    ``viiø7``, ``vii/o7`` too), the key it is applied to (``V/V`` and ``V/v`` are one chord,
    ``V/V`` and ``II`` are not: the tonicization is part of the chord's identity) and the
    bass note (its inversion). Omitted tones (``V7[no5]``) do not change the chord.
    """

    applied: str | None  # tonic of the key the chord is applied to (``"G"`` for V/V in C), None if diatonic
    pitches: frozenset[str]  # spelled pitch names, no octave
    bass: str  # spelled name of the bass note

    @property
    def chord(self) -> tuple[str | None, frozenset[str]]:
        """The chord without its inversion: what an open terminal matches."""
        return self.applied, self.pitches


@lru_cache(maxsize=None)
def chord_identity(figure: str, mode: str = "major") -> ChordIdentity | None:
    """The :class:`ChordIdentity` of a figure in a mode (``"major"``/``"minor"``), None if music21 cannot read it."""
    from music21 import roman

    text = _OMISSIONS.sub("", figure.strip())
    if not text or text.startswith("@"):
        return None
    try:
        rn = roman.RomanNumeral(text, REFERENCE_KEYS[mode])
        pitches = rn.pitches
        if not pitches:
            return None
        applied_key = rn.secondaryRomanNumeralKey
        applied = applied_key.tonic.name.upper() if applied_key is not None else None
        return ChordIdentity(applied, frozenset(p.name for p in pitches), rn.bass().name)
    except Exception:  # music21 raises many types for figures it cannot read
        return None


def is_open_figure(figure: str) -> bool:
    """Whether a figure names the chord without its bass: ``V``, ``V7``, ``viio7/V``, ``IVmaj7`` (open);
    ``V6``, ``V65``, ``V53``, ``V753``, ``I64`` name the bass (fixed), as do ``It6``, ``Ger65``,
    ``Fr43`` and ``Cad64``, whose names include it."""
    head = figure.split("/")[0]
    if head.lstrip("b#").startswith(_FIXED_SPECIALS):
        return False
    return _FIXING_SUFFIX.search(_BRACKETS.sub("", head)) is None


def plain_figure(figure: str) -> str:
    """A root-position figure as music21 usually writes it: ``V53 -> V``, ``V753 -> V7``, ``V/V`` unchanged."""
    head, slash, applied = figure.partition("/")
    if head.endswith("753"):
        head = head[:-3] + "7"
    elif head.endswith("53") and not head.endswith("753"):
        head = head[:-2]
    return head + slash + applied
