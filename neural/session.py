"""Incremental decoding with a KV cache, one voice token at a time, with cheap rewind.

The hybrid decoder asks for logits, masks them, samples, pushes the token, and may
rewind a few steps when a mask comes out empty. Everything that does not depend on the
tokens written (conditioning embeddings, per-voice token embeddings, the ALiBi rows) is
computed once when the session opens.

The per-position step runs in numpy on the CPU, not through ``nn.Module`` calls: at
batch one and width 128 the model is a chain of ~20 tiny ops per block, and torch's
per-op dispatch (5–20 µs) costs more than the arithmetic, while numpy's is ~1 µs. The
step mirrors :class:`~partimento.neural.model.Block` exactly (pre-norm attention with
ALiBi, tanh-GELU MLP); ``tests/neural/test_session.py`` checks it against the batched
torch forward to 1e-4.

Per position the step is ~25 numpy calls on preallocated buffers. To get there the
weights are rearranged once per model (:func:`_step_weights`) without changing the
function: each LayerNorm's gain and bias are folded into the linear layer after it;
every bias rides as an input column fed a constant 1; the GELU's 0.5 goes into the MLP's
output matrix. Keys carry two more components, ``(slope·step, 1)``, and queries
``(1, −slope·step)``, so one matmul gives the scores with their ALiBi bias
``−slope·(q_step − k_step) <= 0``; values carry a 1, so the matmul that weights them
also sums the weights. With the bias relative, the scores are the model's raw
attention logits and need no max-shift before ``exp`` (a rare overflow or underflow
falls back to the shifted softmax). A rewind keeps the cache rows after the new end:
pushing the same input again (a beam re-expanding, a restart that samples the same
notes) reuses them instead of recomputing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .conditioning import FIELDS, Conditioning
from .encoding import HOLD, N_VOICES, PITCH_OFFSET, REST, VOCAB_SIZE, pitch_of
from .model import SLOTS, ChoraleModel, fine_bar_distance

__all__ = ["DecodeSession"]

_HOLD_BASE, _REST_ROW, _HOLD_SILENT_ROW = 128, 256, 257  # rows of the per-voice input table
_COND_KEY, _NO_KEY = -2, -3  # cache keys of a conditioning position and of a never-fed one


class DecodeSession:
    """Writes tokens in order (step 0 soprano, alto, tenor, bass, step 1 soprano, ...)."""

    def __init__(self, model: ChoraleModel, cond: Conditioning, conditioned: bool = True) -> None:
        if len(cond) == 0:
            raise ValueError("cannot decode an empty plan (0 steps)")
        model.eval()  # decoding never uses dropout
        self.model = model
        self.cond = cond
        self.steps = len(cond)
        self.conditioned = conditioned
        cfg = model.cfg
        self._dev = next(model.parameters()).device
        self._max = self.steps * SLOTS
        self._H, self._dh = cfg.n_head, cfg.d_model // cfg.n_head
        self._w = _step_weights(model)
        C, H, dh, L = cfg.d_model, self._H, self._dh, self._max
        # (layer, key|value, head, position, dh + 2): keys [k, slope·step, 1], values [v, 1, 0]
        self._kv = np.zeros((cfg.n_layer, 2, H, L, dh + 2), dtype=np.float32)
        self._hidden = np.ones((L, C + 1), dtype=np.float32)  # normalized final state per position, and a 1
        self._key = np.full(L, _NO_KEY, dtype=np.int32)  # what was fed at each cached position
        self._valid = 0  # cache rows [0, _valid) hold the prefix plus _key's inputs after _n
        self._x = np.zeros(C, dtype=np.float32)  # residual stream of the position being fed
        self._h = np.ones(C + 2, dtype=np.float32)  # a normalized residual, a 1, the step (input of qkv and fc)
        self._y = np.ones((H, 1, dh + 2), dtype=np.float32)  # attention output per head, a 1, a 0 (input of proj)
        self._f = np.ones(cfg.d_ff + 1, dtype=np.float32)  # MLP hidden and a 1 (input of out)
        self._scores = np.empty((H, L), dtype=np.float32)  # attention scores, then weights
        self.computed = 0  # positions run through the blocks (a replay after a rewind reuses instead)
        self.tokens = np.full((self.steps, N_VOICES), -1, dtype=np.int64)  # written tokens, -1 = not yet
        self._n = 0  # positions fed into the cache
        self._pitch = [-1] * N_VOICES  # pitch each voice sounds after its last written token
        self._logits: np.ndarray | None = None
        self.bar_steps = int(cond.field("bar_steps")[0])
        self.pickup_steps = int((-cond.field("bar_pos")[0]) % max(self.bar_steps, 1))
        with torch.inference_mode():
            c = torch.as_tensor(cond.values, device=self._dev).unsqueeze(0)
            keep = torch.tensor([conditioned], device=self._dev)
            self._cond_rows = model.cond_emb(c, keep)[0].float().cpu().numpy()  # (T, C)
            self._bar_rows = model.voice_emb.bar_pos(c[0, :, FIELDS.index("bar_pos")]).float().cpu().numpy()  # (T, C)
            self._token_rows = self._token_table().float().cpu().numpy()  # (258, 4, C)
        pos = np.arange(self._max)
        slopes = model.slopes.cpu().numpy().astype(np.float32).reshape(-1, 1)  # (H, 1)
        self._kv[:, 0, :, :, dh] = slopes * (pos // SLOTS)  # the key's half of its ALiBi bias
        self._kv[:, 0, :, :, dh + 1] = 1.0  # meets the query's −slope·step
        self._kv[:, 1, :, :, dh] = 1.0  # sums the attention weights
        self._museformer = cfg.attention == "museformer"
        if self._museformer:
            step = pos // SLOTS
            self._bar = (step - self.pickup_steps + self.bar_steps) // self.bar_steps
            self._downbeat_cond = ((step - self.pickup_steps) % self.bar_steps == 0) & (pos % SLOTS == 0)
        self._feed(self._cond_rows[0])

    # ------------------------------------------------------------------ public API
    @property
    def position(self) -> tuple[int, int]:
        """(step, voice) of the next token to write; (steps, 0) when the piece is complete."""
        t, slot = divmod(self._n - 1, SLOTS)
        return (t, slot) if slot < N_VOICES else (t + 1, 0)

    @property
    def done(self) -> bool:
        return self.position[0] >= self.steps

    def next_logits(self) -> torch.Tensor:
        """(VOCAB_SIZE,) float logits for the token at :attr:`position`."""
        return torch.from_numpy(self.next_logits_array())

    def next_logits_array(self) -> np.ndarray:
        """The same logits as a float32 numpy array (what the decoder reads; do not modify)."""
        if self.done:
            raise IndexError("the session is complete: every step has been written")
        if self._logits is None:
            self._logits = self._w.head @ self._hidden[self._n - 1]
        return self._logits

    def push(self, token: int) -> None:
        """Write ``token`` at :attr:`position`; after a bass, the next step's conditioning follows."""
        if self.done:
            raise IndexError("the session is complete: every step has been written")
        token = int(token)
        if not 0 <= token < VOCAB_SIZE:
            raise ValueError(f"token {token} outside the vocabulary 0..{VOCAB_SIZE - 1}")
        t, v = self.position
        prev = self._pitch[v]
        if token == HOLD:
            row = _HOLD_BASE + prev if prev >= 0 else _HOLD_SILENT_ROW
        elif token == REST:
            row = _REST_ROW
        else:
            row = token - PITCH_OFFSET
        self.tokens[t, v] = token
        self._pitch[v] = pitch_of(token, prev)
        self._feed(self._token_rows[row, v] + self._bar_rows[t], row)
        if v == N_VOICES - 1 and t + 1 < self.steps:
            self._feed(self._cond_rows[t + 1])

    def rewind(self, step: int, voice: int) -> None:
        """Forget every token from (step, voice) on; the cache is truncated, not recomputed."""
        cur = self.position
        if not (0 <= voice < N_VOICES and 0 <= step) or (step, voice) > cur:
            raise ValueError(f"cannot rewind to {(step, voice)}: the session is at {cur}")
        self._valid = max(self._valid, self._n)  # rows after the new end stay, for replays
        self._n = step * SLOTS + voice + 1
        self.tokens[step, voice:] = -1
        self._pitch = [self._previous_pitch(step + (u < voice), u) for u in range(N_VOICES)]
        self.tokens[step + 1:] = -1
        self._logits = None

    def current_pitches(self) -> list[int]:
        """MIDI pitch each voice sounds just before :attr:`position` (-1 silent)."""
        return list(self._pitch)

    # ------------------------------------------------------------------ internals
    def _previous_pitch(self, step: int, voice: int) -> int:
        """Pitch sounding in ``voice`` before ``step`` (walks back to the last attack or rest)."""
        col = self.tokens[:step, voice]
        setters = np.nonzero((col != HOLD) & (col >= 0))[0]
        if len(setters) == 0:
            return -1
        return pitch_of(int(col[setters[-1]]), -1)

    def _token_table(self) -> torch.Tensor:
        """Input embedding (without bar position) of every (token, held pitch) per voice."""
        pitches = torch.arange(128, device=self._dev)
        tok = torch.cat([pitches + PITCH_OFFSET, torch.full((128,), HOLD, device=self._dev),
                         torch.tensor([REST, HOLD], device=self._dev)])  # (258,)
        pit = torch.cat([pitches, pitches, torch.tensor([-1, -1], device=self._dev)])
        n = tok.shape[0]
        emb = self.model.voice_emb(tok.view(1, n, 1).expand(1, n, N_VOICES).contiguous(),
                                   pit.view(1, n, 1).expand(1, n, N_VOICES).contiguous(),
                                   torch.zeros(1, n, dtype=torch.long, device=self._dev))[0]  # (258, 4, C)
        return emb - self.model.voice_emb.bar_pos.weight[0]

    def _feed(self, x: np.ndarray, key: int = _COND_KEY) -> None:
        """Run one position (C,) through the blocks, writing its keys and values at ``_n``.

        ``key`` names the input (its token-table row; a conditioning row is fixed by its
        position): when the cache row at ``_n`` already holds that input after the
        current prefix (a rewind kept it), its keys, values and output are reused.
        """
        n = self._n
        self._logits = None
        if n < self._valid and self._key[n] == key:
            self._n = n + 1
            return
        self._key[n] = key
        self._valid = n1 = n + 1
        self._x[:] = x
        self._h[-1] = n // SLOTS
        mask = None
        if self._museformer:
            fine = fine_bar_distance(self._bar[n] - self._bar[:n1])
            mask = np.where(fine | self._downbeat_cond[:n1], np.float32(0), np.float32(-np.inf))  # (n1,)
        last = len(self._w.layers) - 1 if n % SLOTS == N_VOICES else -1  # a bass position's output predicts nothing
        with np.errstate(over="ignore", invalid="ignore"):  # an overflowing exp is caught in _blocks
            self._blocks(n, mask, last)
        self.computed += 1
        self._n = n1

    def _blocks(self, n: int, mask: np.ndarray | None, last: int) -> None:
        """The body of :meth:`_feed`: position ``n`` through every block (and ln_f)."""
        H, dh, w = self._H, self._dh, self._w
        C, hq, n1 = self._x.shape[0], H * (dh + 2), n + 1  # hq: length of the queries in a qkv output
        xs, h, y, f = self._x, self._h, self._y, self._f
        hc, fc, yw = h[:C], f[:-1], y[:, :, dh:dh + 1]  # yw: (H, 1, 1) the sum of each head's weights
        scores = self._scores[:, :n1]  # (H, n1)
        for i, (wqkv, wp, wfc, wo) in enumerate(w.layers):
            kv = self._kv[i]
            _normalize(xs, hc)
            qkv = wqkv @ h  # (H·(dh+2) + 2C,): per head [q/sqrt(dh), 1, −slope·step], then k, v
            kv[:, :, n, :dh] = qkv[hq:].reshape(2, H, dh)
            if i == last:
                break  # later positions need only its keys and values
            k, v, q = kv[0, :, :n1], kv[1, :, :n1], qkv[:hq].reshape(H, dh + 2, 1)
            np.matmul(k, q, out=scores[:, :, None])  # (H, n1): q·k − slope·(q_step − k_step)
            if mask is not None:
                scores += mask
            np.exp(scores, out=scores)
            np.matmul(scores[:, None, :], v, out=y)  # (H, 1, dh + 2): [Σ w·v, Σ w, 0]
            if not all(1e-20 < s < 3e38 for s in yw.ravel().tolist()):  # exp overflowed or underflowed
                _shifted_attention(k, v, q, mask, scores, y)
            y /= yw
            xs += wp @ y.ravel()
            _normalize(xs, hc)
            np.dot(wfc, h, out=fc)  # (d_ff,)
            _twice_gelu(fc)
            xs += wo @ f
        else:
            _normalize(xs, self._hidden[n, :C])


