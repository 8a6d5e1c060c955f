"""The per-step chorale transformer: one sequence position per sixteenth step.

Position ``t`` reads the plan's conditioning of step ``t`` plus the four voice tokens of
step ``t − 1`` (silence before the first step), so the blocks see the whole past and the
plan up to and including the step being written; their output ``h_t`` summarizes it. A
small head inside the step then writes the four voices in order: soprano from ``h_t``;
alto from ``h_t`` and the soprano just written; tenor from ``h_t``, soprano and alto;
bass from all three. Each voice of the step therefore sees the voices above it, as in the
interleaved layout, with a sequence five times shorter: attention and the blocks' work
shrink by five, and the head is a residual MLP that costs far less than a block.

Voice tokens are embedded per voice the factorized way (kind + pitch class + octave of the
pitch sounding after the token, so a HOLD carries the pitch it holds) or plainly (one row
per token), then the four are concatenated and projected, so the model knows which voice
holds which pitch. Positions enter as ALiBi step distances and the position in the bar
(a conditioning field), so 8-bar training windows decode 64-bar plans.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .conditioning import Conditioning
from .encoding import N_VOICES, VOCAB_SIZE
from .model import ChoraleModel, ModelConfig, museformer_allowed, sounding_pitch_tensor

__all__ = ["VoiceVectors", "StepHead", "StepModel"]


class VoiceVectors(nn.Module):
    """One vector (d_voice) per voice token, from the token and the pitch sounding after it.

    ``factorized``: kind (hold / rest / attack) + pitch class + octave, 28 rows instead of
    130 and the held pitch visible at every HOLD; ``plain``: one row per token (+ kind so
    a HOLD is told apart from nothing), for the ablation.
    """

    def __init__(self, d_voice: int, embedding: str) -> None:
        super().__init__()
        self.embedding = embedding
        self.kind = nn.Embedding(3, d_voice)  # 0 hold, 1 rest, 2 attack
        if embedding == "factorized":
            self.pitch_class = nn.Embedding(13, d_voice)  # 12 = silent
            self.octave = nn.Embedding(12, d_voice)  # 11 = silent
        else:
            self.token = nn.Embedding(VOCAB_SIZE, d_voice)

    def forward(self, tokens: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        # tokens, pitch: (..., V) -> (..., V, d_voice)
        kind = torch.clamp(tokens, max=2)
        if self.embedding != "factorized":
            return self.kind(kind) + self.token(tokens)
        silent = pitch < 0
        pc = torch.where(silent, torch.full_like(pitch, 12), pitch % 12)
        octv = torch.where(silent, torch.full_like(pitch, 11), torch.clamp(pitch // 12, max=10))
        return self.kind(kind) + self.pitch_class(pc) + self.octave(octv)


class HeadLayer(nn.Module):
    """Pre-norm residual MLP layer of the in-step head."""

    def __init__(self, d_model: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, d_ff)
        self.out = nn.Linear(d_ff, d_model)
        self.dropout = dropout

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.out(F.gelu(self.fc(self.ln(z)), approximate="tanh"))
        return z + (F.dropout(h, self.dropout) if self.training else h)


class StepHead(nn.Module):
    """Writes soprano → alto → tenor → bass of one step from ``h_t`` and the voices above.

    Voice ``v``'s input is ``h_t + query_v + above_v(concat of voices 0..v−1)``; then
    ``head_layers`` residual MLP layers, a LayerNorm and the output projection, shared by
    the four voices (the query tells them apart).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        C, dv = cfg.d_model, cfg.d_voice
        self.query = nn.Parameter(torch.zeros(N_VOICES, C))
        self.above = nn.ModuleList(nn.Linear(v * dv, C, bias=False) for v in range(1, N_VOICES))
        self.layers = nn.ModuleList(HeadLayer(C, cfg.head_ff, cfg.dropout) for _ in range(cfg.head_layers))
        self.ln = nn.LayerNorm(C)
        self.out = nn.Linear(C, cfg.vocab_size)

    def forward(self, h: torch.Tensor, vecs: torch.Tensor) -> torch.Tensor:
        # h: (B, T, C) step summaries; vecs: (B, T, 4, dv) this step's voice vectors (teacher forcing)
        z = [h + self.query[0]]
        for v in range(1, N_VOICES):
            z.append(h + self.query[v] + self.above[v - 1](vecs[..., :v, :].flatten(-2)))
        z = torch.stack(z, dim=-2)  # (B, T, 4, C)
        for layer in self.layers:
            z = layer(z)
        return self.out(self.ln(z))  # (B, T, 4, vocab)


class StepModel(ChoraleModel):
    """One position per step; see the module docstring."""

    arch = "step"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.voice_vec = VoiceVectors(cfg.d_voice, cfg.embedding)
        self.start = nn.Parameter(torch.zeros(N_VOICES * cfg.d_voice))  # "step −1": before the piece
        self.in_proj = nn.Linear(N_VOICES * cfg.d_voice, cfg.d_model)
        self.head = StepHead(cfg)
        self.apply(self._init)

    def attention_bias(self, q_step: torch.Tensor, k_step: torch.Tensor, bar_steps: int = 16,
                       pickup_steps: int = 0) -> torch.Tensor:
        """(H, Lq, Lk) additive bias: −slope·(step distance), −inf for future (or non-fine) keys.

        Museformer option: a query sees every step of its own bar and of bars −1, −2, −4,
        −8 (fine), and of every other earlier bar only its downbeat step (coarse; the plan
        and voices at the downbeat stand in for Museformer's learned bar summary).
        """
        dist = (q_step.unsqueeze(-1) - k_step.unsqueeze(-2)).float()  # (Lq, Lk)
        allowed = dist >= 0
        if self.cfg.attention == "museformer":
            bar = lambda s: torch.div(s - pickup_steps + bar_steps, bar_steps, rounding_mode="floor")
            downbeat = (k_step - pickup_steps) % bar_steps == 0
            allowed = allowed & (museformer_allowed(bar(q_step), bar(k_step)) | downbeat.unsqueeze(-2))
        bias = -self.slopes.view(-1, 1, 1) * dist  # (H, Lq, Lk)
        return bias.masked_fill(~allowed, float("-inf"))

    def embed(self, tokens: torch.Tensor, pitch: torch.Tensor, cond: torch.Tensor,
              keep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Block input (B, T, C) and this step's voice vectors (B, T, 4, dv)."""
        B, T, V = tokens.shape
        vecs = self.voice_vec(tokens, pitch)  # (B, T, 4, dv)
        prev = torch.cat([self.start.expand(B, 1, -1), vecs[:, :-1].flatten(-2)], dim=1)  # (B, T, 4·dv)
        return self.cond_emb(cond, keep) + self.in_proj(prev), vecs

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor, keep: torch.Tensor | None = None,
                bar_steps: int = 16, pickup_steps: int = 0) -> torch.Tensor:
        """Logits (B, T, 4, vocab) for every voice token given everything before it."""
        B, T, V = tokens.shape
        x, vecs = self.embed(tokens, sounding_pitch_tensor(tokens), cond, keep)
        steps = torch.arange(T, device=tokens.device)
        x = self._run_blocks(x, lambda q: self.attention_bias(steps[q], steps[:q.stop], bar_steps, pickup_steps), T)
        return self.head(self.ln_f(x), vecs)

    def session(self, cond: Conditioning, conditioned: bool = True):
        """An incremental decoding session over this plan (see :mod:`.step_session`)."""
        from .step_session import StepSession

        return StepSession(self, cond, conditioned)

