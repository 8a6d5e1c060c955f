"""The exact sampler: one token from the masked, reweighted, tempered model distribution.

:func:`sample` is the only place where a token is drawn. It is a pure function of its
arguments (and of the draws it takes from ``rng``), so what the decoder samples is, by
construction and for every position,

    q = normalize(probs ** (1 / temperature) * weights * mask)

with the nucleus taken *after* the mask: the smallest set of tokens, heaviest first
(ties in token order), whose mass under ``q`` reaches ``top_p``, renormalized. Taking
the nucleus before the mask instead (as the first decoder did) gives a different
distribution: a legal token just outside the unmasked nucleus can never be drawn, and
the nucleus can shrink to nothing. ``tests/hybrid/test_sampler.py`` checks the
arithmetic; ``tests/hybrid/test_decode_exact.py`` checks, with a chi-square test over
2,000 seeds, that the decoder's output follows ``q``.

A nucleus of one token is returned without drawing from ``rng``: the result is the same
token with probability one either way, and not drawing keeps the random stream of a
decoder that skips building a mask it can prove unnecessary (the sure-hold shortcut,
:func:`sure_favourite`) identical to one that builds it.
"""
from __future__ import annotations

import bisect
from typing import Callable

import numpy as np

__all__ = ["sample", "distribution", "nucleus", "sure_favourite", "SURE_MARGIN"]

#: relative safety margin of :func:`sure_favourite` against rounding in the masked sum
SURE_MARGIN = 1e-9


def _weights(probs: np.ndarray, idx: np.ndarray, temperature: float, weights: np.ndarray | None) -> np.ndarray:
    """Unnormalized weights of the tokens ``idx``: probs ** (1/T) * weights (uniform if all vanish)."""
    w = np.asarray(probs, np.float64)[idx]
    if temperature != 1.0 and temperature > 0:
        w = w ** (1.0 / temperature)
    if weights is not None:
        w = w * np.asarray(weights, np.float64)[idx]
    if not np.add.reduce(w) > 0:  # the model gives every legal token zero mass (underflow): fall back to uniform
        w = np.ones(len(idx))
    return w


def distribution(probs: np.ndarray, mask: np.ndarray, temperature: float = 1.0, top_p: float = 1.0,
                 weights: np.ndarray | None = None) -> np.ndarray:
    """float64[V]: the exact distribution :func:`sample` draws from (zeros outside the nucleus).

    With ``temperature == 0`` it is the point mass on :func:`sample`'s argmax.
    """
    out = np.zeros(len(mask))
    idx = np.flatnonzero(mask)
    if not len(idx):
        return out
    if temperature == 0:
        out[_argmax(probs, idx, weights)] = 1.0
        return out
    w = _weights(probs, idx, temperature, weights)
    keep = nucleus(w, top_p)
    out[idx[keep]] = w[keep] / w[keep].sum()
    return out


def nucleus(w: np.ndarray, top_p: float) -> np.ndarray:
    """Indices into ``w`` of its top-``top_p`` nucleus, heaviest first (ties: lower index first)."""
    order = np.argsort(-w, kind="stable")
    cum = np.cumsum(w[order])
    return order[:_nucleus_size(cum, top_p)]


def _nucleus_size(cum: np.ndarray, top_p: float) -> int:
    """How many of the sorted weights (running sums ``cum``) the nucleus keeps: the shortest
    prefix whose sum reaches ``top_p`` of the total (for ``top_p`` 1: every token with mass)."""
    n = int(np.searchsorted(cum, min(top_p, 1.0) * cum[-1])) + 1
    return min(n, len(cum))


def _argmax(probs: np.ndarray, idx: np.ndarray, weights: np.ndarray | None) -> int:
    w = np.asarray(probs, np.float64)[idx]
    if weights is not None:
        w = w * np.asarray(weights, np.float64)[idx]
    return int(idx[int(np.argmax(w))])


def sample(probs: np.ndarray, mask: np.ndarray, rng: np.random.Generator, temperature: float = 1.0,
           top_p: float = 1.0, weights: np.ndarray | None = None, accept: Callable[[int], bool] | None = None) -> int:
    """One token drawn from ``normalize(probs ** (1/T) * weights * mask)``, nucleus taken after the mask.

    ``probs``: the model's distribution over the vocabulary (float[V], temperature 1);
    ``mask``: bool[V], the legal tokens (at least one); ``weights``: optional float[V]
    preference factors (positive: a preference reweights, it does not forbid);
    ``temperature`` 0 is greedy (the argmax of ``probs * weights`` over the mask, lowest
    token on ties, no draw). If the model gives every legal token zero probability, the
    legal tokens are drawn uniformly.

    ``accept``: a last mask layer given token by token (a look-ahead too costly to
    evaluate for every token): the legal set is then ``mask`` AND ``accept``. It is
    asked in order of weight only until the nucleus is certain (see
    :func:`_sample_lazy`), and the result, including the draws taken from ``rng``, is
    the same as with the full mask. Returns -1 if no token passes ``accept``.
    """
    if accept is not None:
        return _sample_lazy(probs, mask, rng, temperature, top_p, weights, accept)
    idx = np.asarray(mask).nonzero()[0]
    if not len(idx):
        raise ValueError("sample() needs at least one legal token")
    if temperature == 0:
        return _argmax(probs, idx, weights)
    if len(idx) == 1:
        return int(idx[0])
    w = _weights(probs, idx, temperature, weights)
    order = (-w).argsort(kind="stable")
    cum = w[order].cumsum()
    n = _nucleus_size(cum, top_p)
    if n == 1:
        return int(idx[order[0]])
    k = int(np.searchsorted(cum[:n], rng.random() * cum[n - 1], side="right"))
    return int(idx[order[min(k, n - 1)]])


