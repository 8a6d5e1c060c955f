"""The transformer blocks, one position at a time, in numpy: the engine of both decoding sessions.

Decoding runs one position per call on the CPU, not through ``nn.Module`` calls: at
batch one and widths of a few hundred the model is a chain of ~20 tiny ops per block,
and torch's per-op dispatch (5–20 µs) costs more than the arithmetic, while numpy's is
~1 µs. :class:`BlockStack` mirrors :class:`~partimento.neural.model.Block` exactly
(pre-norm attention with ALiBi, tanh-GELU MLP); ``tests/neural/test_session.py`` and
``tests/neural/test_step_session.py`` check both sessions against the batched torch
forward to 1e-4.

Per position a block is ~25 numpy calls on preallocated buffers. To get there the
weights are rearranged once per model (:func:`block_weights`) without changing the
function: each LayerNorm's gain and bias are folded into the linear layer after it
(:func:`fold_linear`); every bias rides as an input column fed a constant 1; the GELU's
0.5 goes into the MLP's output matrix. Keys carry two more components,
``(slope·step, 1)``, and queries ``(1, −slope·step)``, so one matmul gives the scores
with their ALiBi bias ``−slope·(q_step − k_step) <= 0``; values carry a 1, so the
matmul that weights them also sums the weights. With the bias relative, the scores are
the model's raw attention logits and need no max-shift before ``exp`` (a rare overflow
or underflow falls back to the shifted softmax).

The residual stream is kept centred (mean 0 over its C components): LayerNorm ignores a
vector's mean, so projecting the mean out of every write to the stream changes no
LayerNorm output and hence nothing the model computes, and it lets each LayerNorm skip
its mean (:func:`scale_normalize`: 2 numpy calls instead of 4). A position's input is
centred once, and the matrices that write to the stream (attention output, MLP output)
have their mean over output rows taken out once per model. Constants enter the
elementwise products as 0-d float32 arrays: a Python float costs numpy a scalar
conversion per call. (The decoder before and after this, side by side:
``benchmarks/results/hybrid_speed_decoder_ab.json``.)
"""
from __future__ import annotations

import math
from typing import Callable, TypeVar

import numpy as np
import torch

__all__ = ["BlockStack", "block_weights", "cached_on_weights", "centre_rows", "fold_linear", "scale_normalize",
           "twice_gelu", "state_arrays"]

T = TypeVar("T")

_GELU_A = np.array(math.sqrt(2.0 / math.pi), np.float32)  # 0-d arrays: see the module doc
_GELU_B = np.array(math.sqrt(2.0 / math.pi) * 0.044715, np.float32)
_ONE = np.array(1.0, np.float32)


def scale_normalize(x: np.ndarray, out: np.ndarray, scale: np.ndarray, eps: float = 1e-5) -> None:
    """``out`` <- LayerNorm(x) without gain and bias (those are folded into the next layer), for an ``x``
    whose mean is already 0 (a centred residual stream: see the module doc), so only its scale is taken out.

    ``scale``: a 0-d float32 array of the caller's that receives 1/std (a 0-d operand is the
    cheapest scalar for numpy; each session owns its own, so threads never share one).
    """
    scale[()] = 1.0 / math.sqrt(float(np.dot(x, x)) / x.shape[0] + eps)
    np.multiply(x, scale, out=out)


def centre_rows(w: np.ndarray) -> np.ndarray:
    """``w`` less its mean over axis 0: a matrix whose products ``w @ y`` have mean 0 (a write to a centred stream)."""
    return w - w.mean(axis=0, keepdims=True)


def twice_gelu(h: np.ndarray, u: np.ndarray | None = None) -> None:
    """``h`` <- 2·gelu(h), tanh approximation, in place (the 0.5 is folded into the next layer).

    ``u``: scratch of ``h``'s shape (made when not given).
    """
    u = np.multiply(h, h, out=u)
    u *= _GELU_B
    u += _GELU_A
    u *= h
    np.tanh(u, out=u)
    u += _ONE
    h *= u


