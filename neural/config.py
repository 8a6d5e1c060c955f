"""The model's and the training run's configurations: plain dataclasses, no torch.

Kept apart from :mod:`.model` and :mod:`.train` so that what only names a config (the
``partimento`` parser's choices and defaults, a checkpoint's JSON) does not import torch:
every ``partimento`` command builds the whole parser, and importing torch costs a
``partimento check`` or ``plan`` more than the rest of its work
(``tests/neural/test_config.py`` holds the commands that need no model to that).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .encoding import VOCAB_SIZE

__all__ = ["ARCHITECTURES", "ModelConfig", "CONFIGS", "TrainConfig"]

ARCHITECTURES = ("step", "interleaved")


@dataclass
class ModelConfig:
    arch: str = "step"  # "step" (one position per 16th step) or "interleaved" (five positions per step)
    n_layer: int = 4  # transformer blocks
    n_head: int = 4  # attention heads per block
    d_model: int = 128  # width of the residual stream
    d_ff: int = 512  # hidden width of each block's MLP
    dropout: float = 0.1  # dropout on each block's attention and MLP outputs (none on attention weights: slow on CPU)
    embedding: str = "factorized"  # "factorized" (pitch class + octave + kind) or "plain" (one row per token)
    attention: str = "full"  # "full" causal, or "museformer" (fine: bars 0,-1,-2,-4,-8; coarse: other downbeats)
    cond_dropout: float = 0.05  # training: probability a whole piece window sees the null conditioning
    window_steps: int = 128  # training crop length in sixteenth steps
    vocab_size: int = VOCAB_SIZE  # voice-token vocabulary (HOLD, REST, 128 pitches)
    d_voice: int = 64  # step model: width of one voice token's embedding (four are concatenated)
    head_layers: int = 1  # step model: residual MLP layers of the in-step head
    head_ff: int = 512  # step model: hidden width of the in-step head's MLP

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """Config from a checkpoint's JSON; one without ``arch`` predates the step model: interleaved."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known.setdefault("arch", "interleaved")
        return cls(**known)


#: Named configs for ``partimento train --config`` (``interleaved-*``: the ablation's layout).
CONFIGS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(n_layer=1, n_head=2, d_model=32, d_ff=64, window_steps=32, d_voice=16, head_ff=64),
    "small": ModelConfig(n_layer=4, n_head=6, d_model=192, d_ff=768, d_voice=48, head_ff=384),
    "compact": ModelConfig(n_layer=4, n_head=4, d_model=128, d_ff=512, d_voice=32, head_ff=256),
    "base": ModelConfig(n_layer=4, n_head=8, d_model=256, d_ff=1024, d_voice=64, head_ff=512),
    "medium": ModelConfig(n_layer=6, n_head=6, d_model=384, d_ff=1536, d_voice=96, head_ff=768),
    "interleaved-tiny": ModelConfig(arch="interleaved", n_layer=1, n_head=2, d_model=32, d_ff=64, window_steps=32),
    "interleaved-small": ModelConfig(arch="interleaved", cond_dropout=0.15),
}


@dataclass
class TrainConfig:
    epochs: int = 1000  # upper bound on passes over the training steps (one pass = train steps / (window × batch))
    batch_size: int = 32  # windows per optimizer step, in all processes together (torchrun splits it)
    lr: float = 3e-3  # peak AdamW learning rate
    lr_floor: float = 0.02  # the cosine ends at lr × lr_floor
    warmup_steps: int = 100  # linear warm-up (multiplies the cosine)
    weight_decay: float = 0.05  # AdamW weight decay on matrices
    grad_clip: float = 1.0  # max global gradient norm
    ema_decay: float = 0.995  # weight averaging per optimizer step (warmed up as (1+n)/(10+n)); 0 = off
    max_minutes: float = 0.0  # wall-time budget: the schedule's length and the stop; 0 = none (epochs only)
    seed: int = 0  # seeds the random stream (windows, transpositions, dropout) and the init
    threads: int = 0  # torch CPU threads; 0 = torch's default
    precision: str = "auto"  # "fp32", "bf16" (autocast) or "auto" (bf16 on CUDA, fp32 on CPU)
    compile: bool = False  # torch.compile the training forward (see benchmarks/neural_training_speed.py)
    eval_max_pieces: int = 0  # validation pieces per epoch; 0 = all
    stop_after_epochs: int = 0  # end this invocation after N epochs (the schedule is unchanged); 0 = run to the end
    teachers: tuple[str, ...] = ()  # checkpoints whose averaged prediction is a second target (distillation)
    distill: float = 0.7  # weight of the teachers' target in the loss, with ``teachers`` (the true token: 1 - this)
    init: str = ""  # a trained checkpoint whose weights start the run (a warm start: a new schedule); "" = random init

    def __post_init__(self) -> None:
        self.teachers = tuple(self.teachers)  # (a list from the command line or a checkpoint's JSON)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
