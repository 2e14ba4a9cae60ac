"""Which trained schedule the evidence favours, beyond each one's single noisy loss.

Among hundreds of trials the lowest observed loss is often a lucky draw: a schedule near the
best whose seed happened to help (the winner's curse). Neighbouring schedules carry information
about each other; the Gaussian process of :mod:`search.study.schedule_model` pools it: its
posterior mean at a trained schedule weighs that schedule's own loss against those of its
neighbours, by how noisy the losses are (bounded by the noise the study's repeated baselines
measured) and how fast the loss changes between schedules.

The lowest posterior mean alone still favours luck where a search trains many schedules about as
good as a baseline: one of dozens of neighbours within the noise of it comes out ahead by chance.
A baseline is what one would train without a search, so leaving it needs evidence, as a status
quo does: the recommendation is the lowest posterior mean among the schedules that the model
finds better than the best baseline with probability at least ``CONFIDENCE``, and that baseline
when there is none. (Ax's in-sample best point has the same form in its ``feasible_threshold``
method: the best posterior mean among the points that meet its constraints with probability
0.95.) Without noise the model interpolates (the noise it assumes is bounded by what repeated
baselines measured), its posterior is the losses themselves, and this is the lowest loss.

The other rule, ``expected-regret``, weighs the status quo by expected loss alone: the lowest
posterior expected regret E[f(x) - min_j f(j)] over the trained schedules, under the joint
posterior. By linearity of expectation that is x's posterior mean less E[min_j f(j)], the same for
every x, so it orders the schedules by posterior mean and needs no draws: the risk-neutral final
recommendation of the knowledge gradient (Frazier, "A Tutorial on Bayesian Optimization", 2018,
section 4.2). Measured (``python -m bench.search_budget --rule expected-regret``) it leaves
hand-found, the optimum, for a neighbour about half a noise sd worse, so it is not the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from search.study.schedule_model import MIN_TRIALS, ModelFit, fit_model, posterior

CONFIDENCE = 0.95
Rule = Literal["confidence", "expected-regret"]
RULES: tuple[Rule, ...] = ("confidence", "expected-regret")


@dataclass(frozen=True)
class Recommendation:
    """The model's view of the trained schedules (rows): the posterior mean of each, in loss units;
    the probability that each is truly better than the best baseline (NaN without baselines); the
    row of the best baseline (None without); and every row in the recommended order, best first."""

    means: np.ndarray
    better: np.ndarray
    reference: int | None
    order: list[int]

    @property
    def pick(self) -> int:
        """The recommended row."""
        return self.order[0]


def recommend(
    mults: np.ndarray,
    values: np.ndarray,
    baseline: np.ndarray,
    fit: ModelFit | None = None,
    rule: Rule = "confidence",
) -> Recommendation:
    """The recommendation among trained schedules (rows of ``mults``, losses ``values``), where
    ``baseline`` marks the rows that train a baseline.

    The order: the schedules better than the best baseline (lowest posterior mean among the
    baselines) with probability at least ``CONFIDENCE``, and that baseline, by posterior mean;
    then every other row by posterior mean (ties: the earlier row). Without baselines, or with
    ``rule="expected-regret"``, every row by posterior mean. ``fit`` reuses kernel settings from
    :func:`search.study.schedule_model.fit_model` (fitted here when None). Raises ValueError for
    fewer than ``MIN_TRIALS`` trials or non-finite losses.
    """
    mults, values = np.asarray(mults, dtype=float), np.asarray(values, dtype=float)
    baseline = np.asarray(baseline, dtype=bool)
    if len(values) < MIN_TRIALS:
        raise ValueError(f"a model needs at least {MIN_TRIALS} trials, got {len(values)}")
    if not np.isfinite(values).all():
        raise ValueError("every loss must be finite")
    if baseline.shape != values.shape:
        raise ValueError(f"baseline marks {baseline.shape} rows, the losses {values.shape}")
    means, covariance = posterior(mults, values, fit or fit_model(mults, values))
    rows = range(len(values))
    by_mean = sorted(rows, key=lambda i: (means[i], i))
    if not baseline.any():
        return Recommendation(means, np.full(len(values), np.nan), None, by_mean)
    reference = min(np.flatnonzero(baseline), key=lambda i: (means[i], i))
    better = better_than(means, covariance, reference)
    if rule == "expected-regret":
        return Recommendation(means, better, int(reference), by_mean)
    same = (mults == mults[reference]).all(axis=1)  # its other seeds are the same schedule
    kept = (better >= CONFIDENCE) | same
    order = sorted(rows, key=lambda i: (not kept[i], means[i], i))
    return Recommendation(means, better, int(reference), order)


def better_than(means: np.ndarray, covariance: np.ndarray, reference: int) -> np.ndarray:
    """The posterior probability that each schedule's noise-free loss is below the one at row
    ``reference``: the difference of two correlated normals, so a neighbour measured near the
    reference is judged by how far it differs, not by its own uncertainty alone."""
    from scipy.stats import norm  # here: scipy is slow to import and --help needs none of it

    difference = means - means[reference]
    variance = np.diag(covariance) + covariance[reference, reference] - 2 * covariance[:, reference]
    spread = np.sqrt(np.maximum(variance, 0.0))
    # With no spread left (the same schedule, or a model that interpolates) the sign decides.
    sure = np.where(difference < 0, 1.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        probability = norm.cdf(-difference / spread)
    return np.where(spread > 0, probability, sure)