def _shifted_attention(k, v, q, mask, scores, y) -> None:
    """The softmax-weighted values with the max-shift, for scores too large or small for a bare ``exp``."""
    np.matmul(k, q, out=scores[:, :, None])
    if mask is not None:
        scores += mask
    scores -= scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    np.matmul(scores[:, None, :], v, out=y)


_GELU_A = math.sqrt(2.0 / math.pi)
_GELU_B = _GELU_A * 0.044715


def _normalize(x: np.ndarray, out: np.ndarray, eps: float = 1e-5) -> None:
    """``out`` <- LayerNorm(x) without gain and bias (those are folded into the next layer)."""
    d = x - np.add.reduce(x) / x.shape[0]
    np.multiply(d, 1.0 / math.sqrt(float(np.dot(d, d)) / x.shape[0] + eps), out=out)


def _twice_gelu(h: np.ndarray) -> None:
    """``h`` <- 2·gelu(h), tanh approximation, in place (the 0.5 is folded into the next layer)."""
    u = h * h
    u *= _GELU_B
    u += _GELU_A
    u *= h
    np.tanh(u, out=u)
    u += 1.0
    h *= u


@dataclass(frozen=True)
class _StepWeights:
    """The blocks' and head's weights rearranged for the one-position step (see the module doc).

    Per layer, each matrix acting on its input buffer: ``qkv`` (H·(dh+2) + 2C, C+2) on
    [LN1-normalized x, 1, step], with ln1 folded in and each head's queries scaled by
    1/sqrt(dh) and followed by the rows giving 1 and −slope·step; ``proj`` (C, H·(dh+2))
    on the heads' [y, 1, 0]; ``fc`` (d_ff, C+2) with ln2 folded in; ``out`` (C, d_ff+1)
    halved, on [2·gelu, 1]; ``head`` (vocab, C+1) on [ln_f-normalized x, 1].
    """

    layers: tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]
    head: np.ndarray


