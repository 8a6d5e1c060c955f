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
"""
from __future__ import annotations

import numpy as np
import torch

from .conditioning import FIELDS, Conditioning
from .encoding import HOLD, N_VOICES, PITCH_OFFSET, REST, VOCAB_SIZE, pitch_of
from .model import SLOTS, ChoraleModel

__all__ = ["DecodeSession"]

_HOLD_BASE, _REST_ROW, _HOLD_SILENT_ROW = 128, 256, 257  # rows of the per-voice input table


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
        self._w = _numpy_weights(model)
        self._k = np.zeros((cfg.n_layer, self._H, self._max, self._dh), dtype=np.float32)  # key cache
        self._v = np.zeros((cfg.n_layer, self._H, self._max, self._dh), dtype=np.float32)  # value cache
        self._hidden = np.zeros((self._max, cfg.d_model), dtype=np.float32)  # ln_f output per fed position
        self.tokens = np.full((self.steps, N_VOICES), -1, dtype=np.int64)  # written tokens, -1 = not yet
        self._n = 0  # positions fed into the cache
        self._pitch = [-1] * N_VOICES  # pitch each voice sounds after its last written token
        self._logits: torch.Tensor | None = None
        self.bar_steps = int(cond.field("bar_steps")[0])
        self.pickup_steps = int((-cond.field("bar_pos")[0]) % max(self.bar_steps, 1))
        with torch.inference_mode():
            c = torch.as_tensor(cond.values, device=self._dev).unsqueeze(0)
            keep = torch.tensor([conditioned], device=self._dev)
            self._cond_rows = model.cond_emb(c, keep)[0].float().cpu().numpy()  # (T, C)
            self._bar_rows = model.voice_emb.bar_pos(c[0, :, FIELDS.index("bar_pos")]).float().cpu().numpy()  # (T, C)
            self._token_rows = self._token_table().float().cpu().numpy()  # (258, 4, C)
        pos = np.arange(self._max)
        self._k_steps = (pos // SLOTS).astype(np.float32)  # step of every position
        self._slopes = model.slopes.cpu().numpy().astype(np.float32).reshape(-1, 1)  # (H, 1)
        # ALiBi bias −slope·(q_step − k_step) up to a per-row constant, which softmax ignores
        self._alibi = self._slopes * self._k_steps  # (H, Lmax)
        if cfg.attention == "museformer":
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
        if self.done:
            raise IndexError("the session is complete: every step has been written")
        if self._logits is None:
            w = self._w
            self._logits = torch.from_numpy(w["head.weight"] @ self._hidden[self._n - 1] + w["head.bias"])
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
        self._feed(self._token_rows[row, v] + self._bar_rows[t])
        if v == N_VOICES - 1 and t + 1 < self.steps:
            self._feed(self._cond_rows[t + 1])

    def rewind(self, step: int, voice: int) -> None:
        """Forget every token from (step, voice) on; the cache is truncated, not recomputed."""
        cur = self.position
        if not (0 <= voice < N_VOICES and 0 <= step) or (step, voice) > cur:
            raise ValueError(f"cannot rewind to {(step, voice)}: the session is at {cur}")
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

    def _feed(self, x: np.ndarray) -> None:
        """Run one position (C,) through the blocks, writing its keys and values at ``_n``."""
        n, w, H, dh = self._n, self._w, self._H, self._dh
        x = x.astype(np.float32, copy=False)
        bias = self._alibi[:, :n + 1]  # (H, n+1)
        if self.model.cfg.attention == "museformer":
            d = self._bar[n] - self._bar[:n + 1]
            fine = (d == 0) | (d == 1) | (d == 2) | (d == 4) | (d == 8)
            bias = np.where(fine | self._downbeat_cond[:n + 1], bias, -np.inf)
        for i, (g1, b1, wqkv, bqkv, wp, bp, g2, b2, wfc, bfc, wo, bo) in enumerate(w["layers"]):
            h = _layer_norm(x, g1, b1)
            q, k, v = (wqkv @ h + bqkv).reshape(3, H, dh)  # q is pre-scaled by 1/sqrt(dh)
            kc, vc = self._k[i], self._v[i]
            kc[:, n] = k
            vc[:, n] = v
            att = np.matmul(kc[:, :n + 1], q[:, :, None])[:, :, 0] + bias  # (H, n+1)
            att = np.exp(att - att.max(axis=1, keepdims=True))
            att /= att.sum(axis=1, keepdims=True)
            y = np.matmul(att[:, None, :], vc[:, :n + 1]).reshape(-1)  # (C,)
            x = x + (wp @ y + bp)
            h = wfc @ _layer_norm(x, g2, b2) + bfc
            h = 0.5 * h * (1.0 + np.tanh(0.7978845608028654 * (h + 0.044715 * h * h * h)))
            x = x + (wo @ h + bo)
        self._hidden[n] = _layer_norm(x, w["ln_f.weight"], w["ln_f.bias"])
        self._n = n + 1
        self._logits = None


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mu = x.mean()
    d = x - mu
    return d / np.sqrt((d * d).mean() + eps) * weight + bias


def _numpy_weights(model: ChoraleModel) -> dict[str, np.ndarray]:
    """float32 numpy copies of the block, final-norm and head weights (shared per model)."""
    cached = getattr(model, "_numpy_weights_cache", None)
    version = sum(int(p._version) for p in model.parameters())
    if cached is not None and cached[0] == version:
        return cached[1]
    names = ("blocks.", "ln_f.", "head.")
    w: dict = {k: v.detach().float().cpu().numpy().copy() for k, v in model.state_dict().items() if k.startswith(names)}
    C = model.cfg.d_model
    scale = np.ones(3 * C, dtype=np.float32)
    scale[:C] = (C // model.cfg.n_head) ** -0.5  # fold the attention scale into the query rows
    w["layers"] = [tuple(w[f"blocks.{i}.{name}"] * (scale[:, None] if name == "attn.qkv.weight" else
                                                     scale if name == "attn.qkv.bias" else 1)
                         for name in ("ln1.weight", "ln1.bias", "attn.qkv.weight", "attn.qkv.bias",
                                      "attn.proj.weight", "attn.proj.bias", "ln2.weight", "ln2.bias",
                                      "fc.weight", "fc.bias", "out.weight", "out.bias"))
                   for i in range(model.cfg.n_layer)]
    object.__setattr__(model, "_numpy_weights_cache", (version, w))
    return w