def fold_linear(weight: np.ndarray, bias: np.ndarray | None, gain: np.ndarray | None = None,
                shift: np.ndarray | None = None, extra: int = 0) -> np.ndarray:
    """``[W·diag(gain) | W·shift + b | 0…]``: a LayerNorm's gain and shift folded into the linear after it.

    The result acts on ``[normalized x, 1, …]`` (``extra`` zero columns for inputs it ignores).
    """
    if bias is None:
        bias = np.zeros(weight.shape[0])
    if gain is not None:
        weight, bias = weight * gain, weight @ shift + bias
    return np.concatenate([weight, bias[:, None], np.zeros((len(bias), extra))], 1)


def state_arrays(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """The model's state dict as float64 numpy arrays (for folding)."""
    return {k: v.detach().double().cpu().numpy() for k, v in model.state_dict().items()}


def _shifted_attention(k, v, q, mask, scores, y) -> None:
    """The softmax-weighted values with the max-shift, for scores too large or small for a bare ``exp``."""
    np.matmul(k, q, out=scores[:, :, None])
    if mask is not None:
        scores += mask
    scores -= scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    np.matmul(scores[:, None, :], v, out=y)


def cached_on_weights(model, name: str, make: Callable[[], T]) -> T:
    """``make()``, kept on ``model`` until one of its parameters changes (an optimizer step, a load).

    What decoding derives from the weights alone (folded matrices, token tables) is the same
    for every session a model opens; rebuilding it made opening a per-step session cost
    7.2 ms instead of 2.3 (quiet core; about 3% of a 16-bar decoding, several times that on a
    loaded machine). Parameters count their in-place changes (``_version``), so a model
    trained further, or given other weights, makes it anew.
    """
    cache = model.__dict__.setdefault("_weight_derived", {})
    version = sum(int(p._version) for p in model.parameters())
    hit = cache.get(name)
    if hit is not None and hit[0] == version:
        return hit[1]
    made = make()
    cache[name] = (version, made)
    return made


def block_weights(model) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]:
    """Per block, each matrix acting on its input buffer, float32 (cached per model and weight version).

    ``qkv`` (H·(dh+2) + 2C, C+2) on [LN1-normalized x, 1, step], with ln1 folded in and
    each head's queries scaled by 1/sqrt(dh) and followed by the rows giving 1 and
    −slope·step; ``proj`` (C, H·(dh+2)) on the heads' [y, 1, 0]; ``fc`` (d_ff, C+2) with
    ln2 folded in; ``out`` (C, d_ff+1) halved, on [2·gelu, 1]. ``proj`` and ``out`` are
    centred over their output rows (:func:`centre_rows`), as the stream they write to.
    """
    return cached_on_weights(model, "blocks", lambda: _block_weights(model))


def _block_weights(model) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]:
    sd = state_arrays(model)
    C, H = model.cfg.d_model, model.cfg.n_head
    dh = C // H
    slopes = model.slopes.detach().double().cpu().numpy()
    layers = []
    for i in range(model.cfg.n_layer):
        p = {name: sd[f"blocks.{i}.{name}"] for name in (
            "ln1.weight", "ln1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
            "ln2.weight", "ln2.bias", "fc.weight", "fc.bias", "out.weight", "out.bias")}
        qkv = fold_linear(p["attn.qkv.weight"], p["attn.qkv.bias"], p["ln1.weight"], p["ln1.bias"], extra=1)  # (3C, C+2)
        q = np.zeros((H, dh + 2, C + 2))
        q[:, :dh] = qkv[:C].reshape(H, dh, C + 2) * dh ** -0.5
        q[:, dh, C] = 1.0  # meets the key's slope·step
        q[:, dh + 1, C + 1] = -slopes  # times the step: the query's half of the ALiBi bias
        proj = np.zeros((C, H, dh + 2))
        proj[:, :, :dh] = p["attn.proj.weight"].reshape(C, H, dh)
        proj[:, 0, dh] = p["attn.proj.bias"]  # meets head 0's normalized weight sum, 1
        layers.append(tuple(np.ascontiguousarray(a, dtype=np.float32) for a in (
            np.concatenate([q.reshape(H * (dh + 2), C + 2), qkv[C:]]),
            centre_rows(proj.reshape(C, H * (dh + 2))),  # writes to the residual stream: centred
            fold_linear(p["fc.weight"], p["fc.bias"], p["ln2.weight"], p["ln2.bias"], extra=1),
            centre_rows(fold_linear(0.5 * p["out.weight"], p["out.bias"])))))
    return tuple(layers)


