"""Incremental decoding of the per-step model, voice by voice, with a KV cache and cheap rewind.

The decoder's :class:`~partimento.hybrid.decode.Session` protocol is unchanged
(``position``, ``next_logits``, ``next_logits_array``, ``push``, ``rewind``): tokens go
in as soprano, alto, tenor, bass of step 0, then of step 1, ... . Underneath, the blocks
run once per step (:class:`~partimento.neural.numpy_blocks.BlockStack`, in numpy), when
the soprano of that step is first asked for, on the step's conditioning and the four
tokens of the step before; each voice then costs one pass of the small in-step head.

Everything that does not depend on the tokens written is computed before decoding: the
conditioning rows when the session opens, and once per model (kept for its later sessions
until its weights change) what the weights alone decide: per (token, held pitch) the rows
each voice token adds to the next step's input and to the head's input of the voices
below it (the projections are linear, so a table lookup and a sum replace the matmul),
and the head with its LayerNorms folded into the linear layers after them, as in the blocks.

A rewind inside a step recomputes only the head. A rewind to an earlier step keeps the
cached positions after it: a replay of the same tokens (a restart that samples the same
notes) reuses them; a different token recomputes from its step on.
``tests/neural/test_step_session.py`` checks the logits against the batched torch
forward to 1e-4.
"""
from __future__ import annotations

import numpy as np
import torch

from .conditioning import Conditioning
from .encoding import N_VOICES, VOCAB_SIZE, pitch_of
from .model import fine_bar_distance
from .numpy_blocks import BlockStack, cached_on_weights, centre_rows, fold_linear, scale_normalize, state_arrays, twice_gelu
from .session import previous_pitch, table_inputs, token_row
from .step_model import StepModel

__all__ = ["StepSession"]

_ROWS = 258  # rows of the token tables (see session.token_row)
_NO_KEY = -1


