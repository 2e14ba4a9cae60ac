"""The parameter budget that every schedule of a study must spend exactly.

A budget is counted in MLP *units*: one unit is ``d_model / granularity`` hidden neurons of
SwiGLU MLP in one layer. With the default granularity of 1, a layer's multiplier is its MLP
width divided by ``d_model`` (4 is the usual 4 x d_model), and the budget's total of 48 for 12
layers is the uniform 4x model. Every schedule with the same total has the same parameter count.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator


def mult_to_width(units: int, d_model: int, granularity: int) -> int:
    """MLP hidden width of a layer with ``units`` budget units (``units / granularity`` x d_model).

    Raises ValueError when the width is not a whole number of neurons.
    """
    neurons, remainder = divmod(units * d_model, granularity)
    if remainder:
        raise ValueError(f"{units}/{granularity} x d_model {d_model} is not a whole number of neurons")
    return neurons


class Budget(BaseModel):
    """How many MLP units a model of ``n_layers`` layers may spend, and within which bounds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_layers: int = Field(12, ge=1, description="number of decoder layers")
    d_model: int = Field(512, ge=1, description="residual stream width")
    total: int = Field(
        default_factory=lambda fields: 4 * fields["n_layers"],
        ge=0,
        description="sum of the per-layer multipliers; default 4 x n_layers (the uniform 4x model)",
    )
    min_mult: int = Field(1, ge=0, description="smallest multiplier a layer may have (0: no MLP)")
    max_mult: int = Field(16, ge=1, description="largest multiplier a layer may have")
    granularity: int = Field(1, ge=1, description="steps per multiplier (4 gives quarter steps)")
    width_align: int = Field(64, ge=1, description="every MLP width must be a multiple of this")

    @model_validator(mode="after")
    def _check_feasible(self) -> Budget:
        if self.min_mult > self.max_mult:
            raise ValueError(f"min_mult {self.min_mult} is above max_mult {self.max_mult}")
        if self.d_model % self.granularity:
            raise ValueError(f"d_model {self.d_model} does not split into {self.granularity} equal steps")
        if self.total_units % self.step_units:
            raise ValueError(
                f"total {self.total} cannot be split into MLP widths that are all multiples "
                f"of width_align {self.width_align} (d_model {self.d_model})"
            )
        lo, hi = self.n_layers * self.min_steps, self.n_layers * self.max_steps
        if not lo <= self.total_steps <= hi:
            raise ValueError(
                f"total {self.total} cannot be spent by {self.n_layers} layers of "
                f"{self.min_mult}..{self.max_mult} x d_model with aligned widths"
            )
        return self

    @property
    def total_units(self) -> int:
        """The sum of units every schedule must have (``total x granularity``)."""
        return self.total * self.granularity

    @property
    def min_units(self) -> int:
        """Fewest units one layer may have."""
        return self.min_mult * self.granularity

    @property
    def max_units(self) -> int:
        """Most units one layer may have."""
        return self.max_mult * self.granularity

    @property
    def step_units(self) -> int:
        """Fewest units whose MLP width is a multiple of ``width_align``: widths move in these steps."""
        neurons_per_unit = self.d_model // self.granularity
        return self.width_align // math.gcd(self.width_align, neurons_per_unit)

    @property
    def total_steps(self) -> int:
        """The budget in aligned steps."""
        return self.total_units // self.step_units

    @property
    def min_steps(self) -> int:
        """Fewest aligned steps one layer may have."""
        return -(-self.min_units // self.step_units)

    @property
    def max_steps(self) -> int:
        """Most aligned steps one layer may have."""
        return self.max_units // self.step_units

    @property
    def distinct_widths(self) -> int:
        """How many different MLP widths one layer can have under this budget."""
        return self.max_steps - self.min_steps + 1

    @property
    def allowed_widths(self) -> tuple[int, ...]:
        """Every MLP width one layer can have under this budget, narrowest first."""
        return tuple(self.width(s * self.step_units) for s in range(self.min_steps, self.max_steps + 1))

    @property
    def widths_nearest_mean(self) -> tuple[int, ...]:
        """``allowed_widths``, the nearest to the mean layer's width first (where sampled schedules
        mostly lie; ties narrowest first)."""
        mean = self.width(self.total_units) / self.n_layers
        return tuple(sorted(self.allowed_widths, key=lambda width: abs(width - mean)))

    @property
    def uniform_units(self) -> tuple[int, ...] | None:
        """Units of the uniform schedule, or None when the total does not split evenly."""
        per_layer, remainder = divmod(self.total_units, self.n_layers)
        return None if remainder else (per_layer,) * self.n_layers

    def width(self, units: int) -> int:
        """MLP width of a layer with ``units`` units."""
        return mult_to_width(units, self.d_model, self.granularity)

    def units_to_mult(self, units: int) -> int | float:
        """A layer's multiplier as users write it: an int when whole, else a float."""
        whole, remainder = divmod(units, self.granularity)
        return whole if remainder == 0 else units / self.granularity
