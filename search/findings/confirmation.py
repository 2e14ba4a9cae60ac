"""The records ``search.confirm`` keeps with a study: each training run as soon as it finishes, and
each confirmation's results and verdict."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import optuna
from pydantic import BaseModel, ConfigDict, Field

from search.findings.stats import MeanDifference


class StoredRun(BaseModel):
    """One confirmation training run, stored with the study as soon as it finishes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schedule: str
    seed: int
    tokens: int
    val_loss: float
    val_bpb: float | None = None
    wall_s: float | None = None
    passes: float | None = None


class ScheduleResult(BaseModel):
    """One schedule's losses by seed and its paired difference from the reference."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    schedule: str
    mults: tuple[int | float, ...]
    baseline: str | None = None
    trial: int | None = None
    losses: dict[int, float]
    failed: dict[int, str] = {}
    difference: MeanDifference | None = None
    status: str

    @property
    def mean(self) -> float | None:
        """Mean loss over the seeds that finished."""
        return statistics.fmean(self.losses.values()) if self.losses else None


class Fidelity(BaseModel):
    """How well the study's short-run ranking predicts the longer run's (Kendall's tau)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    short_tokens: int
    short_seeds: list[int]
    names: list[str]
    short_means: list[float]
    long_means: list[float]
    tau: float | None
    min_tau: float
    warning: bool = Field(description="tau < min_tau: the short ranking does not predict the long one")


class Confirmation(BaseModel):
    """One run of ``search.confirm``: what was trained, the differences and the verdict."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    created: str
    study_tokens: int
    tokens: int
    seeds: list[int]
    confidence: float
    reference: str
    schedules: list[ScheduleResult]
    winner: str | None
    verdict: str
    trained: int
    reused: int
    fidelity: Fidelity | None = None
    ranking: str | None = Field(default=None, description="how the confirmed trials were chosen")
    winner_against: dict[str, MeanDifference] = Field(
        default_factory=dict,
        description="the winner's paired difference from each other baseline (not the reference)",
    )
    earlier_seeds: list[list[int]] = Field(
        default_factory=list,
        description="seeds of the earlier finished confirmations that shared some of these seeds, each a "
        "look already taken: this one, look j, is held to 1 - (1 - 0.95) / j",
    )
    missing: int = Field(
        default=0,
        description="runs still to train when it was stopped: an unfinished record names no winner",
    )

    @property
    def finished(self) -> bool:
        """Every run of its plan has a result (or failed)."""
        return self.missing == 0

    def same_result(self, other: Confirmation) -> bool:
        """Whether two records differ only in when they were made and what was trained for them."""
        moment = {"created", "trained", "reused"}
        return self.model_dump(exclude=moment) == other.model_dump(exclude=moment)


# The study's attributes that hold every confirmation and every confirmation run.
CONFIRMATIONS_ATTR = "confirmations"
RUNS_ATTR = "confirmation_runs"


def stored_runs(study: optuna.Study) -> list[StoredRun]:
    """Confirmation runs stored with the study."""
    return [StoredRun.model_validate(r) for r in study.user_attrs.get(RUNS_ATTR, [])]


def store_run(study: optuna.Study, run: StoredRun) -> None:
    """Add a finished confirmation run to the study's."""
    study.set_user_attr(RUNS_ATTR, [*study.user_attrs.get(RUNS_ATTR, []), run.model_dump(mode="json")])


def stored_confirmations(study: optuna.Study) -> list[Confirmation]:
    """Every confirmation stored with the study, oldest first."""
    return [Confirmation.model_validate(r) for r in study.user_attrs.get(CONFIRMATIONS_ATTR, [])]


def latest_by_budget(records: Sequence[Confirmation]) -> list[Confirmation]:
    """The latest finished one of ``records`` (oldest first, as stored) at each token budget, shortest
    budget first: an unfinished record names no winner and does not stand for its budget."""
    latest = {c.tokens: c for c in records if c.finished}
    return [latest[tokens] for tokens in sorted(latest)]


def store_confirmation(study: optuna.Study, confirmation: Confirmation) -> bool:
    """Add ``confirmation`` to the study's, unless the latest one has the same result; whether it
    was added."""
    stored = study.user_attrs.get(CONFIRMATIONS_ATTR, [])
    if stored and Confirmation.model_validate(stored[-1]).same_result(confirmation):
        return False
    study.set_user_attr(CONFIRMATIONS_ATTR, [*stored, confirmation.model_dump(mode="json")])
    return True