class StepSession:
    """Writes tokens in order (step 0 soprano, alto, tenor, bass, step 1 soprano, ...)."""

    def __init__(self, model: StepModel, cond: Conditioning, conditioned: bool = True) -> None:
        if len(cond) == 0:
            raise ValueError("cannot decode an empty plan (0 steps)")
        model.eval()  # decoding never uses dropout
        self.model = model
        self.cond = cond
        self.steps = T = len(cond)
        self.conditioned = conditioned
        cfg = model.cfg
        C = cfg.d_model
        dev = next(model.parameters()).device
        self._stack = BlockStack(model, np.arange(T))
        self._tables(cond, conditioned, dev)
        self._key = np.full(T, _NO_KEY, dtype=np.int64)  # the previous step's rows each cached position was fed
        self._valid = 0  # cache positions [0, _valid) hold the prefix plus _key's inputs after _ready
        self._ready = 0  # positions whose cache entry matches the tokens written now
        self.computed = 0  # positions run through the blocks (a replay after a rewind reuses instead)
        self.tokens = np.full((T, N_VOICES), -1, dtype=np.int64)  # written tokens, -1 = not yet
        self._rows = np.zeros((T, N_VOICES), dtype=np.int64)  # their table rows
        self._t, self._v = 0, 0
        self._pitch = [-1] * N_VOICES  # pitch each voice sounds after its last written token
        self._logits: np.ndarray | None = None
        self._h = np.zeros(C, dtype=np.float32)  # ln_f output of the current step
        self._h_step = -1
        self._z = np.zeros(C, dtype=np.float32)  # head residual stream
        self._zn = np.ones(C + 1, dtype=np.float32)  # normalized head residual, and a 1
        self._f = np.ones(cfg.head_ff + 1, dtype=np.float32)  # head MLP hidden, and a 1
        self._scale = np.zeros((), dtype=np.float32)  # a head LayerNorm's 1/std (scale_normalize)
        self._write = np.empty(C, dtype=np.float32)  # what the head's MLP adds to its stream
        self._gelu = np.empty(cfg.head_ff, dtype=np.float32)  # twice_gelu's scratch
        self.bar_steps = int(cond.field("bar_steps")[0])
        self.pickup_steps = int((-cond.field("bar_pos")[0]) % max(self.bar_steps, 1))
        self._museformer = cfg.attention == "museformer"
        if self._museformer:
            steps = np.arange(T)
            self._bar = (steps - self.pickup_steps + self.bar_steps) // self.bar_steps
            self._downbeat = (steps - self.pickup_steps) % self.bar_steps == 0

    def _tables(self, cond: Conditioning, conditioned: bool, dev) -> None:
        """The conditioning rows of this plan, and the tables that depend on the weights alone (see the module doc)."""
        m = self.model
        with torch.inference_mode():
            c = torch.as_tensor(cond.values, device=dev).unsqueeze(0)
            keep = torch.tensor([conditioned], device=dev)
            self._cond_rows = (m.cond_emb(c, keep)[0] + m.in_proj.bias).float().cpu().numpy()  # (T, C)
        (self._start_row, self._in_rows, self._above_rows, self._query, self._ln_f, self._head_layers,
         self._out) = cached_on_weights(m, "step tables", lambda: _weight_tables(m, dev))

    # ------------------------------------------------------------------ public API
    @property
    def position(self) -> tuple[int, int]:
        """(step, voice) of the next token to write; (steps, 0) when the piece is complete."""
        return self._t, self._v

    @property
    def done(self) -> bool:
        return self._t >= self.steps

    def next_logits(self) -> torch.Tensor:
        """(VOCAB_SIZE,) float logits for the token at :attr:`position`."""
        return torch.from_numpy(self.next_logits_array())

    def next_logits_array(self) -> np.ndarray:
        """The same logits as a float32 numpy array (what the decoder reads; do not modify)."""
        if self.done:
            raise IndexError("the session is complete: every step has been written")
        if self._logits is None:
            self._logits = self._head_logits()
        return self._logits

    def push(self, token: int) -> None:
        """Write ``token`` at :attr:`position`."""
        if self.done:
            raise IndexError("the session is complete: every step has been written")
        token = int(token)
        if not 0 <= token < VOCAB_SIZE:
            raise ValueError(f"token {token} outside the vocabulary 0..{VOCAB_SIZE - 1}")
        t, v = self._t, self._v
        prev = self._pitch[v]
        self.tokens[t, v] = token
        self._rows[t, v] = token_row(token, prev)
        self._pitch[v] = pitch_of(token, prev)
        self._logits = None
        if v == N_VOICES - 1:
            self._t, self._v = t + 1, 0
        else:
            self._v = v + 1

    def rewind(self, step: int, voice: int) -> None:
        """Forget every token from (step, voice) on; cached steps after it are kept for a replay."""
        cur = self.position
        if not (0 <= voice < N_VOICES and 0 <= step) or (step, voice) > cur:
            raise ValueError(f"cannot rewind to {(step, voice)}: the session is at {cur}")
        self._valid = max(self._valid, self._ready)
        self._ready = min(self._ready, step + 1)  # step's own input (the step before it) is unchanged
        self.tokens[step, voice:] = -1
        self.tokens[step + 1:] = -1
        self._pitch = [previous_pitch(self.tokens, step + (u < voice), u) for u in range(N_VOICES)]
        self._t, self._v = step, voice
        self._logits = None
        if self._h_step > step:
            self._h_step = -1

    def prefill(self, tokens) -> None:
        """Push ``tokens`` (a prefix in writing order) and run the blocks over the steps it completes in one pass.

        The same state as pushing them one by one and asking for the logits, reached with
        one batched forward over every step not yet cached (matrix-matrix products instead
        of a matrix-vector product per step): what replaying a stored prefix costs
        (``partimento explain`` on a file). The logits equal the incremental ones to float
        rounding, not bit for bit, so the decoder itself never takes this path (a
        recorded and an unrecorded decoding must read the same numbers);
        ``tests/neural/test_step_prefill.py``.
        """
        for tok in np.asarray(tokens, np.int64).reshape(-1).tolist():
            self.push(tok)
        if not self.done:
            self._run_step(self._t, batched=True)

    def current_pitches(self) -> list[int]:
        """MIDI pitch each voice sounds just before :attr:`position` (-1 silent)."""
        return list(self._pitch)

    # ------------------------------------------------------------------ internals
    def _step_key(self, t: int) -> int:
        """A code for position ``t``'s input: the table rows of step t−1's four tokens (0 before the piece)."""
        if t == 0:
            return 0
        r = self._rows[t - 1]
        return 1 + int(r[0]) + _ROWS * (int(r[1]) + _ROWS * (int(r[2]) + _ROWS * int(r[3])))

    def _run_step(self, t: int, batched: bool = False) -> None:
        """Bring the cache up to position ``t`` (every earlier step is written) and set ``_h``.

        ``batched``: the positions not cached run in one pass (:meth:`_run_batch`).
        """
        if batched:
            while self._ready <= t and self._ready < self._valid and self._key[self._ready] == self._step_key(self._ready):
                self._ready += 1  # cached and still valid
            if self._ready <= t:
                self._run_batch(self._ready, t)
        while self._ready <= t:
            n = self._ready
            key = self._step_key(n)
            if not (n < self._valid and self._key[n] == key):
                self._stack.run(n, self._step_input(n), self._mask_row(n))
                self._key[n] = key
                self._valid = n + 1
                self.computed += 1
            self._ready = n + 1
        C = self._h.shape[0]
        np.multiply(self._stack.hidden[t, :C], self._ln_f[0], out=self._h)
        self._h += self._ln_f[1]
        self._h -= np.float32(np.add.reduce(self._h) / C)  # the head's stream is kept centred (numpy_blocks)
        self._h_step = t

    def _step_input(self, n: int) -> np.ndarray:
        """(C,) the blocks' input at position ``n``: its conditioning and step n−1's four tokens."""
        if n == 0:
            return self._cond_rows[0] + self._start_row
        r = self._rows[n - 1]
        return (self._cond_rows[n] + self._in_rows[r[0], 0] + self._in_rows[r[1], 1]
                + self._in_rows[r[2], 2] + self._in_rows[r[3], 3])

    def _mask_row(self, n: int) -> np.ndarray | None:
        """(n+1,) Museformer's additive mask for position ``n`` (None: full attention)."""
        if not self._museformer:
            return None
        fine = fine_bar_distance(self._bar[n] - self._bar[:n + 1])
        return np.where(fine | self._downbeat[:n + 1], np.float32(0), np.float32(-np.inf))

    def _run_batch(self, n0: int, t: int) -> None:
        """Positions ``n0..t`` through the blocks at once (:meth:`BlockStack.run_batch`); every position before ``n0`` is cached."""
        n1 = t + 1
        xs = np.stack([self._step_input(n) for n in range(n0, n1)]).astype(np.float32)  # (m, C)
        bias = np.zeros((n1 - n0, n1), np.float32)  # causal: position n0 + j reads keys 0..n0 + j
        bias[np.arange(n1)[None, :] > np.arange(n0, n1)[:, None]] = -np.inf
        if self._museformer:
            for j, n in enumerate(range(n0, n1)):
                bias[j, :n + 1] += self._mask_row(n)
        self._stack.run_batch(n0, xs, bias)
        for n in range(n0, n1):
            self._key[n] = self._step_key(n)
        self._valid = self._ready = n1
        self.computed += n1 - n0

    def _head_logits(self) -> np.ndarray:
        t, v = self._t, self._v
        if self._h_step != t or self._ready <= t:
            self._run_step(t)
        z, zn, f = self._z, self._zn, self._f
        C = z.shape[0]
        np.add(self._h, self._query[v], out=z)
        rows = self._rows[t]
        for u in range(v):
            z += self._above_rows[v][u][rows[u]]
        zc, fc, sc, w, u = zn[:C], f[:-1], self._scale, self._write, self._gelu
        for wfc, wo in self._head_layers:
            scale_normalize(z, zc, sc)  # z is centred: _h is, and every row added to it
            np.dot(wfc, zn, out=fc)
            twice_gelu(fc, u)
            z += np.dot(wo, f, out=w)
        scale_normalize(z, zc, sc)
        return self._out @ zn


