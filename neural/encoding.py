"""Voice tokens on the sixteenth-note grid: one token per voice per step.

A voice at a step either re-attacks a pitch (``PITCH_OFFSET + midi``), keeps sounding
the pitch it already sounds (``HOLD``) or is silent (``REST``). Separating attack from
hold is what lets a repeated note (two attacks) differ from a held one (attack, hold),
which the rules and the score writer need. Everything here is plain integers and numpy,
so the dataset cache can be read on a machine without music21.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "HOLD",
    "REST",
    "PITCH_OFFSET",
    "VOCAB_SIZE",
    "N_VOICES",
    "token_of",
    "pitch_of",
    "sounding_pitches",
    "transpose_tokens",
]

HOLD = 0  # the voice keeps sounding its previous note (or stays silent after a rest)
REST = 1  # the voice is silent from this step
PITCH_OFFSET = 2  # an attack of MIDI pitch p is token PITCH_OFFSET + p
VOCAB_SIZE = PITCH_OFFSET + 128  # 130 tokens
N_VOICES = 4  # soprano, alto, tenor, bass


def token_of(pitch: int, attack: bool) -> int:
    """Token for a voice at one step: ``pitch`` < 0 means silence (REST)."""
    if pitch < 0:
        return REST
    if not 0 <= pitch < 128:
        raise ValueError(f"MIDI pitch out of range: {pitch}")
    return PITCH_OFFSET + int(pitch) if attack else HOLD


def pitch_of(token: int, previous_pitch: int) -> int:
    """The MIDI pitch sounding after ``token`` (-1 for silence); HOLD keeps ``previous_pitch``."""
    if token == HOLD:
        return previous_pitch
    if token == REST:
        return -1
    return int(token) - PITCH_OFFSET


def sounding_pitches(tokens: np.ndarray) -> np.ndarray:
    """(T, V) tokens -> (T, V) MIDI pitches sounding at each step (-1 silent).

    A HOLD at the very start (no earlier attack) counts as silence.
    """
    tokens = np.asarray(tokens)
    out = np.full(tokens.shape, -1, dtype=np.int64)
    attack = tokens >= PITCH_OFFSET
    rest = tokens == REST
    pitch = np.where(attack, tokens - PITCH_OFFSET, -1)
    # index of the last step that set the pitch (attack or rest), carried forward
    setter = np.where(attack | rest, np.arange(tokens.shape[0])[:, None], -1)
    last = np.maximum.accumulate(setter, axis=0)
    valid = last >= 0
    cols = np.broadcast_to(np.arange(tokens.shape[1]), tokens.shape)
    out[valid] = pitch[last[valid], cols[valid]]
    return out


def transpose_tokens(tokens: np.ndarray, semitones: int) -> np.ndarray:
    """Shift every attack by ``semitones``; HOLD and REST are unchanged."""
    tokens = np.asarray(tokens)
    return np.where(tokens >= PITCH_OFFSET, tokens + semitones, tokens)