class BlockStack:
    """A KV cache over ``len(steps)`` positions and the blocks run one position at a time.

    ``steps[n]`` is the sixteenth step of position ``n`` (what ALiBi measures distance
    in). :meth:`run` writes position ``n``'s keys and values and leaves its final
    residual, LayerNorm-normalized without gain, in ``hidden[n, :C]`` (``hidden[n, C]``
    is a constant 1 for folded heads).
    """

    def __init__(self, model, steps: np.ndarray) -> None:
        cfg = model.cfg
        self.layers = block_weights(model)
        L = len(steps)
        C, H = cfg.d_model, cfg.n_head
        dh = C // H
        self.C, self.H, self.dh = C, H, dh
        # (layer, key|value, head, position, dh + 2): keys [k, slope·step, 1], values [v, 1, 0]
        self.kv = np.zeros((cfg.n_layer, 2, H, L, dh + 2), dtype=np.float32)
        self.hidden = np.ones((L, C + 1), dtype=np.float32)  # normalized final state per position, and a 1
        self.steps = np.asarray(steps)
        slopes = model.slopes.cpu().numpy().astype(np.float32).reshape(-1, 1)  # (H, 1)
        self.kv[:, 0, :, :, dh] = slopes * self.steps  # the key's half of its ALiBi bias
        self.kv[:, 0, :, :, dh + 1] = 1.0  # meets the query's −slope·step
        self.kv[:, 1, :, :, dh] = 1.0  # sums the attention weights
        self.x = np.zeros(C, dtype=np.float32)  # residual stream of the position being run
        self._h = np.ones(C + 2, dtype=np.float32)  # a normalized residual, a 1, the step (input of qkv and fc)
        self._y = np.ones((H, 1, dh + 2), dtype=np.float32)  # attention output per head, a 1, a 0 (input of proj)
        self._f = np.ones(cfg.d_ff + 1, dtype=np.float32)  # MLP hidden and a 1 (input of out)
        self._scores = np.empty((H, L), dtype=np.float32)  # attention scores, then weights
        self._scale = np.zeros((), dtype=np.float32)  # a LayerNorm's 1/std (scale_normalize)
        self._qkv = np.empty(H * (dh + 2) + 2 * C, dtype=np.float32)  # a qkv product
        self._write = np.empty(C, dtype=np.float32)  # what a sub-layer adds to the stream
        self._gelu = np.empty(cfg.d_ff, dtype=np.float32)  # twice_gelu's scratch

    def run(self, n: int, x: np.ndarray, mask: np.ndarray | None = None, last: int = -1) -> None:
        """Position ``n`` with input ``x`` (C,) through the blocks; ``mask`` (n+1,) adds to the scores.

        ``last``: stop after writing that layer's keys and values (a position whose output
        predicts nothing); −1 runs every layer and writes ``hidden[n]``.
        """
        np.subtract(x, np.float32(np.add.reduce(x) / x.shape[0]), out=self.x)  # the stream is kept centred
        self._h[-1] = self.steps[n]
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing exp is caught below
            self._run(n, mask, last)

    def run_batch(self, n0: int, xs: np.ndarray, bias: np.ndarray) -> None:
        """Positions ``n0 .. n0+m−1`` with inputs ``xs`` (m, C) through the blocks in one pass.

        ``bias`` (m, n0+m) adds to the scores (the causal mask, and Museformer's). Writes the
        same keys, values and ``hidden`` rows as :meth:`run` on each position in turn, to float
        rounding (matrix-matrix instead of matrix-vector products); every position before
        ``n0`` must be cached.
        """
        H, dh, C = self.H, self.dh, self.C
        hq, m = H * (dh + 2), xs.shape[0]
        n1 = n0 + m
        xs = xs - xs.mean(axis=1, keepdims=True)  # centred, as in :meth:`run`
        h = np.ones((m, C + 2), np.float32)  # [normalized x, 1, step]
        h[:, C + 1] = self.steps[n0:n1]

        def norm(x: np.ndarray, out: np.ndarray) -> None:  # LayerNorm without gain and bias, row by row
            d = x - x.mean(axis=1, keepdims=True)
            np.multiply(d, 1.0 / np.sqrt((d * d).mean(axis=1, keepdims=True) + 1e-5), out=out)

        for i, (wqkv, wp, wfc, wo) in enumerate(self.layers):
            kv = self.kv[i]
            norm(xs, h[:, :C])
            qkv = h @ wqkv.T  # (m, H·(dh+2) + 2C)
            kv[:, :, n0:n1, :dh] = qkv[:, hq:].reshape(m, 2, H, dh).transpose(1, 2, 0, 3)
            q = qkv[:, :hq].reshape(m, H, dh + 2).transpose(1, 0, 2)  # (H, m, dh+2)
            scores = q @ kv[0, :, :n1].transpose(0, 2, 1) + bias  # (H, m, n1)
            scores -= scores.max(axis=2, keepdims=True)
            np.exp(scores, out=scores)
            y = scores @ kv[1, :, :n1]  # (H, m, dh+2): [Σ w·v, Σ w, 0]
            y /= y[:, :, dh:dh + 1]
            xs += y.transpose(1, 0, 2).reshape(m, hq) @ wp.T
            norm(xs, h[:, :C])
            f = np.ones((m, wfc.shape[0] + 1), np.float32)
            np.matmul(h, wfc.T, out=f[:, :-1])
            twice_gelu(f[:, :-1])
            xs += f @ wo.T
        norm(xs, self.hidden[n0:n1, :C])

    def _run(self, n: int, mask: np.ndarray | None, last: int) -> None:
        H, dh = self.H, self.dh
        C, hq, n1 = self.C, H * (dh + 2), n + 1  # hq: length of the queries in a qkv output
        xs, h, y, f, sc = self.x, self._h, self._y, self._f, self._scale
        qkv, w, u = self._qkv, self._write, self._gelu
        hc, fc, yw = h[:C], f[:-1], y[:, :, dh:dh + 1]  # yw: (H, 1, 1) the sum of each head's weights
        scores = self._scores[:, :n1]  # (H, n1)
        for i, (wqkv, wp, wfc, wo) in enumerate(self.layers):
            kv = self.kv[i]
            scale_normalize(xs, hc, sc)
            np.dot(wqkv, h, out=qkv)  # (H·(dh+2) + 2C,): per head [q/sqrt(dh), 1, −slope·step], then k, v
            kv[:, :, n, :dh] = qkv[hq:].reshape(2, H, dh)
            if i == last:
                return  # later positions need only its keys and values
            k, v, q = kv[0, :, :n1], kv[1, :, :n1], qkv[:hq].reshape(H, dh + 2, 1)
            np.matmul(k, q, out=scores[:, :, None])  # (H, n1): q·k − slope·(q_step − k_step)
            if mask is not None:
                scores += mask
            np.exp(scores, out=scores)
            np.matmul(scores[:, None, :], v, out=y)  # (H, 1, dh + 2): [Σ w·v, Σ w, 0]
            if not all(1e-20 < s < 3e38 for s in yw.ravel().tolist()):  # exp overflowed or underflowed
                _shifted_attention(k, v, q, mask, scores, y)
            y /= yw
            xs += np.dot(wp, y.ravel(), out=w)
            scale_normalize(xs, hc, sc)
            np.dot(wfc, h, out=fc)  # (d_ff,)
            twice_gelu(fc, u)
            xs += np.dot(wo, f, out=w)
        scale_normalize(xs, self.hidden[n, :C], sc)
