"""Which trained schedules the evidence favours, beyond each one's single noisy loss.

Among hundreds of trials the lowest observed loss is often a lucky draw: a schedule near the
best whose seed happened to help (the winner's curse). Neighbouring schedules carry information
about each other, since a trained model barely changes when a little width moves between
layers. A Gaussian process over schedules pools it: its posterior mean at a trained schedule
weighs that schedule's own loss against those of its neighbours, by how noisy the losses are and
how fast the loss changes between schedules, both estimated from the trials themselves.

Schedules are compared by their cumulative width shares (the width spent up to each layer
boundary over the total), so moving width between neighbouring layers is a short step and
moving it from the first layer to the last a long one. The kernel is a squared exponential;
its length scale and the noise share are chosen from a grid by marginal likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Below this many trials the length scale and noise cannot be told apart; rank by loss instead.
MIN_TRIALS = 8
LENGTH_SCALES = (0.03, 0.06, 0.12, 0.25, 0.5)
NOISE_SHARES = (0.02, 0.1, 0.3, 0.6)
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
    """The grid's (length scale, noise share) with the highest marginal likelihood of ``values``."""
    distances = _squared_distances(cumulative_shares(mults))
    scaled = _standardize(values)
    best: ModelFit | None = None
    for length_scale in LENGTH_SCALES:
        for noise_share in NOISE_SHARES:
            factor, alpha = _solve(distances, scaled, length_scale, noise_share)
            fit_value = -0.5 * float(scaled @ alpha) - float(np.log(np.diag(factor)).sum())
            if best is None or fit_value > best.log_likelihood:
                best = ModelFit(length_scale, noise_share, fit_value)
    assert best is not None  # the grids are not empty
    return best


def posterior_means(mults: np.ndarray, values: np.ndarray, fit: ModelFit | None = None) -> np.ndarray:
    """The model's expected loss at each trained schedule (rows of ``mults``), in loss units.

    ``fit`` reuses kernel settings from :func:`fit_model` (fitted here when None). Raises
    ValueError for fewer than ``MIN_TRIALS`` trials or non-finite losses.
    """
    mults, values = np.asarray(mults, dtype=float), np.asarray(values, dtype=float)
    if len(values) < MIN_TRIALS:
        raise ValueError(f"a model needs at least {MIN_TRIALS} trials, got {len(values)}")
    if not np.isfinite(values).all():
        raise ValueError("every loss must be finite")
    fit = fit or fit_model(mults, values)
    distances = _squared_distances(cumulative_shares(mults))
    _, alpha = _solve(distances, _standardize(values), fit.length_scale, fit.noise_share)
    # At the training points the posterior mean is y - noise * alpha (standardized units).
    scale = float(values.std()) or 1.0
    return values - fit.noise_share * alpha * scale


def _squared_distances(features: np.ndarray) -> np.ndarray:
    norms = (features**2).sum(axis=1)
    return np.maximum(norms[:, None] + norms[None, :] - 2 * features @ features.T, 0.0)


def _standardize(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    scale = float(values.std()) or 1.0
    return (values - values.mean()) / scale


def _solve(
    distances: np.ndarray, scaled: np.ndarray, length_scale: float, noise_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cholesky factor of the covariance and (covariance)^-1 @ scaled; signal + noise = 1."""
    covariance = (1 - noise_share) * np.exp(-0.5 * distances / length_scale**2)
    covariance[np.diag_indices_from(covariance)] += noise_share + _JITTER
    factor = np.linalg.cholesky(covariance)
    from scipy.linalg import cho_solve  # here: scipy is slow to import and --help needs none of it

    return factor, cho_solve((factor, True), scaled)