def _sample_lazy(probs: np.ndarray, mask: np.ndarray, rng: np.random.Generator, temperature: float,
                 top_p: float, weights: np.ndarray | None, accept: Callable[[int], bool]) -> int:
    """:func:`sample` over ``mask`` AND ``accept``, asking ``accept`` heaviest token first, only as far as needed.

    After the first ``i`` candidates (in the order :func:`sample` sorts them) the mass of
    the accepted ones is known exactly and that of the untested rest is at most their
    total ``R``. The nucleus ends at the first accepted prefix whose running sum reaches
    ``top_p`` of the accepted total, which lies in [sum so far, sum so far + R]: once a
    prefix reaches ``top_p`` of the upper bound while the one before it stays below
    ``top_p`` of the lower bound (with ``SURE_MARGIN`` for rounding), the nucleus is
    that prefix whatever the rest holds, and it is drawn from exactly as :func:`sample`
    would (same running sums, same single draw). Once only weightless candidates are
    left the total is known exactly (they are never drawn while any token has weight).
    Otherwise every candidate is tested and :func:`sample` draws from the accepted set.
    Greedy stops at the first accepted.
    """
    idx = np.asarray(mask).nonzero()[0]  # (np.flatnonzero, argsort, cumsum, argmax below as methods: no Python-level wrapper)
    if not len(idx):
        return -1
    if temperature == 0:
        w = np.asarray(probs, np.float64)[idx]
        if weights is not None:
            w = w * np.asarray(weights, np.float64)[idx]
        for k in np.argsort(-w, kind="stable").tolist():
            if accept(int(idx[k])):
                return int(idx[k])
        return -1
    w = _weights(probs, idx, temperature, weights)
    order = (-w).argsort(kind="stable")
    ws = w[order].tolist()
    rest = w[order][::-1].cumsum()[::-1].tolist()[1:] + [0.0]  # rest[i]: mass after candidate i
    passed: list[int] = []
    cum: list[float] = []
    ok = np.zeros(len(mask), bool)
    for i, k in enumerate(order.tolist()):
        tok = int(idx[k])
        if accept(tok):
            ok[tok] = True
            passed.append(tok)
            cum.append((cum[-1] if cum else 0.0) + ws[i])
        if not cum or not cum[-1] > 0:
            continue
        if rest[i] == 0.0:  # only weightless tokens are left: they change no sum, the total is known
            j = next(j for j, c in enumerate(cum) if c >= min(top_p, 1.0) * cum[-1])
        else:
            if top_p >= 1.0:
                continue
            high = top_p * (cum[-1] + rest[i]) * (1.0 + SURE_MARGIN)
            j = next((j for j, c in enumerate(cum) if c >= high), None)
            if j is None or (j > 0 and not cum[j - 1] < top_p * cum[-1] * (1.0 - SURE_MARGIN)):
                continue
        if j == 0:
            return passed[0]
        draw = rng.random() * cum[j]
        return passed[min(bisect.bisect_right(cum[:j + 1], draw), j)]
    if not passed:
        return -1
    return sample(probs, ok, rng, temperature, top_p, weights)


def sure_favourite(probs: np.ndarray, temperature: float, top_p: float) -> int:
    """The token :func:`sample` returns for sure under *any* mask that keeps it legal; -1 if none.

    The favourite f (the argmax of ``probs``, lowest token on ties) qualifies when its
    tempered share of the whole vocabulary is at least ``top_p`` (greedy: always).
    Proof: a mask keeping f only removes other tokens, so f's share of the masked mass
    can only grow and f stays the heaviest (and first on ties, being the lowest such
    token): the nucleus is {f} alone and :func:`sample` returns it without a draw.
    The same holds under preference weights that are at most 1 everywhere and exactly 1
    at f (f's weighted share and lead can only grow). ``SURE_MARGIN`` keeps the
    comparison true under rounding of the masked sum; for ``top_p`` 1 every other token
    must weigh exactly zero.
    """
    p = np.asarray(probs, np.float64)
    if temperature == 0:
        return int(np.argmax(p))
    if temperature != 1.0:
        p = p ** (1.0 / temperature)
    f = int(p.argmax())  # the tempered weights are what sample() sorts
    total = float(np.add.reduce(p))
    if not total > 0:
        return -1
    if top_p >= 1.0:  # the nucleus is every token with mass: f must carry it all, exactly
        return f if np.count_nonzero(p) == 1 else -1
    return f if float(p[f]) >= top_p * total * (1.0 + SURE_MARGIN) else -1
