"""What a study has found so far: the best schedule, the baselines and the seed-noise band."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from optuna.trial import FrozenTrial, TrialState

from search.recommend import MIN_TRIALS, ModelFit, fit_model, posterior_means
from search.study import counts


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


@dataclass(frozen=True)
class StudySummary:
    """Best trial, baselines and the reference baseline's spread across seeds."""

    counted: int
    best: FrozenTrial | None
    baselines: list[ScheduleScore] = field(default_factory=list)
    noise_sd: float | None = None
    states: dict[str, int] = field(default_factory=dict)

    def reference_loss(self, seed: int) -> float | None:
        """The reference baseline's (first baseline's) loss at ``seed``."""
        return self.baselines[0].losses.get(seed) if self.baselines else None


@dataclass(frozen=True)
class ModelPick:
    """The trial the model expects to be best, its expected loss, and how many trials it saw."""

    trial: FrozenTrial
    expected: float
    seen: int
    fit: ModelFit


def completed(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """Finished trials with a finite value, repeats of earlier trials left out."""
    return [
        t
        for t in trials
        if t.state == TrialState.COMPLETE
        and "repeat_of" not in t.user_attrs
        and t.value is not None
        and math.isfinite(t.value)
    ]


@dataclass(frozen=True)
class ModelRanking:
    """Trials with the model's expected loss, best first, and the kernel settings used."""

    ranked: list[tuple[FrozenTrial, float]]
    fit: ModelFit

    def pick(self, study_seed: int) -> ModelPick | None:
        """The best-ranked trial at the study's seed (None if it has none)."""
        for trial, expected in self.ranked:
            if int(trial.user_attrs.get("seed", study_seed)) == study_seed:
                return ModelPick(trial, expected, len(self.ranked), self.fit)
        return None


def model_ranking(trials: Sequence[FrozenTrial], fit: ModelFit | None = None) -> ModelRanking | None:
    """Completed ``trials`` with the model's expected loss (``search.recommend``), best first
    (ties: the earlier trial); None below ``MIN_TRIALS`` trials. ``fit`` reuses kernel settings
    fitted earlier (fitting them costs about twenty times the ranking itself)."""
    if len(trials) < MIN_TRIALS:
        return None
    mults = np.array([t.user_attrs["mlp_mults"] for t in trials], dtype=float)
    values = np.array([float(t.value) for t in trials])  # type: ignore[arg-type]
    fit = fit or fit_model(mults, values)
    means = posterior_means(mults, values, fit)
    order = sorted(range(len(trials)), key=lambda i: (means[i], trials[i].number))
    return ModelRanking([(trials[i], float(means[i])) for i in order], fit)


def model_pick(
    trials: Sequence[FrozenTrial], study_seed: int, fit: ModelFit | None = None
) -> ModelPick | None:
    """The trial at the study's seed that the model, fitted on every completed trial, expects to
    be best; None below ``MIN_TRIALS`` completed trials. ``fit`` as in :func:`model_ranking`."""
    ranking = model_ranking(completed(trials), fit)
    return ranking.pick(study_seed) if ranking else None


def summarize(trials: list[FrozenTrial], study_seed: int) -> StudySummary:
    """The summary of a study's trials (repeats ignored)."""
    complete = completed(trials)
    main_seed = [t for t in complete if int(t.user_attrs.get("seed", study_seed)) == study_seed]
    best = min(main_seed, key=lambda t: t.value if t.value is not None else float("inf"), default=None)
    by_baseline: dict[str, list[FrozenTrial]] = {}
    for t in complete:
        if "baseline" in t.user_attrs:
            by_baseline.setdefault(t.user_attrs["baseline"], []).append(t)
    baselines = [_score(group, name) for name, group in by_baseline.items()]
    baselines.sort(key=lambda score: -len(score.losses))  # the reference runs at the most seeds
    reference = baselines[0] if baselines else None
    noise = statistics.stdev(reference.losses.values()) if reference and len(reference.losses) > 1 else None
    states: dict[str, int] = {}
    for t in trials:
        label = t.user_attrs.get("outcome", t.state.name.lower())
        states[label] = states.get(label, 0) + 1
    return StudySummary(sum(counts(t) for t in trials), best, baselines, noise, states)


def _score(trials: list[FrozenTrial], baseline: str | None) -> ScheduleScore:
    first = trials[0]
    return ScheduleScore(
        key=first.user_attrs["schedule_key"].split("@")[0],
        mults=tuple(first.user_attrs["mlp_mults"]),
        losses={int(t.user_attrs["seed"]): float(t.value) for t in trials if t.value is not None},
        trials=tuple(t.number for t in trials),
        baseline=baseline,
    )
