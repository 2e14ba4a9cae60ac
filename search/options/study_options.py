"""Options of the commands that read a study: ``search.best``, ``search.confirm``, ``search.report``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from pydantic import Field, model_validator

from search.findings.winner import Rule
from search.options.common import (
    Count,
    ObjectiveName,
    StudyOptions,
    TrainingPlaces,
    add_study_options,
    add_training_places,
    command_parser,
    read_options,
)


class ExportOptions(StudyOptions):
    """``python -m search.best``: which study, which of its trials (by a rule, or by number; neither:
    the strongest rule the study has evidence for), and where its config goes."""

    out: str
    rule: Rule | None = None
    trial: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _rule_or_trial(self) -> ExportOptions:
        if self.rule is not None and self.trial is not None:
            raise ValueError("--rule and --trial exclude each other: give one of them")
        return self

    @property
    def choice(self) -> Rule | int | None:
        """What picks the trial: its number, a rule, or None for the default rule."""
        return self.trial if self.trial is not None else self.rule


class ConfirmOptions(TrainingPlaces):
    """``python -m search.confirm``: how many of the best schedules, at how many seeds and tokens, on
    which GPUs (or CPU workers), and the objective to run when the study's was a user's function
    (never read from the study)."""

    top: int = Field(3, ge=1)
    seeds: int = Field(5, ge=1)
    first_seed: int | None = Field(None, ge=0, description="first seed compared; None: the study's seed+1")
    tokens: Count | None = Field(None, ge=1)
    objective: ObjectiveName | None = Field(
        None, description="module:function; must be the study's own objective"
    )


class ReportOptions(StudyOptions):
    """``python -m search.report``: which study, and where the page goes (None: reports/<study>.html)."""

    out: str | None = None


def read_export_options(doc: str | None, argv: Sequence[str] | None) -> ExportOptions:
    """The options of ``search.best``."""
    parser = _parser("search.best", doc)
    add = parser.add_argument
    add("--out", required=True, help="where to write the config JSON")
    add(
        "--rule",
        metavar="{confirmed,model,observed}",
        help="the winner of the latest confirmation at the longest budget, the model's pick, or the "
        "lowest loss at the study's seed (default: confirmed when the study has a confirmation, else "
        "model, else observed)",
    )
    add("--trial", type=int, help="export this completed trial instead (not with --rule)")
    return read_options(ExportOptions, parser, argv)


def read_confirm_options(doc: str | None, argv: Sequence[str] | None) -> ConfirmOptions:
    """The options of ``search.confirm``."""
    parser = _parser("search.confirm", doc)
    add = parser.add_argument
    add("--top", type=int, help="best distinct schedules of the study to confirm (default 3)")
    add("--seeds", type=int, help="fresh seeds per schedule: the study's seed+1 ... seed+N (default 5)")
    add(
        "--first-seed",
        type=int,
        help="start the seeds here instead (never at the study's seed): seeds no earlier confirmation "
        "used test the schedules anew at the full 95%%, whatever the earlier ones showed",
    )
    add("--tokens", help="training tokens per run, e.g. 200M (default: the study's trial budget)")
    add_training_places(parser, "one run at a time each")
    add(
        "--objective",
        help="module:function that scored the study's trials, when it was not the built-in trainer: "
        "a name stored with the study is never imported, so it must be given here and match",
    )
    return read_options(ConfirmOptions, parser, argv)


def read_report_options(doc: str | None, argv: Sequence[str] | None) -> ReportOptions:
    """The options of ``search.report``."""
    parser = _parser("search.report", doc)
    parser.add_argument("--out", help="HTML file to write (default reports/<study>.html)")
    return read_options(ReportOptions, parser, argv)


def _parser(command: str, doc: str | None) -> argparse.ArgumentParser:
    parser = command_parser(f"python -m {command}", doc)
    add_study_options(parser)
    return parser
