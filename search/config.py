"""A complete, reproducible training run: model, recipe, data, seed and where it came from."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from model.config import ModelConfig
from model.presets import TrainSettings
from space.errors import load_json_model


class DataSpec(BaseModel):
    """Which text a run trains and validates on, and how it is tokenized."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    train: tuple[str, ...] = Field(min_length=1, description="training files, folders or globs")
    val: tuple[str, ...] = Field((), description="validation files; empty: a held-out share of train")
    text_field: str = Field("text", description="JSON field holding a document's text")
    tokenizer: str | None = Field(None, description="tokenizer.json to use; None: train a BPE")
    val_share: float = Field(0.01, gt=0, lt=1, description="held-out share when val is empty")


class Provenance(BaseModel):
    """Where a result came from: code, data and tokenizer identities."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    commit: str = Field(description="git commit of the code, with '-dirty' for uncommitted changes")
    data_hash: str = Field(description="key of the token cache (inputs, tokenizer, split)")
    tokenizer_sha256: str
    hourglass_version: str


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


def load_run_config(path: str | Path) -> RunConfig:
    """Read and validate a run config JSON file; errors name the file and the field."""
    return load_json_model(path, RunConfig, "config file")


def save_run_config(config: RunConfig, path: str | Path) -> None:
    """Write a run config as indented JSON that :func:`load_run_config` reads back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config.model_dump_json(indent=2) + "\n")
