"""Named model sizes with the training recipe each is searched with, all in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from model.config import ModelConfig
from space.budget import Budget
from space.schedule import Schedule


class TrainSettings(BaseModel):
    """How a model is trained in one trial: token budget, batch, optimizer and evaluation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tokens: int = Field(ge=1, description="training tokens (the trial's budget)")
    batch_size: int = Field(ge=1, description="sequences per optimizer step")
    lr: float = Field(gt=0, description="peak learning rate")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="final / peak learning rate")
    warmup_frac: float = Field(0.05, ge=0, lt=1, description="share of steps spent warming up")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay on matrices")
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.95, ge=0, lt=1)
    grad_clip: float = Field(1.0, gt=0, description="gradient norm clipping threshold")
    checkpoints: int = Field(4, ge=0, description="validation checkpoints before the final one")
    val_tokens: int = Field(ge=1, description="tokens in the fixed validation set")
    init_std: float = Field(0.02, gt=0, description="standard deviation of weight init")
    deterministic: bool = Field(
        False, description="deterministic GPU kernels: a rerun gives the same loss exactly, somewhat slower"
    )


class Preset(BaseModel):
    """A model size (with its uniform schedule) and the recipe trials of that size use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str
    model: ModelConfig
    train: TrainSettings

    @model_validator(mode="after")
    def _check_fits(self) -> Preset:
        if self.train.val_tokens < self.model.context:
            raise ValueError(
                f"val_tokens {self.train.val_tokens} is less than one context of {self.model.context} tokens"
            )
        return self


@dataclass(frozen=True)
class Shape:
    """A preset's model shape: 12 layers of ``d_model`` with the uniform schedule."""

    d_model: int
    n_heads: int
    context: int = 1024
    vocab_size: int = 16384
    residual: Literal["sequential", "parallel"] = "sequential"
    width_align: int = 64


def _preset(description: str, shape: Shape, train: TrainSettings) -> Preset:
    budget = Budget(n_layers=12, d_model=shape.d_model, width_align=shape.width_align)
    model = ModelConfig(
        vocab_size=shape.vocab_size,
        n_heads=shape.n_heads,
        context=shape.context,
        residual=shape.residual,
        schedule=Schedule.uniform(budget),
    )
    return Preset(description=description, model=model, train=train)


def _gpu_recipe(
    lr: float, warmup_frac: float = 0.05, batch_size: int = 32, tokens: int = 20_000_000
) -> TrainSettings:
    """How a GPU preset's trials train: ``tokens`` a trial, scored on a fixed 0.5M-token validation set."""
    return TrainSettings(
        tokens=tokens, batch_size=batch_size, lr=lr, warmup_frac=warmup_frac, val_tokens=524_288
    )


PRESETS: dict[str, Preset] = {
    "tiny": _preset(
        "CPU-sized: d_model 32, context 64; a trial takes seconds (tests, CI, trying things out)",
        Shape(d_model=32, n_heads=2, context=64, vocab_size=512, width_align=32),
        TrainSettings(tokens=32_768, batch_size=8, lr=1e-2, val_tokens=4_096, checkpoints=2),
    ),
    # Warm-up over 30% of the steps: with 5% a trial's loss was mostly noise (bench.recipe, README).
    # 100M tokens: no budget of 5M to 50M ranked the panel like 100M (bench.fidelity, README).
    "small": _preset(
        "GPU default: d_model 512, 8 heads, ctx 1024",
        Shape(512, 8),
        _gpu_recipe(2e-3, 0.3, tokens=100_000_000),
    ),
    # 1.25e-3: within 0.5% of each panel schedule's best learning rate, paired over seeds (bench.recipe).
    "base": _preset("d_model 768, 12 heads, ctx 1024", Shape(768, 12), _gpu_recipe(1.25e-3, 0.3)),
    # 1e-3 with 30% warm-up: the best rate of bench.recipe's sweep on every schedule it swept.
    "baka": _preset(
        "the hand experiment's shape: d_model 1024, 4 heads, context 512, parallel residual",
        Shape(d_model=1024, n_heads=4, context=512, residual="parallel"),
        _gpu_recipe(1e-3, 0.3, batch_size=64),
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; unknown names list the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset '{name}'; choose from {', '.join(PRESETS)}") from None
