"""A schedule: one MLP multiplier per layer, proven to spend its budget exactly."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, model_validator

from space.budget import Budget

# Multipliers closer than this to a whole number of units count as whole: 3.25 typed by a user
# or read back from JSON is exact, but 1/3 steps are not representable as floats.
_UNIT_TOLERANCE = 1e-9


class Schedule(BaseModel):
    """Per-layer MLP multipliers (width / d_model) that meet a budget.

    Validation rejects a wrong length, values that are not whole units, values out of bounds,
    widths that break alignment and a sum that differs from the budget; every message names the
    layer and the numbers.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget: Budget
    mults: tuple[int | float, ...]

    @model_validator(mode="after")
    def _check_against_budget(self) -> Schedule:
        budget = self.budget
        if len(self.mults) != budget.n_layers:
            raise ValueError(f"schedule has {len(self.mults)} layers, the budget has {budget.n_layers}")
        problems = [p for i, m in enumerate(self.mults) if (p := _layer_problem(budget, i, m))]
        if problems:
            raise ValueError("; ".join(problems))
        total = sum(self.units)
        if total != budget.total_units:
            raise ValueError(f"sum is {_show(total / budget.granularity)}, budget is {budget.total}")
        return self

    @classmethod
    def from_units(cls, budget: Budget, units: Sequence[int]) -> Schedule:
        """The schedule with these per-layer units (multiplier x granularity)."""
        return cls(budget=budget, mults=tuple(budget.units_to_mult(u) for u in units))

    @classmethod
    def uniform(cls, budget: Budget) -> Schedule:
        """Every layer at the same multiplier; raises when the total does not split evenly."""
        units = budget.uniform_units
        if units is None:
            raise ValueError(f"total {budget.total} does not split evenly over {budget.n_layers} layers")
        return cls.from_units(budget, units)

    @property
    def units(self) -> tuple[int, ...]:
        """Per-layer units (multiplier x granularity), exact integers."""
        return tuple(round(m * self.budget.granularity) for m in self.mults)

    @property
    def widths(self) -> tuple[int, ...]:
        """Per-layer MLP hidden widths in neurons (0: the layer has no MLP)."""
        return tuple(self.budget.width(u) for u in self.units)

    @property
    def key(self) -> str:
        """A compact text identity, equal for equal schedules: '8,4,4,4,3,3,3,3,4,4,4,4'."""
        return ",".join(_show(m) for m in self.mults)


def _layer_problem(budget: Budget, layer: int, mult: int | float) -> str | None:
    if not math.isfinite(mult):
        return f"layer {layer}: multiplier {mult} is not a number"
    units = mult * budget.granularity
    if abs(units - round(units)) > _UNIT_TOLERANCE:
        step = "a whole number" if budget.granularity == 1 else f"a multiple of 1/{budget.granularity}"
        return f"layer {layer}: multiplier {_show(mult)} is not {step}"
    if mult < budget.min_mult:
        return f"layer {layer}: multiplier {_show(mult)} is below the minimum {budget.min_mult}"
    if mult > budget.max_mult:
        return f"layer {layer}: multiplier {_show(mult)} is above the maximum {budget.max_mult}"
    width = budget.width(round(units))
    if width % budget.width_align:
        return (
            f"layer {layer}: MLP width {width} ({_show(mult)} x d_model {budget.d_model}) "
            f"is not a multiple of {budget.width_align}"
        )
    return None


def _show(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def parse_mults(text: str) -> list[int | float]:
    """Per-layer multipliers from '8,4,4,...'; names the layer of anything that is not a number."""
    values: list[int | float] = []
    for layer, item in enumerate(text.split(",")):
        item = item.strip()
        try:
            values.append(int(item))
        except ValueError:
            try:
                values.append(float(item))
            except ValueError:
                raise ValueError(f"layer {layer}: '{item}' is not a number") from None
    return values
