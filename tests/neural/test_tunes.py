import numpy as np

from partimento.neural.encoding import HOLD, PITCH_OFFSET
from partimento.neural.tunes import MIN_RUN, SHARED_TUNE_THRESHOLD, match_tunes, soprano_intervals, tune_overlap

TUNE = [67, 67, 69, 71, 72, 71, 69, 67, 69, 71, 69, 67, 66, 67, 74, 72, 71, 69, 71, 72, 74, 71, 69, 67]
OTHER = [60, 64, 67, 65, 64, 62, 60, 59, 60, 62, 57, 59, 60, 65, 64, 62, 64, 65, 67, 64, 62, 60, 59, 60]


def _piece(melody, hold_every=2):
    """Soprano tokens: each note attacked, then held; the lower voices hold (never read)."""
    rows = []
    for p in melody:
        rows.append([PITCH_OFFSET + p, HOLD, HOLD, HOLD])
        rows += [[HOLD] * 4] * (hold_every - 1)
    return np.array(rows, dtype=np.int64)


def test_soprano_intervals_merge_repeats_and_ignore_holds():
    assert soprano_intervals(_piece([60, 60, 62, 62, 64, 60], hold_every=3)) == (2, 2, -4)
    assert soprano_intervals(np.full((8, 4), HOLD)) == ()  # no note at all


def test_a_transposed_and_ornamented_tune_is_shared_and_an_unrelated_one_is_not():
    tune = soprano_intervals(_piece(TUNE))
    transposed = soprano_intervals(_piece([p - 5 for p in TUNE], hold_every=4))  # another key, another rhythm
    assert tune_overlap(tune, transposed) == 1.0
    ornamented = TUNE[:12] + [68] + TUNE[12:]  # a passing note inserted: two intervals change
    assert tune_overlap(soprano_intervals(_piece(ornamented)), tune) >= SHARED_TUNE_THRESHOLD
    assert tune_overlap(soprano_intervals(_piece(OTHER)), tune) < SHARED_TUNE_THRESHOLD
    short_common = [60, 62, 64, 65, 67] + [72, 60, 70, 61]  # a scale fragment shorter than MIN_RUN intervals
    assert MIN_RUN > 4 and tune_overlap(soprano_intervals(_piece(short_common)), tune) == 0.0


def test_match_tunes_names_the_best_training_match():
    matches = match_tunes([("held/1", _piece([p + 2 for p in TUNE])), ("held/2", _piece(OTHER))],
                          [("train/a", _piece(OTHER[:6] + TUNE[:3])), ("train/b", _piece(TUNE))])
    assert [(m.name, m.best, m.shared) for m in matches][0] == ("held/1", "train/b", True)
    assert not matches[1].shared
