"""A Gaussian process over schedules: the model both the search and its recommendation rest on.

Neighbouring schedules carry information about each other, since a trained model barely changes
when a little width moves between layers. Schedules are therefore compared by their cumulative
width shares (the width spent up to each layer boundary over the total), so moving width between
neighbouring layers is a short step and moving it from the first layer to the last a long one.
The kernel is a squared exponential; its length scale and the noise share are chosen from a grid
by marginal likelihood, both estimated from the trials themselves.

A schedule trained more than once (a study trains the reference baseline at several seeds)
measures the noise directly, and that measurement bounds the noise share: it is kept within the
95% interval of the noise variance the repeats show. Left to the marginal likelihood alone, the
noise term also absorbs what the smooth kernel cannot fit; a study whose repeats agree exactly
(no noise) then gets a model that interpolates its losses instead of smoothing real differences away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from search.study.spread import pooled_sd

# Below this many trials the length scale and noise cannot be told apart; rank by loss instead.
MIN_TRIALS = 8
LENGTH_SCALES = (0.03, 0.06, 0.12, 0.25, 0.5)
NOISE_SHARES = (0.02, 0.1, 0.3, 0.6)
NOISE_CONFIDENCE = 0.95
# Where the repeats show (almost) no noise the model nearly interpolates; this much noise keeps its
# covariance well conditioned. The signal likewise keeps a share where they show only noise.
_MIN_NOISE_SHARE = 1e-6
_MIN_SIGNAL = 0.01
_JITTER = 1e-8


@dataclass(frozen=True)
class ModelFit:
    """Kernel settings chosen by marginal likelihood: length scale (in width shares) and the
    share of the losses' variance that is noise."""

    length_scale: float
    noise_share: float
    log_likelihood: float


def cumulative_shares(mults: np.ndarray) -> np.ndarray:
    """(n, L-1) width spent up to each of the L-1 layer boundaries, over each schedule's total."""
    spent = np.cumsum(np.asarray(mults, dtype=float), axis=1)
    return spent[:, :-1] / spent[:, -1:]


def fit_model(mults: np.ndarray, values: np.ndarray) -> ModelFit:
    """The (length scale, noise share) with the highest marginal likelihood of ``values``: the
    grids', each noise share moved into the interval the repeated schedules measured (if any)."""
    distances = squared_distances(cumulative_shares(mults))
    scaled = standardize(values)
    shares: Sequence[float] = NOISE_SHARES
    measured = measured_noise_shares(mults, values)
    if measured is not None:
        low, high = measured
        low, high = max(low, _MIN_NOISE_SHARE), min(max(high, _MIN_NOISE_SHARE), 1 - _MIN_SIGNAL)
        shares = sorted({min(max(share, low), high) for share in NOISE_SHARES})
    best: ModelFit | None = None
    for length_scale in LENGTH_SCALES:
        for noise_share in shares:
            factor, alpha = solve(distances, scaled, length_scale, noise_share)
            fit_value = -0.5 * float(scaled @ alpha) - float(np.log(np.diag(factor)).sum())
            if best is None or fit_value > best.log_likelihood:
                best = ModelFit(length_scale, noise_share, fit_value)
    assert best is not None  # the grids are not empty
    return best


def measured_noise_shares(mults: np.ndarray, values: np.ndarray) -> tuple[float, float] | None:
    """The ``NOISE_CONFIDENCE`` interval of the noise variance that schedules measured more than
    once show (their losses' spread about each schedule's mean, pooled), as shares of the variance
    of ``values``; None when no schedule was measured twice."""
    values = np.asarray(values, dtype=float)
    groups: dict[tuple[float, ...], list[float]] = {}
    for row, value in zip(np.asarray(mults, dtype=float), values, strict=True):
        groups.setdefault(tuple(row), []).append(float(value))
    noise = pooled_sd(list(groups.values()), NOISE_CONFIDENCE)
    if noise is None:
        return None
    scale = float(values.var()) or 1.0
    return noise.low**2 / scale, noise.high**2 / scale


def predict(
    mults: np.ndarray, values: np.ndarray, fit: ModelFit, new: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and sd of the noise-free loss at the schedules in the rows of ``new``,
    given losses ``values`` at ``mults``; in loss units."""
    values = np.asarray(values, dtype=float)
    trained, asked = cumulative_shares(mults), cumulative_shares(new)
    factor, alpha = solve(squared_distances(trained), standardize(values), fit.length_scale, fit.noise_share)
    signal = 1 - fit.noise_share
    cross = signal * np.exp(-0.5 * cross_distances(asked, trained) / fit.length_scale**2)
    from scipy.linalg import solve_triangular  # here: scipy is slow to import and --help needs none of it

    reach = solve_triangular(factor, cross.T, lower=True)
    variance = np.maximum(signal - (reach**2).sum(axis=0), 0.0)
    scale = float(values.std()) or 1.0
    return float(values.mean()) + scale * (cross @ alpha), scale * np.sqrt(variance)


def posterior(mults: np.ndarray, values: np.ndarray, fit: ModelFit) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and covariance of the noise-free loss at the trained schedules (the rows of
    ``mults``, with losses ``values``); in loss units."""
    values = np.asarray(values, dtype=float)
    distances = squared_distances(cumulative_shares(mults))
    factor, alpha = solve(distances, standardize(values), fit.length_scale, fit.noise_share)
    signal = (1 - fit.noise_share) * np.exp(-0.5 * distances / fit.length_scale**2)
    from scipy.linalg import solve_triangular  # here: scipy is slow to import and --help needs none of it

    reach = solve_triangular(factor, signal, lower=True)
    scale = float(values.std()) or 1.0
    # At the training points the posterior mean is y - noise * alpha (standardized units).
    return values - fit.noise_share * alpha * scale, scale**2 * (signal - reach.T @ reach)


def squared_distances(features: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between every pair of rows of ``features``."""
    return cross_distances(features, features)


def cross_distances(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances from each row of ``rows`` to each row of ``columns``."""
    left, right = (rows**2).sum(axis=1), (columns**2).sum(axis=1)
    return np.maximum(left[:, None] + right[None, :] - 2 * rows @ columns.T, 0.0)


def standardize(values: np.ndarray) -> np.ndarray:
    """``values`` shifted to mean 0 and scaled to sd 1 (left unscaled when all are equal)."""
    values = np.asarray(values, dtype=float)
    scale = float(values.std()) or 1.0
    return (values - values.mean()) / scale


def solve(
    distances: np.ndarray, scaled: np.ndarray, length_scale: float, noise_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cholesky factor of the covariance and (covariance)^-1 @ scaled; signal + noise = 1."""
    covariance = (1 - noise_share) * np.exp(-0.5 * distances / length_scale**2)
    covariance[np.diag_indices_from(covariance)] += noise_share + _JITTER
    factor = np.linalg.cholesky(covariance)
    from scipy.linalg import cho_solve  # here: scipy is slow to import and --help needs none of it

    return factor, cho_solve((factor, True), scaled)
