"""A small additive synthesizer: a four-voice score to WAV, with numpy only.

Listening is the fastest check of a chorale, and a classroom machine may have no
MIDI synthesizer or soundfont. Each voice gets its own timbre, a fixed recipe of
harmonic partials, so the four lines stay apart by ear and by spectrum:

* soprano — flute-like: a strong fundamental, weak 2nd and 3rd partials;
* alto — clarinet-like: odd partials only (1, 3, 5, 7);
* tenor — string-like: all partials 1..6 falling as 1/n;
* bass — reed-organ-like: partials 1..4 with a strong octave.

Timing follows the score's metronome marks (quarter = 80 when there are none), so a
WAV lasts exactly the score's length at its tempo. Fermatas are not lengthened.
"""
from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from partimento.grammar.fileio import write_bytes_atomic
from partimento.grammar.theory import VOICES

from .score_events import DEFAULT_QPM, as_score, tempo_map, voice_events

__all__ = [
    "SAMPLE_RATE",
    "VOICE_PARTIALS",
    "midi_to_hz",
    "score_seconds",
    "synthesize",
    "wav_bytes",
    "write_wav",
    "audio",
]

SAMPLE_RATE = 22050  # Hz; plenty for four voices below C6 and half the size of 44.1 kHz

#: (harmonic number, relative amplitude) per voice, soprano .. bass (see module docstring).
VOICE_PARTIALS: dict[str, tuple[tuple[int, float], ...]] = {
    "soprano": ((1, 1.0), (2, 0.2), (3, 0.06)),
    "alto": ((1, 1.0), (3, 0.45), (5, 0.25), (7, 0.12)),
    "tenor": tuple((n, 1.0 / n) for n in range(1, 7)),
    "bass": ((1, 1.0), (2, 0.8), (3, 0.3), (4, 0.25)),
}

_ATTACK_S = 0.02  # linear fade-in of every note
_RELEASE_S = 0.05  # linear fade-out at the end of every note (inside its duration)
_DECAY_PER_S = 0.6  # gentle exponential decay while a note is held
_PEAK = 0.8  # the mix is scaled to this peak (of full scale), leaving headroom


def midi_to_hz(midi: float) -> float:
    """Equal-tempered frequency of a MIDI pitch (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


def score_seconds(score, default_qpm: float = DEFAULT_QPM) -> float:
    """The score's length in seconds at its tempo (``default_qpm`` with no mark)."""
    score = as_score(score)
    return tempo_map(score, default_qpm).seconds(float(score.highestTime))


def synthesize(score, *, sample_rate: int = SAMPLE_RATE, default_qpm: float = DEFAULT_QPM) -> np.ndarray:
    """The score as mono float32 samples in [-1, 1], ``score_seconds(score)`` long.

    Voice ``i`` (score order) plays with ``VOICE_PARTIALS[VOICES[i % 4]]``.
    """
    score = as_score(score)
    tmap = tempo_map(score, default_qpm)
    total = int(round(tmap.seconds(float(score.highestTime)) * sample_rate))
    out = np.zeros(total, dtype=np.float64)
    nyquist = sample_rate / 2.0
    for v, events in enumerate(voice_events(score)):
        partials = VOICE_PARTIALS[VOICES[v % len(VOICES)]]
        norm = sum(a for _, a in partials)
        for e in events:
            a = int(round(tmap.seconds(e.onset) * sample_rate))
            b = min(int(round(tmap.seconds(e.end) * sample_rate)), total)
            if b <= a:
                continue
            t = np.arange(b - a) / sample_rate
            f0 = midi_to_hz(e.midi)
            tone = np.zeros(b - a)
            for h, amp in partials:
                if h * f0 < nyquist:
                    tone += amp * np.sin(2.0 * np.pi * h * f0 * t)
            out[a:b] += tone * _envelope(b - a, sample_rate) / norm
    peak = float(np.max(np.abs(out))) if total else 0.0
    if peak > 0:
        out *= _PEAK / peak
    return out.astype(np.float32)


def _envelope(n: int, sample_rate: int) -> np.ndarray:
    """Attack, exponential decay and release for a note of ``n`` samples."""
    t = np.arange(n) / sample_rate
    env = np.exp(-_DECAY_PER_S * t)
    attack = max(1, min(int(_ATTACK_S * sample_rate), n // 2))
    release = max(1, min(int(_RELEASE_S * sample_rate), n // 2))
    env[:attack] *= np.linspace(0.0, 1.0, attack, endpoint=False)
    env[n - release:] *= np.linspace(1.0, 0.0, release)
    return env


def wav_bytes(score, *, sample_rate: int = SAMPLE_RATE, default_qpm: float = DEFAULT_QPM) -> bytes:
    """The score as a 16-bit mono WAV file in memory."""
    samples = synthesize(score, sample_rate=sample_rate, default_qpm=default_qpm)
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def write_wav(score, path: str | Path, *, sample_rate: int = SAMPLE_RATE,
              default_qpm: float = DEFAULT_QPM) -> Path:
    """Write the score as WAV, atomically (the file is complete or absent)."""
    return write_bytes_atomic(path, wav_bytes(score, sample_rate=sample_rate, default_qpm=default_qpm))


def audio(score, *, sample_rate: int = SAMPLE_RATE, default_qpm: float = DEFAULT_QPM):
    """An ``IPython.display.Audio`` player for notebooks (needs IPython)."""
    from IPython.display import Audio

    return Audio(data=wav_bytes(score, sample_rate=sample_rate, default_qpm=default_qpm))
