"""The one surface rule the grammars leave to the sampler: a seventh in the bass falls by step.

A chord whose seventh is in the bass (``V2``, ``iiø2``, ``IV2``, ``V2/IV``, ``viiø2`` …)
must be followed by a chord whose bass lies a semitone or a tone below that note, or
holds it: ``V2`` goes to ``I6``, ``V2/IV`` to ``IV6``, ``iiø2`` to ``V6``, ``viiø2`` to
``I64``. A change of inversion over the same root (``V2`` to ``V7``) is free. This is
voice leading rather than harmonic syntax, so it is stated once here instead of in
every grammar: the sampler keeps it (no sampled plan asks the bass for a seventh it
cannot resolve, which the checker's ``seventh-resolution`` rule and the decoder's masks
would find unrealizable) and the parser checks it, so a grammar parses what it samples.

The facts the rule needs (root and bass relative to the tonic, seventh in the bass or
not) are music21's, read once per figure and mode. For the chords the shipped grammars
name they are precomputed in ``bass_line_figures.json`` (written by
``tools/gen_grammars.py``), so sampling does not import music21; other figures ask
music21 on first use.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

from .errors import PlanError
from .theory import key_info

__all__ = ["BassFacts", "bass_facts", "seventh_in_bass", "bass_step_ok", "first_unresolved_bass_seventh",
           "figure_table"]

TABLE_PATH = Path(__file__).with_name("bass_line_figures.json")
_MODES = ("major", "minor")
_REFERENCE = {"major": "C", "minor": "a"}  # keys the relative facts are read in


class BassFacts(NamedTuple):
    """Pitch classes of a chord in a key that the rule needs."""

    root: int
    bass: int
    seventh_in_bass: bool


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, tuple[int, int, bool]]]:
    try:
        data = json.loads(TABLE_PATH.read_text())
    except (OSError, ValueError):
        return {m: {} for m in _MODES}
    return {m: {f: (int(r), int(b), bool(s)) for f, (r, b, s) in data.get(m, {}).items()} for m in _MODES}


def _music21_facts(figure: str, mode: str) -> BassFacts | None:
    from .theory import chord_spec  # music21 behind it: only for figures the table lacks

    key = _REFERENCE[mode]
    try:
        spec = chord_spec(figure, key)
    except PlanError:
        return None
    tonic = key_info(key).tonic
    return BassFacts((spec.root - tonic) % 12, (spec.bass - tonic) % 12,
                     spec.seventh is not None and spec.seventh == spec.bass)


@lru_cache(maxsize=None)
def _relative_facts(figure: str, minor: bool) -> BassFacts | None:
    """Facts of a figure relative to its tonic (pc 0): transposition-invariant, one look-up per mode."""
    mode = _MODES[minor]
    known = _table()[mode].get(figure)
    return BassFacts(*known) if known is not None else _music21_facts(figure, mode)


def figure_table(figures: Iterable[str]) -> dict[str, dict[str, list]]:
    """The precomputed table for ``figures``, read from music21 (what ``tools/gen_grammars.py`` writes)."""
    out: dict[str, dict[str, list]] = {m: {} for m in _MODES}
    for fig in sorted(set(figures)):
        for mode in _MODES:
            facts = _music21_facts(fig, mode)
            if facts is not None:
                out[mode][fig] = [facts.root, facts.bass, facts.seventh_in_bass]
    return out


@lru_cache(maxsize=None)
def bass_facts(figure: str, key: str) -> BassFacts | None:
    """Root, bass and whether the seventh is in the bass, for a figure in a key (None if unknown)."""
    info = key_info(key)
    rel = _relative_facts(figure, info.is_minor)
    if rel is None:
        return None
    return BassFacts((rel.root + info.tonic) % 12, (rel.bass + info.tonic) % 12, rel.seventh_in_bass)


def bass_step_ok(figure: str, key: str, next_figure: str, next_key: str) -> bool:
    """Whether the chord after ``figure`` gives its bass seventh a step down (always True without one)."""
    a = bass_facts(figure, key)
    if a is None or not a.seventh_in_bass:
        return True
    b = bass_facts(next_figure, next_key)
    if b is None or b.root == a.root:
        return True
    return (a.bass - b.bass) % 12 in (0, 1, 2)


_SEVENTH_IN_BASS: dict[str, bool] = {}  # figure -> seventh in the bass (the same in every key)


def seventh_in_bass(figure: str) -> bool:
    """Whether the figure puts its seventh in the bass (``V2``, ``iiø2``; the same in every key)."""
    known = _SEVENTH_IN_BASS.get(figure)
    if known is None:
        facts = _relative_facts(figure, False)
        known = _SEVENTH_IN_BASS[figure] = facts is not None and facts.seventh_in_bass
    return known


def first_unresolved_bass_seventh(chords: Iterable[Sequence[str]]) -> int | None:
    """Index of the first chord whose bass seventh the next chord leaves unresolved, or None.

    ``chords`` holds ``(figure, key)`` pairs (or longer sequences starting with them, such
    as the sampler's events); most figures have no seventh in the bass, and cost one lookup.
    """
    prev = None
    for i, c in enumerate(chords):
        if prev is not None and not bass_step_ok(prev[0], prev[1], c[0], c[1]):
            return i - 1
        prev = c if seventh_in_bass(c[0]) else None
    return None
