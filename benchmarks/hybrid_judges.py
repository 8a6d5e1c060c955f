"""Shared pieces of the hybrid benchmarks: outside judges, a rule-based baseline, melodies.

* :func:`figured_bass_violations` counts what music21's ``figuredBass.checker`` finds
  (parallel fifths and octaves, hidden fifths and octaves, voice crossing) — a judge
  that shares no code with our checker.
* :func:`figured_bass_realization` realizes a plan's chords with music21's rule-based
  ``figuredBass`` realizer (no model) and times it.
* :func:`folk_melodies` picks melodies not by Bach from music21's corpus (Essen folk
  songs, American fife tunes).
"""
from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path

__all__ = ["figured_bass_violations", "figured_bass_realization", "grid_of_realization", "folk_melodies", "write_result", "RESULTS"]

RESULTS = Path(__file__).parent / "results"

_FIGURES = {(0, False): "", (1, False): "6", (2, False): "64", (0, True): "7", (1, True): "65", (2, True): "43",
            (3, True): "42"}


def figured_bass_violations(score) -> Counter:
    """Counts of voice-leading faults by music21's figuredBass.checker (parts numbered 1..4)."""
    from music21.figuredBass import checker

    out: Counter = Counter()
    harmonies = sorted(checker.extractHarmonies(score).items())
    prev = None
    for _, notes in harmonies:
        vlm = _voices(notes)
        if any(p == "RT" or p is None for p in vlm):
            prev = None
            continue
        out["voice-crossing"] += len(checker.voiceCrossing(vlm))
        if prev is not None:
            out["parallel-fifths"] += len(checker.parallelFifths(prev, vlm))
            out["parallel-octaves"] += len(checker.parallelOctaves(prev, vlm))
            out["hidden-fifths"] += len(checker.hiddenFifth(prev, vlm))
            out["hidden-octaves"] += len(checker.hiddenOctave(prev, vlm))
        prev = vlm
    return out


def _voices(notes) -> list:
    """Pitches top to bottom: a part holding a chord (the realizer's upper staff) gives several voices."""
    from music21 import chord
    from music21.figuredBass import checker

    out = []
    for n in notes:
        if isinstance(n, chord.Chord):
            out.extend(sorted(n.pitches, key=lambda p: -p.ps))
        else:
            out.append(checker.generalNoteToPitch(n))
    return out


def grid_of_realization(score, steps: int):
    """(pitch, attack) arrays (steps, 4) of a four-voice realization, every voice struck per chord."""
    import numpy as np
    from music21.figuredBass import checker

    pitch = np.full((steps, 4), -1, np.int16)
    attack = np.zeros((steps, 4), bool)
    for (start, end), notes in sorted(checker.extractHarmonies(score).items()):
        vlm = _voices(notes)
        if len(vlm) != 4 or any(p == "RT" or p is None for p in vlm):
            continue
        a, b = int(round(float(start) * 4)), min(int(round(float(end) * 4)), steps)
        pitch[a:b] = [int(p.midi) for p in vlm]
        attack[a] = True
    return pitch, attack


def figured_bass_realization(plan, n_chords: int = 16, seed: int = 0):
    """music21's figuredBass realizer on the plan's first ``n_chords`` chords (home key).

    Returns (score or None, seconds, error). Each chord becomes a bass note of its
    duration with the figure of its inversion; the realizer searches every voicing
    under its rules and one progression is drawn at random (seeded).
    """
    from music21 import key, meter, note
    from music21.figuredBass import realizer

    chords = plan.chords[:n_chords]
    t0 = time.perf_counter()
    try:
        line = realizer.FiguredBassLine(key.Key(plan.key), meter.TimeSignature(plan.metre))
        for c in chords:
            spec = c.spec
            midi = 48 + (spec.bass - 48) % 12  # C3..B3
            n = note.Note(midi, quarterLength=c.duration)
            line.addElement(n, _FIGURES.get((spec.inversion, spec.seventh is not None), ""))
        realization = line.realize()
        rng = random.Random(seed)
        moves = realization._segmentList[0].movements  # music21's own random draw uses random.sample on dict keys
        if realization.getNumSolutions() == 0:
            raise ValueError("zero solutions")
        prog = [rng.choice(sorted(moves))]
        for seg in realization._segmentList[:-1]:
            prog.append(rng.choice(sorted(seg.movements[prog[-1]])))
        score = realization.generateRealizationFromPossibilityProgression(prog)
    except Exception as e:  # the realizer raises for chords it cannot voice
        return None, time.perf_counter() - t0, f"{type(e).__name__}: {e}"
    return score, time.perf_counter() - t0, None


def folk_melodies(n: int, seed: int = 0) -> list[tuple[str, object]]:
    """``n`` single-line melodies not by Bach: Essen folk songs and American fife tunes."""
    from music21 import corpus

    paths = sorted(str(p) for p in corpus.getCorePaths() if "essenFolksong" in str(p) or "americanfife" in str(p))
    rng = random.Random(seed)
    out: list[tuple[str, object]] = []
    for path in rng.sample(paths, len(paths)):
        opus = corpus.parse(path)
        scores = list(opus.scores) if hasattr(opus, "scores") else [opus]
        for s in rng.sample(scores, min(3, len(scores))):
            if len(out) >= n:
                return out
            number = s.metadata.number if s.metadata is not None else "?"
            if s.flatten().highestTime > 64:  # keep them short: at most 16 bars of 4/4
                continue
            out.append((f"{Path(path).stem}#{number}", s))
    return out


def checkpoint_facts(path: str | None = None) -> dict:
    """Which checkpoint the numbers come from (training step, best validation loss)."""
    from partimento.neural.checkpoint import read_meta

    meta = read_meta(path)
    state = meta.get("train_state", {})
    return {"path": path or "shipped", "params": meta.get("params"), "step": state.get("step"),
            "epoch": state.get("epoch"), "best_valid": state.get("best_valid")}


def write_result(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, default=str))
    return path
