"""Shared fixtures: a tiny model and a small synthetic dataset (no music21, no corpus)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from partimento.neural.conditioning import ChordSegment, Conditioning, conditioning_from_segments
from partimento.neural.encoding import HOLD, PITCH_OFFSET
from partimento.neural.model import CONFIGS, ChoraleModel, build_model

# Tiny models: one thread is fastest, and on a busy machine a second OpenMP thread spends its
# time at barriers waiting for a core.
torch.set_num_threads(1)


def synthetic_piece(seed: int, bars: int = 4, tonic: int = 0) -> tuple[np.ndarray, Conditioning]:
    """A plausible block-chord piece: I–IV–V–I per bar in quarter notes, random voicing."""
    rng = np.random.default_rng(seed)
    steps = bars * 16
    chords = [(0, (0, 4, 7)), (5, (5, 9, 0)), (7, (7, 11, 2)), (0, (0, 4, 7))]
    tokens = np.full((steps, 4), HOLD, dtype=np.int64)
    segments = []
    for q in range(bars * 4):
        root, pcs = chords[q % 4]
        a = q * 4
        segments.append(ChordSegment(a, a + 4, tonic, False, tuple((p + tonic) % 12 for p in pcs),
                                     (root + tonic) % 12, (root + tonic) % 12, fermata=q == bars * 4 - 1,
                                     cadence="PAC" if q == bars * 4 - 1 else None))
        bases = (72, 67, 60, 48)
        for v in range(4):
            pc = (root + tonic) % 12 if v == 3 else (pcs[int(rng.integers(3))] + tonic) % 12
            pitch = bases[v] + ((pc - bases[v]) % 12)
            tokens[a, v] = PITCH_OFFSET + pitch
    cond = conditioning_from_segments(steps, segments, 16, 0, [steps], tonic, False)
    return tokens, cond


@pytest.fixture(scope="session")
def tiny_model() -> ChoraleModel:
    """The default architecture (per-step), tiny."""
    torch.manual_seed(0)
    return build_model(CONFIGS["tiny"]).eval()


@pytest.fixture(scope="session")
def tiny_interleaved() -> ChoraleModel:
    """The interleaved architecture (the ablation's), tiny."""
    torch.manual_seed(0)
    return build_model(CONFIGS["interleaved-tiny"]).eval()


@pytest.fixture(scope="session")
def synthetic_named():
    """(name, split, tokens, cond) tuples: 4 train, 2 valid, 2 test pieces."""
    out = []
    for i in range(8):
        split = "train" if i < 4 else "valid" if i < 6 else "test"
        tokens, cond = synthetic_piece(i, bars=3 + i % 2)
        out.append((f"synthetic/{i}", split, tokens, cond))
    return out


@pytest.fixture(scope="session")
def synthetic_cache(tmp_path_factory, synthetic_named):
    from partimento.neural.dataset import write_cache

    return write_cache(synthetic_named, tmp_path_factory.mktemp("data") / "synthetic.npz")


@pytest.fixture(scope="session")
def make_piece():
    """The :func:`synthetic_piece` factory (test modules here are not a package)."""
    return synthetic_piece
