"""What the commands share: reading a command line into a validated options model, and the options
that name a study."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from search.options.counts import parse_count
from search.options.durations import parse_duration
from search.study.settings import BUILTIN_OBJECTIVE
from search.study.storage import check_study_name

Options = TypeVar("Options", bound=BaseModel)


def _count(value: object) -> object:
    return parse_count(value) if isinstance(value, str) else value


def _duration(value: object) -> object:
    return parse_duration(value) if isinstance(value, str) else value


def _gpu_list(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return tuple(sorted({int(part) for part in value.split(",") if part.strip()}))
    except ValueError:
        raise ValueError(f"must be GPU numbers like 0,1; got '{value}'") from None


def _objective_form(spec: str) -> str:
    module, _, function = spec.partition(":")
    if spec != BUILTIN_OBJECTIVE and (not module or not function):
        raise ValueError(f"must look like module:function, got '{spec}'")
    return spec


# A count as users type it ("20M", "1.5B", "500000").
Count = Annotated[int, BeforeValidator(_count)]
# Seconds as users type them ("90s", "45m", "1.5h").
Duration = Annotated[float, BeforeValidator(_duration)]
StudyName = Annotated[str, AfterValidator(check_study_name)]
# GPUs as users type them ("0,1"); None: every visible GPU.
GpuList = Annotated[tuple[int, ...] | None, BeforeValidator(_gpu_list)]
# What scores a config: the built-in trainer, or a user's ``module:function``.
ObjectiveName = Annotated[str, AfterValidator(_objective_form)]


class StudyOptions(BaseModel):
    """``--study`` and ``--storage``: the same in every command that opens a study."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    study: StudyName = "hourglass"
    storage: str = "studies.db"


class TrainingPlaces(StudyOptions):
    """``--gpus`` and ``--workers``: where a command that trains on a study trains, one worker a GPU."""

    gpus: GpuList = Field(None, description="GPUs to train on, one worker each; None: every visible GPU")
    workers: int = Field(1, ge=1, description="worker processes on CPU")


def add_study_options(parser: argparse.ArgumentParser) -> None:
    """``--study`` and ``--storage``, with their help lines."""
    parser.add_argument("--study", help="study name (default hourglass)")
    parser.add_argument("--storage", help="journal file path or Optuna storage URL (default studies.db)")


def add_training_places(parser: argparse.ArgumentParser, each_gpu: str) -> None:
    """``--gpus`` and ``--workers``, with their help lines; ``each_gpu`` says what a GPU does."""
    parser.add_argument("--gpus", help=f"GPUs to train on, {each_gpu}, e.g. 0,1 (default: every visible GPU)")
    parser.add_argument("--workers", type=int, help="worker processes on CPU (default 1)")


def command_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """A parser for ``python -m prog`` described by the first line of ``doc``. Options left out of a
    command line are left out of its namespace, so the options model's defaults are the only ones."""
    description = (doc or "").split("\n")[0]
    return argparse.ArgumentParser(prog=prog, description=description, argument_default=argparse.SUPPRESS)


def read_options(
    model: type[Options], parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> Options:
    """Parse ``argv`` into ``model``; ValueError naming each bad option as it is typed (``--tokens``)."""
    given = vars(parser.parse_args(argv))
    try:
        return model.model_validate(given)
    except ValidationError as e:
        lines = []
        for problem in e.errors():
            message = problem["msg"].removeprefix("Value error, ")
            if problem["type"] == "greater_than_equal":
                message = f"must be at least {problem['ctx']['ge']}, got {problem['input']}"
            where = problem["loc"][0] if problem["loc"] else ""
            lines.append(f"--{str(where).replace('_', '-')}: {message}" if where else message)
        raise ValueError("\n".join(lines)) from None
