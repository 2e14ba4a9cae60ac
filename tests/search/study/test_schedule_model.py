import numpy as np

from search.study.schedule_model import NOISE_SHARES, fit_model, measured_noise_shares, posterior, predict

OPTIMUM = np.array([8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4])


def near_optimum(count: int, rng: np.random.Generator) -> np.ndarray:
    rows = np.tile(OPTIMUM, (count, 1))
    for row in rows:
        for _ in range(rng.integers(0, 6)):
            give, take = rng.choice(12, size=2, replace=False)
            if row[give] > 1:
                row[give] -= 1
                row[take] += 1
    return rows


def loss(mults: np.ndarray) -> np.ndarray:
    return ((np.cumsum(mults - OPTIMUM, axis=1)[:, [0, 3, 7]]) ** 2).sum(axis=1).astype(float)


def test_prediction_at_trained_schedules_is_the_posterior_recommend_ranks_by():
    rng = np.random.default_rng(0)
    mults = near_optimum(40, rng)
    values = loss(mults) + rng.normal(0.0, 1.0, size=40)
    fit = fit_model(mults, values)
    mean, sd = predict(mults, values, fit, mults)
    joint_mean, covariance = posterior(mults, values, fit)
    np.testing.assert_allclose(mean, joint_mean, atol=1e-6)
    np.testing.assert_allclose(sd, np.sqrt(np.diag(covariance)), atol=1e-6)


def test_prediction_is_sure_near_the_data_unsure_far_from_it_and_ranks_unseen_schedules():
    rng = np.random.default_rng(1)
    mults = near_optimum(60, rng)
    values = loss(mults)
    fit = fit_model(mults, values)
    far = np.array([[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 16, 22 - 6]])
    unseen = near_optimum(30, np.random.default_rng(2))
    mean, sd = predict(mults, values, fit, np.vstack([mults[:1], far, unseen]))
    assert sd[0] < 0.2 * sd[1]
    # the model orders schedules it never saw much as the true loss does
    assert np.corrcoef(mean[2:], loss(unseen))[0, 1] > 0.6


def with_repeats(mults: np.ndarray, copies: int) -> np.ndarray:
    """``mults`` with its first schedule trained ``copies`` more times (at other seeds)."""
    return np.vstack([np.tile(mults[:1], (copies, 1)), mults])


def test_no_repeated_schedule_measures_no_noise():
    mults = near_optimum(30, np.random.default_rng(3))
    mults = np.unique(mults, axis=0)
    assert measured_noise_shares(mults, loss(mults)) is None


def test_repeats_that_agree_make_the_model_interpolate():
    """Without noise the repeats agree exactly: the noise share drops below the grid's lowest and
    the posterior means are the losses, where the grid alone smooths them."""
    rng = np.random.default_rng(4)
    mults = np.unique(near_optimum(50, rng), axis=0)
    values = loss(mults) + 0.01 * rng.permutation(len(mults))  # real differences, however small
    alone = fit_model(mults, values)
    assert alone.noise_share >= min(NOISE_SHARES)
    repeated = with_repeats(mults, 2)
    repeated_values = np.concatenate([np.full(2, values[0]), values])
    fit = fit_model(repeated, repeated_values)
    assert measured_noise_shares(repeated, repeated_values) == (0.0, 0.0)
    assert fit.noise_share < 1e-5
    means, _ = posterior(repeated, repeated_values, fit)
    np.testing.assert_allclose(means, repeated_values, atol=1e-3)
    assert np.argmin(means) == np.argmin(repeated_values)


def test_the_noise_share_stays_within_what_the_repeats_measured():
    """Smooth losses whose repeats spread widely: the marginal likelihood alone would call them
    nearly noise-free; the repeats' interval raises the noise share to its lower end."""
    rng = np.random.default_rng(5)
    mults = np.unique(near_optimum(60, rng), axis=0)
    values = loss(mults)
    repeated = with_repeats(mults, 3)
    spread = np.array([-2.0, 0.0, 2.0])
    repeated_values = np.concatenate([values[0] + spread, values])
    low, high = measured_noise_shares(repeated, repeated_values)
    fit = fit_model(repeated, repeated_values)
    assert min(NOISE_SHARES) < low <= fit.noise_share <= high
    assert fit_model(mults, values).noise_share == min(NOISE_SHARES)
