"""music21's own ``figuredBass.checker`` run over a score, for comparison with our rules.

music21 checks five rules on every pair of consecutive "harmonies" (its
``extractHarmonies``: every onset in any part, like our sonorities) and returns part
numbers. This adapter names them with our rule ids, voices and offsets so that the
benchmark and the tests can put both side by side.
"""
from __future__ import annotations

from typing import Any

from ..theory import VOICES

__all__ = ["FIGURED_BASS_RULES", "figured_bass_violations"]

#: music21 function name -> our rule id
FIGURED_BASS_RULES: dict[str, str] = {
    "parallelFifths": "parallel-fifths",
    "parallelOctaves": "parallel-octaves",
    "hiddenFifth": "hidden-fifths",
    "hiddenOctave": "hidden-octaves",
    "voiceCrossing": "voice-crossing",
}


def figured_bass_violations(score: Any) -> list[tuple[str, float, tuple[str, ...]]]:
    """(rule id, offset of the second harmony, voices) for each violation music21 finds.

    ``score`` must hold exactly the four voice parts, soprano first.
    """
    from music21.figuredBass import checker

    harmonies = sorted(checker.extractHarmonies(score).items())
    out: list[tuple[str, float, tuple[str, ...]]] = []
    if not harmonies:
        return out
    pitches = [[checker.generalNoteToPitch(n) for n in notes] for _, notes in harmonies]
    offsets = [float(offs[0]) for offs, _ in harmonies]
    for i, possib in enumerate(pitches):
        for parts in checker.voiceCrossing(possib):
            out.append(("voice-crossing", offsets[i], tuple(VOICES[p - 1] for p in parts)))
        if i == 0:
            continue
        for fname in ("parallelFifths", "parallelOctaves", "hiddenFifth", "hiddenOctave"):
            for parts in getattr(checker, fname)(pitches[i - 1], possib):
                out.append((FIGURED_BASS_RULES[fname], offsets[i], tuple(VOICES[p - 1] for p in parts)))
    return out