def _weight_tables(m: StepModel, dev) -> tuple:
    """What every session of ``m`` reads and only the weights decide, float32: the start row, per (token,
    held pitch) the rows each voice adds to the next step's input and to the head's input of the voices
    below, the head's queries, ln_f, and the head's layers with their LayerNorms folded in.

    Weight slices are made contiguous before the products (a strided operand makes numpy's matmul leave
    BLAS for a loop tens of times slower).
    """
    cfg = m.cfg
    dv = cfg.d_voice
    sd = state_arrays(m)
    with torch.inference_mode():
        start_row = (m.in_proj.weight @ m.start).float().cpu().numpy()  # (C,)
        tok, pit = table_inputs(dev)
        vec = m.voice_vec(tok, pit).double().cpu().numpy()  # (258, dv)

    def rows(w: np.ndarray, u: int) -> np.ndarray:  # (258, C): voice u's slice of w, applied to every table row
        return np.ascontiguousarray(vec @ np.ascontiguousarray(w[:, u * dv:(u + 1) * dv].T), dtype=np.float32)

    def centred(rows: np.ndarray) -> np.ndarray:  # each row less its mean: what the head adds to its centred stream
        return np.ascontiguousarray(centre_rows(rows.T).T, dtype=np.float32)

    w_in = sd["in_proj.weight"]  # (C, 4·dv)
    in_rows = np.ascontiguousarray(np.stack([rows(w_in, u) for u in range(N_VOICES)], 1))  # (258, 4, C)
    above_rows = [[centred(rows(sd[f"head.above.{v - 1}.weight"], u)) for u in range(v)]
                  for v in range(N_VOICES)]  # [v][u]: (258, C)
    query = centred(sd["head.query"])  # (4, C)
    ln_f = (sd["ln_f.weight"].astype(np.float32), sd["ln_f.bias"].astype(np.float32))
    head_layers = [
        (np.ascontiguousarray(fold_linear(sd[f"head.layers.{i}.fc.weight"], sd[f"head.layers.{i}.fc.bias"],
                                          sd[f"head.layers.{i}.ln.weight"], sd[f"head.layers.{i}.ln.bias"]),
                              dtype=np.float32),  # (head_ff, C+1) on [normalized z, 1]
         np.ascontiguousarray(centre_rows(fold_linear(0.5 * sd[f"head.layers.{i}.out.weight"],
                                                      sd[f"head.layers.{i}.out.bias"])),
                              dtype=np.float32))  # (C, head_ff+1) on [2·gelu, 1], centred like the stream
        for i in range(cfg.head_layers)]
    out = np.ascontiguousarray(fold_linear(sd["head.out.weight"], sd["head.out.bias"], sd["head.ln.weight"],
                                           sd["head.ln.bias"]), dtype=np.float32)  # (vocab, C+1)
    return start_row, in_rows, above_rows, query, ln_f, head_layers, out
