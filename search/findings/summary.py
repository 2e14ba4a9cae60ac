"""What a study has found so far: the best schedule, the baselines, the seed-noise band, and the
model's ranking of every completed trial (``search.findings.recommend``'s order)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from optuna.trial import FrozenTrial

from search.findings.recommend import CONFIDENCE, recommend
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
    """The trial the model recommends, its expected loss, how many trials it saw, and the best
    baseline it was weighed against (None in a study without baselines) with the probability that
    the pick is truly better than it (None where the pick is that baseline, or there is none)."""

    trial: FrozenTrial
    expected: float
    seen: int
    fit: ModelFit
    reference: FrozenTrial | None = None
    better: float | None = None

    @property
    def why(self) -> str:
        """One clause on how the pick was chosen against the best baseline."""
        if self.reference is None:
            return "the lowest expected loss (the study has no baseline to weigh it against)"
        name = record.baseline(self.reference)
        if self.better is None:
            return (
                f"{name}, the best baseline: no trial is better than it with probability "
                f"{CONFIDENCE:.0%} or more"
            )
        return (
            f"the lowest expected loss among the trials better than {name}, the best baseline, with "
            f"probability {CONFIDENCE:.0%} or more (this one: {self.better:.3f})"
        )


@dataclass(frozen=True)
class ModelRanking:
    """Trials in the model's order, best first, each with its expected loss and the probability
    that it is better than the best baseline (NaN without baselines); the best baseline's trial
    (None without); and the kernel settings used."""

    ranked: list[tuple[FrozenTrial, float]]
    fit: ModelFit
    better: dict[int, float] = field(default_factory=dict)
    reference: FrozenTrial | None = None

    def pick(self, study_seed: int) -> ModelPick | None:
        """The best-ranked trial at the study's seed (None if it has none)."""
        reference = self.reference
        for trial, expected in self.ranked:
            if record.seed(trial, study_seed) == study_seed:
                same = reference is not None and record.mults(trial) == record.mults(reference)
                better = None if reference is None or same else self.better[trial.number]
                return ModelPick(trial, expected, len(self.ranked), self.fit, reference, better)
        return None

    @property
    def expected(self) -> dict[int, float]:
        """The model's expected loss by trial number."""
        return {t.number: mean for t, mean in self.ranked}


def model_ranking(trials: Sequence[FrozenTrial], fit: ModelFit | None = None) -> ModelRanking | None:
    """Completed ``trials`` (in trial order) in the order of ``search.findings.recommend``, with the
    model's expected loss; None below ``MIN_TRIALS`` trials. ``fit`` reuses kernel settings fitted
    earlier (fitting them costs about twenty times the ranking itself)."""
    if len(trials) < MIN_TRIALS:
        return None
    mults = np.array([record.mults(t) for t in trials], dtype=float)
    values = np.array([record.value(t) for t in trials])
    baseline = np.array([record.baseline(t) is not None for t in trials])
    fit = fit or fit_model(mults, values)
    found = recommend(mults, values, baseline, fit)
    reference = trials[found.reference] if found.reference is not None else None
    better = {t.number: float(p) for t, p in zip(trials, found.better, strict=True)}
    ranked = [(trials[i], float(found.means[i])) for i in found.order]
    return ModelRanking(ranked, fit, better, reference)


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
