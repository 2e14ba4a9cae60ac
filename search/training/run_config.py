"""A complete, reproducible training run: model, recipe, data, seed and where it came from."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from model.config import ModelConfig
from model.presets import TrainSettings, get_preset
from search.data.prepare import PreparedData
from search.data.spec import DataSpec
from search.training.provenance import Provenance, provenance
from space.errors import load_json_model
from space.schedule import Schedule

# What chose an exported trial: one of search.best's rules, or a trial number the user named.
ChosenBy = Literal["confirmed", "model", "observed", "trial"]

# What an expected loss is, by the rule that chose the trial.
_EXPECTED_BY = {"model": "the model expected", "confirmed": "the confirmation's mean was"}


class ExportOrigin(BaseModel):
    """Which study and trial an exported config comes from, what chose it, and the losses it promises."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    study: str
    trial: int = Field(ge=0)
    rule: ChosenBy = Field(description="what chose the trial: a search.best rule, or 'trial' (--trial N)")
    reason: str = Field(description="why that rule chose it, as search.best printed it")
    observed_loss: float = Field(description="the trial's validation loss in the study")
    tokens: int = Field(ge=1, description="training tokens of the trial (observed_loss is at these)")
    expected_loss: float | None = Field(
        None, description="the model's expected loss, or the confirmation's mean over its seeds"
    )
    expected_tokens: int | None = Field(None, ge=1, description="training tokens expected_loss is at")

    @model_validator(mode="after")
    def _expected_with_its_tokens(self) -> ExportOrigin:
        if (self.expected_loss is None) != (self.expected_tokens is None):
            raise ValueError("expected_loss and expected_tokens go together: give both or neither")
        return self

    def describe(self) -> str:
        """Where the config comes from and the loss it promises, in a sentence or two."""
        text = (
            f"exported from study '{self.study}', trial {self.trial}, chosen by rule '{self.rule}': "
            f"{self.reason}. Its loss in the study: {self.observed_loss:.4f} at {self.tokens:,} tokens"
        )
        if self.expected_loss is not None:
            text += f"; {self._expected_by} {self.expected_loss:.4f} at {self.expected_tokens:,} tokens"
        return text

    def compare(self, loss: float, tokens: int, other_data: bool) -> str:
        """``loss``, trained on ``tokens`` tokens, beside the loss this export promised at that budget,
        or why none compares (other data, other budgets)."""
        got = f"val loss {loss:.4f} at {tokens:,} tokens"
        if other_data:
            return f"{got}, on other data than the export's: its losses in the study do not compare"
        promises = [
            (self.expected_loss, self.expected_tokens, self._expected_by),
            (self.observed_loss, self.tokens, f"trial {self.trial} had"),
        ]
        for promised, at_tokens, what in promises:
            if promised is not None and at_tokens == tokens:
                return f"{got}; {what} {promised:.4f} ({(loss - promised) / promised:+.2%})"
        budgets = sorted({self.tokens, *([self.expected_tokens] if self.expected_tokens else [])})
        at = " and ".join(f"{t:,}" for t in budgets)
        return f"{got}; the export's losses are at {at} tokens, so none compares"

    @property
    def _expected_by(self) -> str:
        return _EXPECTED_BY.get(self.rule, "expected")


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
    origin: ExportOrigin | None = Field(None, description="the study trial this run was exported from")

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
    """Write a run config as indented JSON that :func:`load_run_config` reads back, each list of
    numbers (the multipliers) on one line so that a schedule reads at a glance."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_run_config_json(config) + "\n")


# An indented JSON list of numbers only. JSON strings cannot hold a raw newline, so no text matches.
_NUMBER_LIST = re.compile(r"\[\n\s*([-+.\deE]+(?:,\n\s*[-+.\deE]+)*)\n\s*\]")


def _run_config_json(config: RunConfig) -> str:
    """``config`` as indented JSON with each list of numbers on one line: ``"mults": [8, 4, 4, ...]``."""
    text = config.model_dump_json(indent=2)
    return _NUMBER_LIST.sub(lambda m: "[" + ", ".join(n.strip() for n in m[1].split(",")) + "]", text)
