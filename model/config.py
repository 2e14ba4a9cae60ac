"""The decoder's configuration: the single source of truth for an architecture (no torch here)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from space.budget import Budget
from space.schedule import Schedule


class ModelConfig(BaseModel):
    """A decoder language model: shape, per-layer MLP widths (from a schedule) and style.

    Validation checks that the count this config computes equals the budget's: the count of a
    model with the same settings whose every layer has the budget's mean width, less the MLP norms
    that attention-only layers lack in the sequential style. Both are formulas; that the decoder
    really has this count is proved by building it on the meta device before every training run
    (``model.counting.check_built_params``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    vocab_size: int = Field(ge=2, description="tokenizer vocabulary size")
    n_heads: int = Field(ge=1, description="attention heads")
    context: int = Field(ge=2, description="context length in tokens")
    residual: Literal["sequential", "parallel"] = Field(
        "sequential",
        description="sequential: x + attn, then + mlp (Llama); parallel: x + attn + mlp (GPT-J)",
    )
    tie_embeddings: bool = Field(True, description="share the input embedding with the output head")
    schedule: Schedule = Field(description="per-layer MLP multipliers and the budget they meet")

    @model_validator(mode="after")
    def _check_shape_and_budget(self) -> ModelConfig:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.head_dim % 2:
            raise ValueError(f"head dimension {self.head_dim} must be even for rotary positions")
        expected = self.budget_params - self.dropped_norm_params
        if self.params != expected:
            raise ValueError(
                f"parameter count {self.params:,} is not the budget's {expected:,} "
                f"(MLP widths {list(self.mlp_widths)})"
            )
        return self

    @property
    def budget(self) -> Budget:
        """The budget the schedule meets."""
        return self.schedule.budget

    @property
    def d_model(self) -> int:
        """Residual stream width."""
        return self.budget.d_model

    @property
    def n_layers(self) -> int:
        """Number of decoder blocks."""
        return self.budget.n_layers

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.d_model // self.n_heads

    @property
    def mlp_widths(self) -> tuple[int, ...]:
        """Per-layer SwiGLU hidden widths (0: that layer has no MLP)."""
        return self.schedule.widths

    @property
    def params(self) -> int:
        """Exact number of parameters of the decoder this config builds."""
        return count_params(self, self.mlp_widths)

    @property
    def embedding_params(self) -> int:
        """Parameters of the token embedding and, when untied, the output head."""
        return self.vocab_size * self.d_model * (1 if self.tie_embeddings else 2)

    @property
    def non_embedding_params(self) -> int:
        """Parameters outside the embedding and output head."""
        return self.params - self.embedding_params

    @property
    def budget_params(self) -> int:
        """Parameter count of the same model with every layer at the budget's mean MLP width."""
        total_width = self.budget.width(self.budget.total_units)
        return count_params(self, None) + 3 * self.d_model * total_width

    @property
    def dropped_norm_params(self) -> int:
        """Norm gains that attention-only layers lack in the sequential style (their MLP norm).

        Norm gains are not part of the width budget: a layer without an MLP has no MLP norm.
        """
        if self.residual == "parallel":
            return 0
        return self.d_model * sum(1 for w in self.mlp_widths if w == 0)

    @property
    def flops_per_token(self) -> int:
        """Training FLOPs per token: 6 x params + 12 x layers x d_model x context.

        The nanoGPT / PaLM convention, also used by the reference decoder, so MFU figures compare.
        """
        return 6 * self.params + 12 * self.n_layers * self.d_model * self.context

    def replace(self, **changes: Any) -> ModelConfig:
        """A validated variant of this config (``model_copy`` alone would skip validation)."""
        return ModelConfig.model_validate({**self.model_dump(), **changes})

    def with_schedule(self, schedule: Schedule) -> ModelConfig:
        """The same model with another schedule of the same budget."""
        return self.replace(schedule=schedule.model_dump())


def count_params(config: ModelConfig, mlp_widths: tuple[int, ...] | None) -> int:
    """Parameters of ``config``'s decoder with these MLP widths (None: no MLP weights at all,
    but every layer's MLP norm counted, as the budget assumes)."""
    d = config.d_model
    attention = 4 * d * d  # fused qkv (3 d^2) and output projection (d^2), no biases
    total = config.embedding_params + d  # + final norm
    for layer in range(config.n_layers):
        width = None if mlp_widths is None else mlp_widths[layer]
        has_mlp = width is None or width > 0
        norms = 1 if config.residual == "parallel" else (2 if has_mlp else 1)
        total += attention + norms * d
        if width:
            total += 3 * d * width  # gate and up (2 d w) and down (w d)
    return total
