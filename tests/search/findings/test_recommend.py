import numpy as np
import pytest

from search.findings.recommend import posterior_means
from search.study.schedule_model import MIN_TRIALS, cumulative_shares, fit_model
from tests.search.study.test_schedule_model import loss, near_optimum


def test_cumulative_shares_are_the_width_spent_before_each_boundary():
    shares = cumulative_shares(np.array([[1, 1, 2], [2, 2, 0]]))
    np.testing.assert_allclose(shares, [[0.25, 0.5], [0.5, 1.0]])


def test_model_picks_schedules_truly_better_than_the_luckiest_draw():
    """With noise as large as the differences, the lowest observed loss is often a lucky draw;
    the posterior mean's pick is truly better on average over seeds."""
    model_picks, observed_picks = [], []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        mults = near_optimum(150, rng)
        truth = loss(mults)
        observed = truth + rng.normal(0.0, 2.0, size=len(truth))
        model_picks.append(truth[int(np.argmin(posterior_means(mults, observed)))])
        observed_picks.append(truth[int(np.argmin(observed))])
    assert np.mean(model_picks) < 0.75 * np.mean(observed_picks)


def test_noisier_losses_get_a_larger_noise_share():
    rng = np.random.default_rng(0)
    mults = near_optimum(120, rng)
    truth = loss(mults)
    quiet = fit_model(mults, truth + rng.normal(0.0, 0.05, size=len(truth)))
    loud = fit_model(mults, truth + rng.normal(0.0, 5.0, size=len(truth)))
    assert quiet.noise_share < loud.noise_share


def test_posterior_means_stay_in_loss_units():
    rng = np.random.default_rng(1)
    mults = near_optimum(60, rng)
    observed = 4.5 + 0.01 * loss(mults) + rng.normal(0.0, 0.01, size=60)
    means = posterior_means(mults, observed)
    assert means.shape == (60,)
    assert observed.min() - 0.05 < means.min() and means.max() < observed.max() + 0.05


def test_too_few_trials_or_bad_losses_are_refused():
    rng = np.random.default_rng(3)
    mults = near_optimum(MIN_TRIALS - 1, rng)
    with pytest.raises(ValueError, match=f"at least {MIN_TRIALS} trials"):
        posterior_means(mults, loss(mults))
    mults = near_optimum(MIN_TRIALS, rng)
    losses = loss(mults).astype(float)
    losses[2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        posterior_means(mults, losses)
