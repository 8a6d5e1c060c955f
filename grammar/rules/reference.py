"""music21's own ``figuredBass.checker`` run over a score, for comparison with our rules.

music21 checks five rules on every pair of consecutive "harmonies" (its
``extractHarmonies``: every onset in any part, like our sonorities) and returns part
numbers. This adapter names them with our rule ids, voices and offsets so that the
benchmark and the tests can put both side by side.
"""
from __future__ import annotations

from typing import Any

from ..theory import VOICES

__all__ = ["FIGURED_BASS_RULES", "figured_bass_violations", "four_voice_score"]

#: music21 function name -> our rule id
FIGURED_BASS_RULES: dict[str, str] = {
    "parallelFifths": "parallel-fifths",
    "parallelOctaves": "parallel-octaves",
    "hiddenFifth": "hidden-fifths",
    "hiddenOctave": "hidden-octaves",
    "voiceCrossing": "voice-crossing",
}


def figured_bass_violations(score: Any, failures: list | None = None) -> list[tuple[str, float, tuple[str, ...]]]:
    """(rule id, offset of the second harmony, voices) for each violation music21 finds.

    ``score`` must hold exactly the four voice parts, soprano first. music21's hidden-interval
    functions raise on a rest in an outer voice (it builds a Note from "R"); such moments
    are skipped and, when ``failures`` is given, appended to it as (rule, offset, error).
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
            try:
                found = getattr(checker, fname)(pitches[i - 1], possib)
            except Exception as exc:  # music21 bug on rests, see docstring
                if failures is not None:
                    failures.append((FIGURED_BASS_RULES[fname], offsets[i], type(exc).__name__))
                continue
            for parts in found:
                out.append((FIGURED_BASS_RULES[fname], offsets[i], tuple(VOICES[p - 1] for p in parts)))
    return out


def four_voice_score(parsed: Any) -> Any:
    """The score music21's checker should see: only the four voices we check, soprano first.

    ``parsed`` is a :class:`~partimento.grammar.rules.sonority.ParsedScore`; when its score
    has exactly those four parts it is returned as is, else a new Score holding them.
    """
    from music21 import stream

    parts = list(getattr(parsed.score, "parts", []))
    if parts == list(parsed.voices):
        return parsed.score
    out = stream.Score()
    for v in parsed.voices:
        out.insert(0, v)
    return out
