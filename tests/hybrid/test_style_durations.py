"""The style benchmark's note-value histogram counts 16ths, dotted values and the rest as written.

``benchmarks/style_vs_bach.py`` compares each voice's rhythm with Bach's; a miscount
would hide 16th-note oscillations or dotted figures the share of short notes cannot see.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from style_vs_bach import DURATION_BINS, beat_moves, duration_histogram, histogram_overlap  # noqa: E402

from partimento.grammar.rules import sonorities_from_grid  # noqa: E402


def _grid(values_in_16ths: list[int], pitch0: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """A 4-voice grid where voice 0 plays notes of the given lengths (other voices hold one note)."""
    t = sum(values_in_16ths)
    pitch = np.tile(np.array([72, 64, 55, 48]), (t, 1))
    attack = np.zeros((t, 4), bool)
    attack[0] = True
    step = 0
    for i, n in enumerate(values_in_16ths):
        pitch[step:step + n, 0] = pitch0 + (i % 2) * 2  # alternate so every note is struck anew
        attack[step, 0] = True
        step += n
    return pitch, attack


def test_note_values_fall_in_their_bins():
    # 16th, 16th, dotted 8th, 8th, quarter, dotted quarter, half, dotted half, whole, 5/16 (other)
    values = [1, 1, 3, 2, 4, 6, 8, 12, 16, 5]
    pitch, attack = _grid(values)
    s = sonorities_from_grid(pitch, attack, "4/4")
    h = duration_histogram(s, 0)
    assert h.tolist() == [2, 1, 1, 1, 1, 1, 1, 1, 1]
    assert len(h) == len(DURATION_BINS) + 1
    # the held voices: one note of the whole length (80 16ths = 20 quarters: "other")
    assert duration_histogram(s, 3).tolist() == [0] * len(DURATION_BINS) + [1]


def test_overlap_of_identical_rhythms_is_one_and_of_disjoint_ones_zero():
    a = duration_histogram(sonorities_from_grid(*_grid([4] * 8), "4/4"), 0)
    b = duration_histogram(sonorities_from_grid(*_grid([1] * 32), "4/4"), 0)
    assert histogram_overlap(a, a) == 1.0
    assert histogram_overlap(a, b) == 0.0


def test_moves_onto_a_beat_are_counted_by_size_and_only_on_beats():
    """``beat_moves``: the moves into notes struck on a quarter-note beat, as same / step / third / leap."""
    t = 20  # five beats of 4/4 in 16ths
    pitch = np.tile(np.array([72, 64, 55, 48]), (t, 1))
    attack = np.zeros((t, 4), bool)
    attack[0] = True
    # alto: E4 | D4 (a step, beat 2) | D4 struck again (beat 3) | B3 (a third, beat 4), then C4 on the
    # half beat (not counted) | F4 (beat 5, a leap: from C4, the note before it)
    for step, p in ((4, 62), (8, 62), (12, 59), (14, 60), (16, 65)):
        pitch[step:, 1] = p
        attack[step, 1] = True
    s = sonorities_from_grid(pitch, attack, "4/4")
    assert beat_moves(s, 1) == [1, 1, 1, 1]  # [same, step, third, leap]
    assert beat_moves(s, 0) == [0, 0, 0, 0]  # the soprano holds its one note
