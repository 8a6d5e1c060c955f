"""The chorale transformers: config, shared layers, the base class and the interleaved model.

Two architectures share everything but the sequence layout (``ModelConfig.arch``):

* ``"step"`` (the default, :class:`~partimento.neural.step_model.StepModel`): one
  sequence position per sixteenth step; a small head inside the step writes soprano,
  alto, tenor, bass, each given the voices above it. Five times shorter sequences.
* ``"interleaved"`` (:class:`InterleavedModel`, kept for the ablation and for old
  checkpoints): per sixteenth step ``t`` the sequence holds five positions
  ``[C_t, S_t, A_t, T_t, B_t]``; the hidden state at position ``5t + v`` predicts voice
  ``v`` of step ``t`` (so ``C_t`` predicts the soprano, ``S_t`` the alto, ...), and the
  output of ``B_t`` is unused.

Read top to bottom: config, the two embeddings (plan conditioning, factorized voice
tokens), attention with ALiBi over step distance, the block, the base class, the
interleaved model, :func:`build_model`. Positions enter only as distances in steps
(ALiBi) and as the position in the bar, so a model trained on 8-bar windows decodes
64-bar plans.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .conditioning import FIELD_SIZES, FIELDS, Conditioning
from .config import ARCHITECTURES, CONFIGS, ModelConfig
from .encoding import HOLD, N_VOICES, PITCH_OFFSET, VOCAB_SIZE

__all__ = ["SLOTS", "ATTENTION_CHUNK", "ARCHITECTURES", "ModelConfig", "CONFIGS", "ConditioningEmbedding",
           "SmartEmbedding", "PlainEmbedding", "ChoraleModel", "InterleavedModel", "build_model",
           "model_class", "sounding_pitch_tensor", "museformer_allowed", "fine_bar_distance"]

SLOTS = N_VOICES + 1  # positions per step: conditioning + four voices
ATTENTION_CHUNK = 2048  # longer sequences attend query chunk by query chunk (bounds the (H, Lq, Lk) bias)


def sounding_pitch_tensor(tokens: torch.Tensor) -> torch.Tensor:
    """(..., T, V) tokens -> (..., T, V) pitch sounding after each token (-1 silent); torch version."""
    steps = tokens.shape[-2]
    idx = torch.arange(steps, device=tokens.device).view(-1, 1).expand_as(tokens)
    setter = torch.where(tokens != HOLD, idx, torch.full_like(idx, -1))
    last = torch.cummax(setter, dim=-2).values  # (..., T, V) step that last set the pitch
    pitch = torch.where(tokens >= PITCH_OFFSET, tokens - PITCH_OFFSET, torch.full_like(tokens, -1))
    gathered = torch.gather(pitch, -2, last.clamp(min=0))
    return torch.where(last >= 0, gathered, torch.full_like(gathered, -1))


class ConditioningEmbedding(nn.Module):
    """One vector per step from the plan fields (see :mod:`.conditioning`).

    Categorical fields get small tables that are summed; the two chord masks are fed as
    bits both relative to the tonic and rotated to absolute pitch classes, so the model
    sees "the third of the key" and "E natural" without learning the rotation. A learned
    null vector replaces everything but the bar position when conditioning is dropped.
    """

    BIT_FIELDS = ("pcs", "next_pcs")

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.tables = nn.ModuleDict({name: nn.Embedding(FIELD_SIZES[name], d_model)
                                     for name in FIELDS if name not in self.BIT_FIELDS})
        self.bits = nn.Linear(4 * 12, d_model)
        self.null = nn.Parameter(torch.zeros(d_model))
        self.register_buffer("bit_index", torch.arange(12), persistent=False)

    def forward(self, cond: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        # cond: (B, T, F) long; keep: (B,) bool, False = null conditioning
        col = {name: i for i, name in enumerate(FIELDS)}
        out = self.tables["bar_pos"](cond[..., col["bar_pos"]])  # (B, T, C)
        cond_part = 0
        for name, table in self.tables.items():
            if name != "bar_pos":
                cond_part = cond_part + table(cond[..., col[name]])
        tonic = cond[..., col["tonic"]].unsqueeze(-1)  # (B, T, 1)
        absolute = (self.bit_index - tonic) % 12  # (B, T, 12): bit j of absolute = bit (j - tonic) of relative
        feats = []
        for name in self.BIT_FIELDS:
            rel = (cond[..., col[name]].unsqueeze(-1) >> self.bit_index) & 1  # (B, T, 12)
            feats += [rel, torch.gather(rel, -1, absolute)]
        cond_part = cond_part + self.bits(torch.cat(feats, -1).float())  # (B, T, C)
        if keep is not None:
            cond_part = torch.where(keep.view(-1, 1, 1), cond_part, self.null)
        return out + cond_part


class SmartEmbedding(nn.Module):
    """Factorized voice-token embedding after the "smart embedding" idea.

    A token is embedded as kind (hold / rest / attack) + pitch class + octave of the pitch
    sounding after it + voice + position in bar, instead of one row per pitch: octave
    equivalence and held pitches are given rather than learned, with 48 rows instead of
    130 and the held pitch visible at every HOLD.
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.kind = nn.Embedding(3, d_model)  # 0 hold, 1 rest, 2 attack
        self.pitch_class = nn.Embedding(13, d_model)  # 12 = silent
        self.octave = nn.Embedding(12, d_model)  # 11 = silent
        self.voice = nn.Embedding(N_VOICES, d_model)
        self.bar_pos = nn.Embedding(FIELD_SIZES["bar_pos"], d_model)

    def forward(self, tokens: torch.Tensor, pitch: torch.Tensor, bar_pos: torch.Tensor) -> torch.Tensor:
        # tokens, pitch: (B, T, V); bar_pos: (B, T)
        kind = torch.clamp(tokens, max=2)  # HOLD 0, REST 1, attacks 2
        silent = pitch < 0
        pc = torch.where(silent, torch.full_like(pitch, 12), pitch % 12)
        octv = torch.where(silent, torch.full_like(pitch, 11), torch.clamp(pitch // 12, max=10))
        voices = torch.arange(tokens.shape[-1], device=tokens.device)
        return (self.kind(kind) + self.pitch_class(pc) + self.octave(octv) + self.voice(voices)
                + self.bar_pos(bar_pos).unsqueeze(-2))  # (B, T, V, C)


class PlainEmbedding(nn.Module):
    """Baseline for the ablation: one row per token (+ voice + position in bar)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.token = nn.Embedding(VOCAB_SIZE, d_model)
        self.voice = nn.Embedding(N_VOICES, d_model)
        self.bar_pos = nn.Embedding(FIELD_SIZES["bar_pos"], d_model)

    def forward(self, tokens: torch.Tensor, pitch: torch.Tensor, bar_pos: torch.Tensor) -> torch.Tensor:
        voices = torch.arange(tokens.shape[-1], device=tokens.device)
        return self.token(tokens) + self.voice(voices) + self.bar_pos(bar_pos).unsqueeze(-2)


def alibi_slopes(n_head: int) -> torch.Tensor:
    """ALiBi head slopes (per step of distance): a geometric series from 1/2 down."""
    return torch.tensor([2.0 ** (-8.0 * (h + 1) / n_head) for h in range(n_head)]) * 4.0


def fine_bar_distance(d):
    """Museformer's fine bars: bar distance 0, 1, 2, 4 or 8 (elementwise; torch tensor or numpy array)."""
    return (d == 0) | (d == 1) | (d == 2) | (d == 4) | (d == 8)


def museformer_allowed(q_bar: torch.Tensor, k_bar: torch.Tensor) -> torch.Tensor:
    """Museformer fine attention: keys in the query's bar or bars -1, -2, -4, -8 before it."""
    return fine_bar_distance(q_bar.unsqueeze(-1) - k_bar.unsqueeze(-2))  # (Lq, Lk)


class Attention(nn.Module):
    """Causal self-attention with an ALiBi bias on step distance and an optional KV cache."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head, self.d_head = cfg.n_head, cfg.d_model // cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, bias: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None,
                at: int = 0) -> torch.Tensor:
        # x: (B, L, C); bias: (H, L, Lk) additive (−inf where masked); cache: (k, v) each (B, H, Lmax, Dh)
        B, L, C = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.n_head, self.d_head).permute(2, 0, 3, 1, 4)  # 3 x (B, H, L, Dh)
        if cache is not None:  # write this chunk into the cache, attend to everything so far
            cache[0][:, :, at:at + L] = k
            cache[1][:, :, at:at + L] = v
            k, v = cache[0][:, :, :at + L], cache[1][:, :, :at + L]
        if L == 1 and not self.training:  # decoding one position: plain matmuls beat SDPA's dispatch on CPU
            att = torch.softmax(q @ k.transpose(-1, -2) * self.d_head ** -0.5 + bias, dim=-1)  # (B, H, 1, Lk)
            y = att @ v  # (B, H, 1, Dh)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))  # (B, H, L, Dh)
        y = y.transpose(1, 2).reshape(B, L, C)
        y = self.proj(y)
        return F.dropout(y, self.dropout) if self.training else y


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.fc = nn.Linear(cfg.d_model, cfg.d_ff)
        self.out = nn.Linear(cfg.d_ff, cfg.d_model)
        self.dropout = cfg.dropout

    def forward(self, x, bias, cache=None, at: int = 0):
        x = x + self.attn(self.ln1(x), bias, cache, at)
        h = self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))
        return x + (F.dropout(h, self.dropout) if self.training else h)


class ChoraleModel(nn.Module):
    """Base of both architectures: p(voice token | earlier tokens, plan conditioning).

    Holds what the two layouts share (conditioning embedding, blocks, final norm, ALiBi
    slopes, init, whole-piece scoring). A subclass defines ``forward(tokens, cond, keep,
    bar_steps, pickup_steps) -> (B, T, 4, vocab)`` and ``session(cond, conditioned)``.
    Build one with :func:`build_model`, which picks the class from ``cfg.arch``.
    """

    arch = ""  # the ModelConfig.arch this class implements
    temperature = 1.0  # token_nll divides the logits by it (a checkpoint's calibration, neural/calibration.py)

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.arch != self.arch:
            raise ValueError(f"config names architecture {cfg.arch!r}, this class is {self.arch!r}")
        if cfg.embedding not in ("factorized", "plain"):
            raise ValueError(f"unknown embedding {cfg.embedding!r}")
        if cfg.attention not in ("full", "museformer"):
            raise ValueError(f"unknown attention {cfg.attention!r}")
        if cfg.d_model % cfg.n_head:
            raise ValueError("d_model must be a multiple of n_head")
        self.cfg = cfg
        self.cond_emb = ConditioningEmbedding(cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.register_buffer("slopes", alibi_slopes(cfg.n_head), persistent=False)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _run_blocks(self, x: torch.Tensor, bias_fn, length: int) -> torch.Tensor:
        """x (B, L, C) through every block; ``bias_fn(q_slice) -> (H, Lq, Lk)`` over keys [0, q_slice.stop)."""
        chunk = ATTENTION_CHUNK
        for block in self.blocks:
            if length <= chunk:
                x = block(x, bias_fn(slice(0, length)))
                continue
            B, L, C = x.shape
            dh = C // self.cfg.n_head
            cache = (x.new_empty(B, self.cfg.n_head, L, dh), x.new_empty(B, self.cfg.n_head, L, dh))
            outs = []
            for a in range(0, L, chunk):
                b = min(a + chunk, L)
                outs.append(block(x[:, a:b], bias_fn(slice(a, b)), cache, a))
            x = torch.cat(outs, 1)
        return x

    @torch.no_grad()
    def piece_logits(self, tokens: torch.Tensor, cond: Conditioning, conditioned: bool = True) -> torch.Tensor:
        """The raw logits (T, 4, vocab) of a whole piece, in eval mode; ``conditioned=False`` uses the null plan."""
        was = self.training
        self.eval()
        try:
            dev = next(self.parameters()).device
            tok = torch.as_tensor(tokens, dtype=torch.long, device=dev).unsqueeze(0)
            c = torch.as_tensor(cond.values, dtype=torch.long, device=dev).unsqueeze(0)
            if tok.shape[1] != c.shape[1]:
                raise ValueError(f"tokens have {tok.shape[1]} steps, conditioning {c.shape[1]}")
            keep = torch.tensor([conditioned], device=dev)
            bar_steps = int(cond.field("bar_steps")[0]) if len(cond) else 16
            pickup = int((-cond.field("bar_pos")[0]) % max(bar_steps, 1)) if len(cond) else 0
            return self.forward(tok, c, keep, bar_steps, pickup)[0].float()
        finally:
            self.train(was)

    @torch.no_grad()
    def token_nll(self, tokens: torch.Tensor, cond: Conditioning, conditioned: bool = True,
                  calibrated: bool = True) -> torch.Tensor:
        """Per-token NLL in nats, (T, 4), for a whole piece; ``conditioned=False`` uses the null plan.

        ``calibrated``: the logits divided by :attr:`temperature` (1.0 unless the checkpoint was
        calibrated); decoding and training read the raw logits.
        """
        return self.nll_at(self.piece_logits(tokens, cond, conditioned), tokens,
                           self.temperature if calibrated else 1.0)

    @staticmethod
    def nll_at(logits: torch.Tensor, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """Per-token NLL (T, 4) of ``tokens`` under ``logits`` (T, 4, vocab) divided by ``temperature``."""
        if temperature != 1.0:
            logits = logits / temperature
        target = torch.as_tensor(tokens, dtype=torch.long, device=logits.device).reshape(-1)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target,
                               reduction="none").view(logits.shape[0], N_VOICES)

    def session(self, cond: Conditioning, conditioned: bool = True):  # pragma: no cover - abstract
        raise NotImplementedError


class InterleavedModel(ChoraleModel):
    """Five positions per step ``[C, S, A, T, B]`` (see the module docstring); the ablation's layout."""

    arch = "interleaved"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.voice_emb = SmartEmbedding(cfg.d_model) if cfg.embedding == "factorized" else PlainEmbedding(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size)
        self.apply(self._init)

    # ------------------------------------------------------------------ masks
    def attention_bias(self, q_pos: torch.Tensor, k_pos: torch.Tensor, bar_steps: int = 16,
                       pickup_steps: int = 0) -> torch.Tensor:
        """(H, Lq, Lk) additive bias: −slope·(step distance), −inf for future (or non-fine) keys.

        Museformer option: a query sees every token of its own bar and of bars −1, −2,
        −4, −8 (fine), and of every other earlier bar only the conditioning token of its
        downbeat (coarse). Museformer learns a summary token per bar; here the plan's
        downbeat token stands in for it, which keeps the sequence layout unchanged. The
        mask is dense, so it saves no time in batched training; its point is what it
        lets the model see on long pieces.
        """
        q_step, k_step = q_pos // SLOTS, k_pos // SLOTS
        dist = (q_step.unsqueeze(-1) - k_step.unsqueeze(-2)).float()  # (Lq, Lk)
        allowed = q_pos.unsqueeze(-1) >= k_pos.unsqueeze(-2)
        if self.cfg.attention == "museformer":
            bar = lambda s: torch.div(s - pickup_steps + bar_steps, bar_steps, rounding_mode="floor")
            fine = museformer_allowed(bar(q_step), bar(k_step))
            # coarse: the conditioning token of each earlier bar's downbeat summarizes that bar's plan
            downbeat = ((k_step - pickup_steps) % bar_steps == 0) & (k_pos % SLOTS == 0)
            allowed = allowed & (fine | downbeat.unsqueeze(-2))
        bias = -self.slopes.view(-1, 1, 1) * dist  # (H, Lq, Lk)
        return bias.masked_fill(~allowed, float("-inf"))

    # ------------------------------------------------------------------ training / scoring
    def embed(self, tokens: torch.Tensor, cond: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, 4) tokens + (B, T, F) cond -> (B, 5T, C) interleaved input embeddings."""
        B, T, V = tokens.shape
        bar_pos = cond[..., FIELDS.index("bar_pos")]
        c = self.cond_emb(cond, keep).unsqueeze(2)  # (B, T, 1, C)
        v = self.voice_emb(tokens, sounding_pitch_tensor(tokens), bar_pos)  # (B, T, 4, C)
        return torch.cat([c, v], dim=2).reshape(B, T * SLOTS, -1)  # (B, 5T, C)

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor, keep: torch.Tensor | None = None,
                bar_steps: int = 16, pickup_steps: int = 0) -> torch.Tensor:
        """Logits (B, T, 4, vocab) for every voice token given everything before it."""
        B, T, V = tokens.shape
        x = self.embed(tokens, cond, keep)  # (B, L, C), L = 5T
        pos = torch.arange(T * SLOTS, device=tokens.device)
        x = self._run_blocks(x, lambda q: self.attention_bias(pos[q], pos[:q.stop], bar_steps, pickup_steps), T * SLOTS)
        h = self.ln_f(x).view(B, T, SLOTS, -1)[:, :, :N_VOICES]  # (B, T, 4, C): slot v predicts voice v
        return self.head(h)  # (B, T, 4, vocab)

    def session(self, cond: Conditioning, conditioned: bool = True):
        """An incremental decoding session over this plan (see :mod:`.session`)."""
        from .session import DecodeSession

        return DecodeSession(self, cond, conditioned)


def model_class(arch: str) -> type[ChoraleModel]:
    """The class implementing ``arch`` (ValueError naming the known ones otherwise)."""
    if arch == "interleaved":
        return InterleavedModel
    if arch == "step":
        from .step_model import StepModel

        return StepModel
    raise ValueError(f"unknown architecture {arch!r} (expected one of {', '.join(ARCHITECTURES)})")


def build_model(cfg: ModelConfig) -> ChoraleModel:
    """A freshly initialized model of the architecture ``cfg.arch`` names."""
    return model_class(cfg.arch)(cfg)