def _step_weights(model: ChoraleModel) -> _StepWeights:
    """The model's weights as :class:`_StepWeights`, float32 (cached per model and weight version)."""
    cached = getattr(model, "_step_weights_cache", None)
    version = sum(int(p._version) for p in model.parameters())
    if cached is not None and cached[0] == version:
        return cached[1]
    sd = {k: v.detach().double().cpu().numpy() for k, v in model.state_dict().items()}
    C, H = model.cfg.d_model, model.cfg.n_head
    dh = C // H
    slopes = model.slopes.detach().double().cpu().numpy()

    def linear(weight, bias, gain=None, shift=None, extra=0):  # [W·diag(gain) | W·shift + b | 0...]
        if gain is not None:
            weight, bias = weight * gain, weight @ shift + bias
        return np.concatenate([weight, bias[:, None], np.zeros((len(bias), extra))], 1)

    layers = []
    for i in range(model.cfg.n_layer):
        p = {name: sd[f"blocks.{i}.{name}"] for name in (
            "ln1.weight", "ln1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
            "ln2.weight", "ln2.bias", "fc.weight", "fc.bias", "out.weight", "out.bias")}
        qkv = linear(p["attn.qkv.weight"], p["attn.qkv.bias"], p["ln1.weight"], p["ln1.bias"], extra=1)  # (3C, C+2)
        q = np.zeros((H, dh + 2, C + 2))
        q[:, :dh] = qkv[:C].reshape(H, dh, C + 2) * dh ** -0.5
        q[:, dh, C] = 1.0  # meets the key's slope·step
        q[:, dh + 1, C + 1] = -slopes  # times the step: the query's half of the ALiBi bias
        proj = np.zeros((C, H, dh + 2))
        proj[:, :, :dh] = p["attn.proj.weight"].reshape(C, H, dh)
        proj[:, 0, dh] = p["attn.proj.bias"]  # meets head 0's normalized weight sum, 1
        layers.append(tuple(np.ascontiguousarray(a, dtype=np.float32) for a in (
            np.concatenate([q.reshape(H * (dh + 2), C + 2), qkv[C:]]),
            proj.reshape(C, H * (dh + 2)),
            linear(p["fc.weight"], p["fc.bias"], p["ln2.weight"], p["ln2.bias"], extra=1),
            linear(0.5 * p["out.weight"], p["out.bias"]))))
    head = linear(sd["head.weight"], sd["head.bias"], sd["ln_f.weight"], sd["ln_f.bias"])
    w = _StepWeights(tuple(layers), np.ascontiguousarray(head, dtype=np.float32))
    object.__setattr__(model, "_step_weights_cache", (version, w))
    return w
