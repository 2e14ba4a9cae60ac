"""Options of ``python -m search.run``, read into one validated model before anything else happens."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from model.presets import PRESETS, get_preset
from search.options.common import (
    Count,
    Duration,
    ObjectiveName,
    TrainingPlaces,
    add_study_options,
    add_training_places,
    command_parser,
    read_options,
)
from search.study.samplers import PRUNERS, SAMPLERS
from search.study.settings import BUILTIN_OBJECTIVE
from space.spaces import SPACES


class SearchOptions(TrainingPlaces):
    """Everything ``search.run`` is asked to do; each field has the default its ``--help`` names."""

    trials: int = Field(50, ge=1, description="finished trials the study should have")
    data: tuple[str, ...] | None = Field(
        None,
        min_length=1,
        description="training files, folders or globs; None: ./data, else the sample corpus",
    )
    val_data: tuple[str, ...] = Field((), description="validation files; empty: a held-out share of data")
    tokenizer: str | None = Field(None, description="a tokenizer.json; None: a BPE trained on the data")
    text_field: str = Field("text", min_length=1, description="the JSON field holding a document's text")
    preset: str | None = Field(None, description="model size; None: small with CUDA, tiny without")
    space: str = Field("composition", description="a space's name or a JSON settings file")
    sampler: Literal["moves", "tpe", "gp", "cmaes", "random"] | None = Field(
        None, description="None: moves on the composition space, tpe on the others"
    )
    pruner: Literal["margin", "median", "hyperband", "none"] = "margin"
    seed: int = Field(0, ge=0, description="data order and init of every trial, and the sampler's seed")
    tokens: Count | None = Field(None, ge=1, description="training tokens per trial; None: the preset's")
    objective: ObjectiveName = Field(
        BUILTIN_OBJECTIVE, description="module:function scoring a config, or builtin"
    )
    wandb: bool = False
    deterministic: bool = False
    time_limit: Duration | None = Field(
        None, gt=0, description="seconds from launch by which to finish; None: run to the target"
    )
    compile_cache: str | None = Field(
        None, min_length=1, description="a folder for compiled kernels; None: Inductor's and Triton's own"
    )

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, name: str | None) -> str | None:
        if name is not None:
            get_preset(name)
        return name

    @field_validator("compile_cache")
    @classmethod
    def _a_folder(cls, folder: str | None) -> str | None:
        if folder is not None and Path(folder).exists() and not Path(folder).is_dir():
            raise ValueError(f"'{folder}' is a file, not a folder")
        return folder

    @property
    def builtin_objective(self) -> bool:
        """Whether trials are scored by the built-in trainer (not a user's function)."""
        return self.objective == BUILTIN_OBJECTIVE


def read_search_options(doc: str | None, argv: Sequence[str] | None) -> SearchOptions:
    """The options of ``search.run``, each with a default and a help line."""
    parser = command_parser("python -m search.run", doc)
    add = parser.add_argument
    add("--trials", type=int, help="finished trials the study should have (default 50)")
    add_study_options(parser)
    add(
        "--data",
        nargs="+",
        help="training files, folders or globs (default ./data; without it, the sample corpus shipped "
        "with hourglass: a demonstration, not a finding)",
    )
    add("--val-data", nargs="+", help="validation files (default: a held-out share of --data)")
    add("--tokenizer", help="a tokenizer.json (default: a byte-level BPE trained on --data and cached)")
    add("--text-field", help="the JSON field holding a document's text in .jsonl files (default text)")
    add("--preset", help=f"model size: {', '.join(PRESETS)} (default: small with CUDA, tiny without)")
    add("--space", help=f"{', '.join(SPACES)}, or a JSON settings file (default composition)")
    add(
        "--sampler",
        choices=SAMPLERS,
        help="moves (width moved between layers of the best schedule so far; composition space only), "
        "tpe (multivariate), gp, cmaes or random (default: moves on the composition space, else tpe)",
    )
    add(
        "--pruner",
        choices=PRUNERS,
        help="margin (prunes only a trial that, catching up as much as the finished trials did, would "
        "still end above their median), median, hyperband or none (default margin)",
    )
    add("--seed", type=int, help="data order and init of every trial, and the sampler's seed (default 0)")
    add("--tokens", help="training tokens per trial, e.g. 20M (default: the preset's)")
    add_training_places(parser, "one worker each")
    add("--objective", help="module:function scoring a config instead of the trainer")
    add("--wandb", action="store_true", help="log each trial to Weights & Biases (offline without a login)")
    add(
        "--deterministic",
        action="store_true",
        help="deterministic GPU kernels: a retrained export repeats its trial's loss exactly (slower)",
    )
    add(
        "--time-limit",
        help="finish within this long from launch, e.g. 45m or 2h (a job's wall-clock limit): a trial "
        "starts only while the study's typical trial still fits; the same command continues the study",
    )
    add(
        "--compile-cache",
        help="a folder to keep compiled kernels in (Inductor's and Triton's caches), e.g. beside the "
        "study: workers, hosts and later runs given it reuse them (default: Inductor's and Triton's own)",
    )
    return read_options(SearchOptions, parser, argv)
