"""Which space to search and how its budget differs from a preset's: a name or a JSON file."""

from __future__ import annotations

import contextlib

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from space.budget import Budget
from space.errors import describe, load_json_model
from space.schedule import Schedule
from space.spaces import SPACES, SearchSpace, make_space


class SpaceSpec(BaseModel):
    """A space name plus optional budget overrides (bounds, granularity, total, alignment)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    space: str = Field("composition", description=f"one of {', '.join(SPACES)}")
    total: int | None = Field(None, description="sum of multipliers (default 4 x layers)")
    min_mult: int | None = Field(None, description="smallest multiplier (0 allows attention-only layers)")
    max_mult: int | None = Field(None, description="largest multiplier")
    granularity: int | None = Field(None, description="steps per multiplier (4: quarter steps)")
    width_align: int | None = Field(None, description="MLP widths must be multiples of this")
    baselines: tuple[tuple[int | float, ...], ...] | None = Field(
        None,
        description="schedules every new study trains first; default: uniform and the hand-found "
        "8,4,4,4,3,3,3,3,4,4,4,4 (when it fits the budget)",
    )
    noise_seeds: int = Field(
        3, ge=1, description="seeds the uniform baseline is trained with, to measure seed noise"
    )

    @field_validator("space")
    @classmethod
    def _known_space(cls, name: str) -> str:
        if name not in SPACES:
            raise ValueError(f"unknown space '{name}'; choose from {', '.join(SPACES)}")
        return name

    def budget_over(self, base: Budget) -> Budget:
        """``base`` (a preset's budget) with this spec's overrides applied and validated."""
        overrides = self.model_dump(exclude={"space", "baselines", "noise_seeds"}, exclude_none=True)
        return Budget.model_validate({**base.model_dump(), **overrides})

    def build(self, base: Budget) -> SearchSpace:
        """The space this spec names over the overridden budget."""
        return make_space(self.space, self.budget_over(base))


HAND_FOUND = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)


def baseline_schedules(spec: SpaceSpec, space: SearchSpace) -> list[tuple[str, Schedule]]:
    """Named schedules a new study trains first; the first one is the reference for noise.

    Default: ``uniform`` and ``hand-found``, each where it fits the budget and belongs to the
    space's family. A listed baseline that does not fit the budget, or lies outside the family
    (samplers could not place it in their joint model), raises with the reason.
    """
    budget = space.budget
    uniform = Schedule.uniform(budget) if budget.uniform_units else None
    if spec.baselines is None:
        found = [("uniform", uniform)] if uniform else []
        with contextlib.suppress(ValidationError):
            found.append(("hand-found", Schedule(budget=budget, mults=HAND_FOUND)))
        return [(name, s) for name, s in found if space.params_for(s) is not None]
    named = []
    for i, mults in enumerate(spec.baselines):
        shown = ",".join(map(str, mults))
        try:
            schedule = Schedule(budget=budget, mults=mults)
        except ValidationError as e:
            raise ValueError(f"baseline {i} ({shown}): {describe(e)}") from None
        if space.params_for(schedule) is None:
            raise ValueError(f"baseline {i} ({shown}) is not in the {space.name} family")
        named.append(("uniform" if schedule == uniform else f"baseline-{i}", schedule))
    return named


def load_space_spec(value: str) -> SpaceSpec:
    """A spec from a space name (``composition``) or a JSON file path (``studies/x.json``)."""
    if value.endswith(".json"):
        return load_json_model(value, SpaceSpec, "space file")
    try:
        return SpaceSpec(space=value)
    except ValidationError as e:
        raise ValueError(describe(e)) from None
