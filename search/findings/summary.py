"""What a study has found so far: the best schedule, the baselines, the seed-noise band, and the
model's ranking of every completed trial."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from optuna.trial import FrozenTrial

from search.findings.recommend import posterior_means
from search.study import record
from search.study.schedule_model import MIN_TRIALS, ModelFit, fit_model


@dataclass(frozen=True)
class ScheduleScore:
    """Final validation losses of one schedule, by seed."""

    key: str
    mults: tuple[int | float, ...]
    losses: dict[int, float]
    trials: tuple[int, ...]
    baseline: str | None = None

    @property
    def mean(self) -> float:
        """Mean loss over its seeds."""
        return statistics.fmean(self.losses.values())

    @property
    def sd(self) -> float | None:
        """Sample standard deviation over its seeds (None with one seed)."""
        return statistics.stdev(self.losses.values()) if len(self.losses) > 1 else None


@dataclass(frozen=True)
class StudySummary:
    """Best trial, baselines and the reference baseline's spread across seeds."""

    counted: int
    best: FrozenTrial | None
    baselines: list[ScheduleScore] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)

    @property
    def reference(self) -> ScheduleScore | None:
        """The reference baseline (the first: it runs at the most seeds)."""
        return self.baselines[0] if self.baselines else None

    @property
    def noise_sd(self) -> float | None:
        """The reference baseline's sd across seeds: the study's noise floor."""
        return self.reference.sd if self.reference else None

    def reference_loss(self, seed: int) -> float | None:
        """The reference baseline's loss at ``seed``."""
        return self.reference.losses.get(seed) if self.reference else None


@dataclass(frozen=True)
class ModelPick:
    """The trial the model expects to be best, its expected loss, and how many trials it saw."""

    trial: FrozenTrial
    expected: float
    seen: int
    fit: ModelFit


@dataclass(frozen=True)
class ModelRanking:
    """Trials with the model's expected loss, best first, and the kernel settings used."""

    ranked: list[tuple[FrozenTrial, float]]
    fit: ModelFit

    def pick(self, study_seed: int) -> ModelPick | None:
        """The best-ranked trial at the study's seed (None if it has none)."""
        for trial, expected in self.ranked:
            if record.seed(trial, study_seed) == study_seed:
                return ModelPick(trial, expected, len(self.ranked), self.fit)
        return None

    @property
    def expected(self) -> dict[int, float]:
        """The model's expected loss by trial number."""
        return {t.number: mean for t, mean in self.ranked}


def model_ranking(trials: Sequence[FrozenTrial], fit: ModelFit | None = None) -> ModelRanking | None:
    """Completed ``trials`` with the model's expected loss (``search.findings.recommend``), best
    first (ties: the earlier trial); None below ``MIN_TRIALS`` trials. ``fit`` reuses kernel
    settings fitted earlier (fitting them costs about twenty times the ranking itself)."""
    if len(trials) < MIN_TRIALS:
        return None
    mults = np.array([record.mults(t) for t in trials], dtype=float)
    values = np.array([record.value(t) for t in trials])
    fit = fit or fit_model(mults, values)
    means = posterior_means(mults, values, fit)
    order = sorted(range(len(trials)), key=lambda i: (means[i], trials[i].number))
    return ModelRanking([(trials[i], float(means[i])) for i in order], fit)


def summarize(trials: Sequence[FrozenTrial], study_seed: int) -> StudySummary:
    """The summary of a study's trials (repeats ignored)."""
    complete = record.completed(trials)
    best = min(record.at_seed(complete, study_seed), key=record.value, default=None)
    by_baseline: dict[str, list[FrozenTrial]] = {}
    for t in complete:
        name = record.baseline(t)
        if name is not None:
            by_baseline.setdefault(name, []).append(t)
    baselines = [_score(group, name) for name, group in by_baseline.items()]
    baselines.sort(key=lambda score: -len(score.losses))  # the reference runs at the most seeds
    states: dict[str, int] = {}
    for t in trials:
        label = record.outcome(t)
        states[label] = states.get(label, 0) + 1
    return StudySummary(sum(record.counts(t) for t in trials), best, baselines, states)


def _score(trials: list[FrozenTrial], baseline: str | None) -> ScheduleScore:
    first = trials[0]
    return ScheduleScore(
        key=record.schedule_key(first),
        mults=record.mults(first),
        losses={record.seed(t): record.value(t) for t in trials},
        trials=tuple(t.number for t in trials),
        baseline=baseline,
    )
