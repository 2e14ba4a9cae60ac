"""A complete, reproducible training run: model, recipe, data, seed and where it came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from model.config import ModelConfig
from model.presets import TrainSettings, get_preset
from search.data.prepare import PreparedData
from search.data.spec import DataSpec
from search.training.provenance import Provenance, provenance
from space.errors import load_json_model
from space.schedule import Schedule


class RunConfig(BaseModel):
    """Everything that determines a training run's result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: str | None = Field(None, description="the preset this run started from")
    model: ModelConfig
    train: TrainSettings
    data: DataSpec
    seed: int = Field(0, ge=0, description="sets the weight init and the data order")
    params: int | None = Field(None, description="parameter count this config claims; checked")
    provenance: Provenance | None = None

    @model_validator(mode="after")
    def _check_claimed_params(self) -> RunConfig:
        if self.params is not None and self.params != self.model.params:
            raise ValueError(f"params is {self.params:,} but the model has {self.model.params:,} parameters")
        if self.train.val_tokens < self.model.context:
            raise ValueError(
                f"train.val_tokens {self.train.val_tokens} is less than one context "
                f"of {self.model.context} tokens"
            )
        return self

    @classmethod
    def from_preset(
        cls, name: str, data: DataSpec, prepared: PreparedData | None, seed: int = 0
    ) -> RunConfig:
        """Preset ``name``'s uniform run on ``data``. The model's vocabulary follows a tokenizer
        the data names; prepared data gives the run its provenance."""
        preset = get_preset(name)
        model = preset.model
        if data.tokenizer is not None and prepared is not None:
            model = model.replace(vocab_size=prepared.tokenizer.vocab_size)
        return cls(
            preset=name,
            model=model,
            train=preset.train,
            data=data,
            seed=seed,
            params=model.params,
            provenance=provenance(prepared) if prepared is not None else None,
        )

    def variant(
        self,
        *,
        schedule: Schedule | None = None,
        seed: int | None = None,
        data: DataSpec | None = None,
        provenance: Provenance | None = None,
        tokens: int | None = None,
        deterministic: bool | None = None,
        **recipe: Any,
    ) -> RunConfig:
        """This run with what is given (not None) replaced, validated again as a whole: the one way
        every command and trial derives a run. ``recipe``: other fields of TrainSettings (lr, ...)."""
        unknown = sorted(set(recipe) - set(TrainSettings.model_fields))
        if unknown:
            raise ValueError(
                f"train.{unknown[0]} is not a training setting ({', '.join(TrainSettings.model_fields)})"
            )
        model = self.model if schedule is None else self.model.with_schedule(schedule)
        train = {
            **recipe,
            **({"tokens": tokens} if tokens is not None else {}),
            **({"deterministic": deterministic} if deterministic is not None else {}),
        }
        update: dict[str, Any] = {"model": model, "train": self.train.model_copy(update=train)}
        if seed is not None:
            update["seed"] = seed
        if data is not None:
            update["data"] = data
        if provenance is not None:
            update["provenance"] = provenance
        changed = self.model_copy(update={**update, "params": model.params})
        # model_copy does not validate; the round trip checks every field of the result.
        return RunConfig.model_validate(changed.model_dump())

    @property
    def tokens_per_step(self) -> int:
        """Tokens in one optimizer step: batch size x context."""
        return self.train.batch_size * self.model.context

    @property
    def steps(self) -> int:
        """Optimizer steps: the token budget in whole steps (at least one)."""
        return max(1, self.train.tokens // self.tokens_per_step)


def load_run_config(path: str | Path) -> RunConfig:
    """Read and validate a run config JSON file; errors name the file and the field."""
    return load_json_model(path, RunConfig, "config file")


def save_run_config(config: RunConfig, path: str | Path) -> None:
    """Write a run config as indented JSON that :func:`load_run_config` reads back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config.model_dump_json(indent=2) + "\n")
