"""Which trained schedules the evidence favours, beyond each one's single noisy loss.

Among hundreds of trials the lowest observed loss is often a lucky draw: a schedule near the
best whose seed happened to help (the winner's curse). Neighbouring schedules carry information
about each other; the Gaussian process of :mod:`search.study.schedule_model` pools it: its
posterior mean at a trained schedule weighs that schedule's own loss against those of its
neighbours, by how noisy the losses are and how fast the loss changes between schedules.
"""

from __future__ import annotations

import numpy as np

from search.study.schedule_model import (
    MIN_TRIALS,
    ModelFit,
    cumulative_shares,
    fit_model,
    solve,
    squared_distances,
    standardize,
)


def posterior_means(mults: np.ndarray, values: np.ndarray, fit: ModelFit | None = None) -> np.ndarray:
    """The model's expected loss at each trained schedule (rows of ``mults``), in loss units.

    ``fit`` reuses kernel settings from :func:`search.study.schedule_model.fit_model` (fitted here
    when None). Raises ValueError for fewer than ``MIN_TRIALS`` trials or non-finite losses.
    """
    mults, values = np.asarray(mults, dtype=float), np.asarray(values, dtype=float)
    if len(values) < MIN_TRIALS:
        raise ValueError(f"a model needs at least {MIN_TRIALS} trials, got {len(values)}")
    if not np.isfinite(values).all():
        raise ValueError("every loss must be finite")
    fit = fit or fit_model(mults, values)
    distances = squared_distances(cumulative_shares(mults))
    _, alpha = solve(distances, standardize(values), fit.length_scale, fit.noise_share)
    # At the training points the posterior mean is y - noise * alpha (standardized units).
    scale = float(values.std()) or 1.0
    return values - fit.noise_share * alpha * scale
