"""Incremental decoding of the interleaved model, one voice token at a time, with cheap rewind.

The hybrid decoder asks for logits, masks them, samples, pushes the token, and may
rewind a few steps when a mask comes out empty. Everything that does not depend on the
tokens written (conditioning embeddings, per-voice token embeddings, the ALiBi rows) is
computed once when the session opens. The blocks run one position at a time in numpy
(:class:`~partimento.neural.numpy_blocks.BlockStack`, shared with the per-step model's
session). A rewind keeps the cache rows after the new end: pushing the same input again
(a beam re-expanding, a restart that samples the same notes) reuses them instead of
recomputing.
"""
from __future__ import annotations

import numpy as np
import torch

from .conditioning import FIELDS, Conditioning
from .encoding import HOLD, N_VOICES, PITCH_OFFSET, REST, VOCAB_SIZE, pitch_of
from .model import SLOTS, InterleavedModel, fine_bar_distance
from .numpy_blocks import BlockStack, cached_on_weights, fold_linear, state_arrays

__all__ = ["DecodeSession", "previous_pitch", "token_row", "table_inputs"]

_HOLD_BASE, _REST_ROW, _HOLD_SILENT_ROW = 128, 256, 257  # rows of the per-voice input table
_COND_KEY, _NO_KEY = -2, -3  # cache keys of a conditioning position and of a never-fed one


def token_row(token: int, prev_pitch: int) -> int:
    """Row of a voice token in the per-voice input tables: attacks 0..127, holds of a pitch 128..255, rest, silent hold."""
    if token == HOLD:
        return _HOLD_BASE + prev_pitch if prev_pitch >= 0 else _HOLD_SILENT_ROW
    if token == REST:
        return _REST_ROW
    return token - PITCH_OFFSET


def table_inputs(device) -> tuple[torch.Tensor, torch.Tensor]:
    """(258,) tokens and (258,) sounding pitches of the table rows :func:`token_row` indexes."""
    pitches = torch.arange(128, device=device)
    tok = torch.cat([pitches + PITCH_OFFSET, torch.full((128,), HOLD, device=device),
                     torch.tensor([REST, HOLD], device=device)])  # (258,)
    pit = torch.cat([pitches, pitches, torch.tensor([-1, -1], device=device)])
    return tok, pit


def previous_pitch(tokens: np.ndarray, step: int, voice: int) -> int:
    """Pitch sounding in ``voice`` before ``step`` (walks back to the last attack or rest; -1 = unwritten)."""
    col = tokens[:step, voice]
    setters = np.nonzero((col != HOLD) & (col >= 0))[0]
    if len(setters) == 0:
        return -1
    return pitch_of(int(col[setters[-1]]), -1)


class DecodeSession:
    """Writes tokens in order (step 0 soprano, alto, tenor, bass, step 1 soprano, ...)."""

    def __init__(self, model: InterleavedModel, cond: Conditioning, conditioned: bool = True) -> None:
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
        pos = np.arange(self._max)
        self._stack = BlockStack(model, pos // SLOTS)
        self._head = cached_on_weights(model, "interleaved head", lambda: _head_weights(model))
        self._key = np.full(self._max, _NO_KEY, dtype=np.int32)  # what was fed at each cached position
        self._valid = 0  # cache rows [0, _valid) hold the prefix plus _key's inputs after _n
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
        self._token_row = cached_on_weights(model, "token table", self._token_table)  # (258, 4, C)
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
            self._logits = self._head @ self._stack.hidden[self._n - 1]
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
        row = token_row(token, prev)
        self.tokens[t, v] = token
        self._pitch[v] = pitch_of(token, prev)
        self._feed(self._token_row[row, v] + self._bar_rows[t], row)
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
        self._pitch = [previous_pitch(self.tokens, step + (u < voice), u) for u in range(N_VOICES)]
        self.tokens[step + 1:] = -1
        self._logits = None

    def current_pitches(self) -> list[int]:
        """MIDI pitch each voice sounds just before :attr:`position` (-1 silent)."""
        return list(self._pitch)

    # ------------------------------------------------------------------ internals
    def _token_table(self) -> np.ndarray:
        """Input embedding (without bar position) of every (token, held pitch) per voice, (258, 4, C) float32."""
        tok, pit = table_inputs(self._dev)
        n = tok.shape[0]
        with torch.inference_mode():
            emb = self.model.voice_emb(tok.view(1, n, 1).expand(1, n, N_VOICES).contiguous(),
                                       pit.view(1, n, 1).expand(1, n, N_VOICES).contiguous(),
                                       torch.zeros(1, n, dtype=torch.long, device=self._dev))[0]  # (258, 4, C)
            return (emb - self.model.voice_emb.bar_pos.weight[0]).float().cpu().numpy()

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
        mask = None
        if self._museformer:
            fine = fine_bar_distance(self._bar[n] - self._bar[:n1])
            mask = np.where(fine | self._downbeat_cond[:n1], np.float32(0), np.float32(-np.inf))  # (n1,)
        last = self.model.cfg.n_layer - 1 if n % SLOTS == N_VOICES else -1  # a bass position's output predicts nothing
        self._stack.run(n, x, mask, last)
        self.computed += 1
        self._n = n1


def _head_weights(model: InterleavedModel) -> np.ndarray:
    """The output layer with ln_f folded in, (vocab, C+1) float32 on [normalized x, 1]."""
    sd = state_arrays(model)
    head = fold_linear(sd["head.weight"], sd["head.bias"], sd["ln_f.weight"], sd["ln_f.bias"])
    return np.ascontiguousarray(head, dtype=np.float32)
