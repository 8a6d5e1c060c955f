"""The pure sampler: the mask before the nucleus, the lazy look-ahead path, the sure-favourite shortcut."""
from __future__ import annotations

import numpy as np
import pytest

from partimento.hybrid.sampling import distribution, sample, sure_favourite


def test_the_nucleus_is_taken_after_the_mask():
    probs = np.array([0.4, 0.3, 0.2, 0.1])
    mask = np.array([True, False, True, True])  # token 1 removed
    q = distribution(probs, mask, top_p=0.7)
    # masked: 0.571, 0.286, 0.143 -> the nucleus of 0.7 is tokens 0 and 2
    assert np.allclose(q, [0.4 / 0.6, 0.0, 0.2 / 0.6, 0.0])
    draws = {sample(probs, mask, np.random.default_rng(s), top_p=0.7) for s in range(200)}
    assert draws == {0, 2}


def test_temperature_weights_and_greedy():
    probs = np.array([0.5, 0.3, 0.2])
    mask = np.ones(3, bool)
    assert np.allclose(distribution(probs, mask, temperature=2.0), np.sqrt(probs) / np.sqrt(probs).sum())
    weights = np.array([0.1, 1.0, 1.0])
    assert np.allclose(distribution(probs, mask, weights=weights), [0.05, 0.3, 0.2] / np.float64(0.55))
    assert sample(probs, mask, np.random.default_rng(0), temperature=0) == 0
    assert sample(probs, mask, np.random.default_rng(0), temperature=0, weights=weights) == 1
    assert sample(np.array([0.5, 0.5]), np.ones(2, bool), None, temperature=0) == 0  # ties: the lower token


def test_weightless_legal_tokens_are_drawn_uniformly_and_empty_masks_refused():
    probs = np.array([1.0, 0.0, 0.0])
    mask = np.array([False, True, True])
    assert np.allclose(distribution(probs, mask), [0, 0.5, 0.5])
    with pytest.raises(ValueError):
        sample(probs, np.zeros(3, bool), np.random.default_rng(0))


def test_a_nucleus_of_one_takes_no_draw():
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    assert sample(np.array([0.9, 0.1]), np.ones(2, bool), rng, top_p=0.8) == 0
    assert rng.bit_generator.state == before


@pytest.mark.parametrize("case", range(300))
def test_the_lazy_look_ahead_path_draws_what_the_full_mask_draws(case):
    """Same token and same random stream as the eager mask, however the look-ahead answers."""
    gen = np.random.default_rng(case)
    n = int(gen.integers(2, 12))
    probs = gen.dirichlet(np.full(n, 0.5))
    if case % 7 == 0:
        probs[gen.integers(0, n)] = 0.0  # weightless tokens too
    mask = gen.random(n) < 0.8
    passes = gen.random(n) < 0.6
    temperature = [1.0, 0.7, 1.5, 0.0][case % 4]
    top_p = [1.0, 0.95, 0.7, 0.3, 0.9][case % 5]
    weights = np.where(gen.random(n) < 0.3, 0.05, 1.0) if case % 3 == 0 else None
    asked = []

    def accept(tok: int) -> bool:
        asked.append(tok)
        return bool(passes[tok])

    lazy_rng, eager_rng = np.random.default_rng(case), np.random.default_rng(case)
    lazy = sample(probs, mask, lazy_rng, temperature, top_p, weights, accept)
    full = mask & passes
    eager = sample(probs, full, eager_rng, temperature, top_p, weights) if full.any() else -1
    assert lazy == eager
    assert lazy_rng.bit_generator.state == eager_rng.bit_generator.state
    assert set(asked) <= set(np.flatnonzero(mask).tolist())


def test_the_lazy_path_asks_only_as_far_as_the_nucleus_needs():
    probs = np.array([0.6, 0.3, 0.05, 0.03, 0.02])
    asked = []
    tok = sample(probs, np.ones(5, bool), np.random.default_rng(1), top_p=0.8,
                 accept=lambda t: asked.append(t) or True)
    assert tok in (0, 1) and asked == [0, 1]  # 0.9 of at most 1.0 reaches 0.8: the rest cannot matter


@pytest.mark.parametrize("case", range(200))
def test_a_sure_favourite_is_the_whole_nucleus_of_any_mask_that_keeps_it(case):
    gen = np.random.default_rng(1000 + case)
    n = int(gen.integers(2, 10))
    probs = gen.dirichlet(np.full(n, 0.3))
    temperature = [1.0, 0.8, 1.3][case % 3]
    top_p = [0.9, 0.95, 0.5, 1.0][case % 4]
    f = sure_favourite(probs, temperature, top_p)
    if f < 0:
        return
    for _ in range(5):
        mask = gen.random(n) < 0.5
        mask[f] = True
        weights = np.where(gen.random(n) < 0.5, 0.1, 1.0)
        weights[f] = 1.0  # preference weights at most 1, and 1 at the favourite
        for w in (None, weights):
            q = distribution(probs, mask, temperature, top_p, w)
            assert q[f] == 1.0
