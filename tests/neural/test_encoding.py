import numpy as np
import pytest

from partimento.neural.encoding import (HOLD, PITCH_OFFSET, REST, VOCAB_SIZE, pitch_of, sounding_pitches,
                                        token_of, transpose_tokens)


def test_fixed_vocabulary():
    assert (HOLD, REST, PITCH_OFFSET, VOCAB_SIZE) == (0, 1, 2, 130)


def test_token_round_trip():
    for p in (0, 40, 60, 127):
        assert token_of(p, True) == PITCH_OFFSET + p
        assert pitch_of(token_of(p, True), 12) == p
        assert token_of(p, False) == HOLD
        assert pitch_of(HOLD, p) == p
    assert token_of(-1, True) == REST
    assert pitch_of(REST, 60) == -1
    with pytest.raises(ValueError):
        token_of(128, True)


def test_sounding_pitches_follow_holds_and_rests():
    tok = np.array([[62, HOLD], [HOLD, 50], [REST, HOLD], [HOLD, REST], [64, HOLD]])
    assert sounding_pitches(tok).tolist() == [[60, -1], [60, 48], [-1, 48], [-1, -1], [62, -1]]


def test_transpose_moves_only_attacks():
    tok = np.array([[62, HOLD, REST]])
    assert transpose_tokens(tok, 3).tolist() == [[65, HOLD, REST]]
