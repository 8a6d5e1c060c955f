"""The built-in synthesizer: tempo and duration, four separable voices, WAV files."""
from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from music21 import corpus, note, stream, tempo, tie

from partimento.grammar.errors import InputError, ScoreError
from partimento.hybrid import audio
from partimento.hybrid.score_events import tempo_map, voice_events

SR = audio.SAMPLE_RATE


def satb(pitches_per_voice, durations=None, qpm=None):
    """A four-part score; voice i plays ``pitches_per_voice[i]`` (MIDI, None = rest)."""
    score = stream.Score()
    for i, pitches in enumerate(pitches_per_voice):
        part = stream.Part()
        if qpm is not None and i == 0:
            part.insert(0, tempo.MetronomeMark(number=qpm))
        durs = durations or [1.0] * len(pitches)
        t = 0.0
        for p, d in zip(pitches, durs):
            part.insert(t, note.Rest(quarterLength=d) if p is None else note.Note(p, quarterLength=d))
            t += d
        score.insert(0, part)
    return score


def spectrum(x):
    window = np.hanning(len(x))
    mag = np.abs(np.fft.rfft(x * window))
    freqs = np.fft.rfftfreq(len(x), 1.0 / SR)
    return freqs, mag


def peak_near(freqs, mag, f, tol=4.0):
    band = (freqs > f - tol) & (freqs < f + tol)
    return float(mag[band].max())


def test_bach_chorale_lasts_its_length_at_its_metronome_mark():
    chorale = corpus.parse("bach/bwv66.6")
    assert tempo_map(chorale).qpm == [96.0]  # the corpus file's own mark
    expected = float(chorale.highestTime) * 60.0 / 96.0  # 36 quarters -> 22.5 s
    samples = audio.synthesize(chorale)
    assert abs(len(samples) / SR - expected) / expected < 0.01
    assert np.max(np.abs(samples)) <= 1.0


def test_default_tempo_is_80_and_marks_are_obeyed():
    s = satb([[60, 62, 64, 65]] * 4)
    assert len(audio.synthesize(s)) / SR == pytest.approx(4 * 60 / 80, rel=0.01)
    s = satb([[60, 62, 64, 65]] * 4, qpm=120)
    assert len(audio.synthesize(s)) / SR == pytest.approx(2.0, rel=0.01)


def test_a_tempo_change_is_piecewise():
    s = satb([[60] * 8] * 4, qpm=60)
    s.parts[0].insert(4, tempo.MetronomeMark(number=120))
    # 4 quarters at 60 (4 s) + 4 quarters at 120 (2 s)
    assert audio.score_seconds(s) == pytest.approx(6.0)
    assert len(audio.synthesize(s)) / SR == pytest.approx(6.0, rel=0.01)


def test_each_voice_fundamental_is_a_separate_spectral_peak():
    # a held chord: soprano A4, alto E4, tenor C#4, bass A2 (fundamentals 440, 330, 277, 110 Hz)
    pitches = [69, 64, 61, 45]
    s = satb([[p] for p in pitches], durations=[4.0], qpm=60)
    x = audio.synthesize(s)[int(0.5 * SR):int(3.5 * SR)]  # steady part
    freqs, mag = spectrum(x)
    floor = np.median(mag)
    for p in pitches:
        f0 = audio.midi_to_hz(p)
        assert peak_near(freqs, mag, f0) > 100 * floor, f"no peak at {f0:.1f} Hz"
    # and nothing in between: midway between alto and soprano fundamentals is quiet
    assert peak_near(freqs, mag, (audio.midi_to_hz(64) + audio.midi_to_hz(69)) / 2, tol=10) < 0.01 * mag.max()


def test_the_four_timbres_are_distinguishable():
    """The same pitch in each voice: harmonic profiles follow VOICE_PARTIALS and differ."""
    profiles = []
    for v in range(4):
        voices = [[57] if i == v else [None] for i in range(4)]  # A3 = 220 Hz
        x = audio.synthesize(satb(voices, durations=[4.0], qpm=60))[int(0.5 * SR):int(3.5 * SR)]
        freqs, mag = spectrum(x)
        prof = np.array([peak_near(freqs, mag, 220.0 * h) for h in range(1, 8)])
        profiles.append(prof / prof[0])
        recipe = dict(audio.VOICE_PARTIALS[["soprano", "alto", "tenor", "bass"][v]])
        for h in range(1, 8):
            assert prof[h - 1] / prof[0] == pytest.approx(recipe.get(h, 0.0), abs=0.03)
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(profiles[i] - profiles[j]).max() > 0.1


def test_tied_notes_sound_once():
    s = satb([[60, 60]] * 4)
    for part in s.parts:
        a, b = list(part.notes)
        a.tie = tie.Tie("start")
        b.tie = tie.Tie("stop")
    events = voice_events(s)
    assert [len(v) for v in events] == [1, 1, 1, 1]
    assert events[0][0].duration == 2.0


def test_wav_bytes_are_a_mono_16_bit_file():
    s = satb([[60, 64]] * 4, qpm=120)
    data = audio.wav_bytes(s)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SR)
        assert w.getnframes() == SR  # 2 quarters at 120 = 1 s
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert 0.7 * 32767 < np.abs(frames).max() <= 0.8 * 32767 + 1


def test_write_wav_is_atomic(tmp_path):
    s = satb([[60]] * 4)
    path = audio.write_wav(s, tmp_path / "a.wav")
    assert path.stat().st_size > 44
    with pytest.raises(InputError, match="output folder"):
        audio.write_wav(s, tmp_path / "missing" / "a.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


def test_same_score_same_samples_and_no_notes_is_an_error():
    s = satb([[60, 67]] * 4)
    assert np.array_equal(audio.synthesize(s), audio.synthesize(s))
    with pytest.raises(ScoreError):
        audio.synthesize(satb([[None]] * 4))


def test_notebook_player():
    pytest.importorskip("IPython")
    player = audio.audio(satb([[60]] * 4))
    assert player.data[:4] == b"RIFF"


@pytest.fixture(scope="module")
def composed():
    from hybrid_fakes import FakeModel

    from partimento.hybrid import compose

    return compose("chorale", key="G", bars=4, seed=3, model=FakeModel(3))


def test_composed_chorale_lasts_its_plan_length_at_its_tempo(composed):
    plan = composed.plan
    samples = audio.synthesize(composed.score)
    expected = plan.length * 60.0 / plan.tempo  # 16 quarters at 80 = 12 s
    assert abs(len(samples) / SR - expected) / expected < 0.01


def test_composed_chorale_voices_are_separate_partials(composed):
    # the longest stretch where all four voices hold the same notes
    rows = [tuple(int(p) for p in r) for r in composed.pitch]
    best, start = (0, 0), 0
    for t in range(1, len(rows) + 1):
        if t == len(rows) or rows[t] != rows[start] or min(rows[start]) < 0:
            if min(rows[start]) >= 0 and t - start > best[1] - best[0]:
                best = (start, t)
            start = t
    a, b = best
    seconds_per_step = 60.0 / composed.plan.tempo / 4
    assert (b - a) * seconds_per_step >= 0.3
    x = audio.synthesize(composed.score)[int((a * seconds_per_step + 0.05) * SR):int((b * seconds_per_step - 0.05) * SR)]
    freqs, mag = spectrum(x)
    floor = np.median(mag)
    for midi in set(rows[a]):
        assert peak_near(freqs, mag, audio.midi_to_hz(midi), tol=3.0) > 50 * floor
