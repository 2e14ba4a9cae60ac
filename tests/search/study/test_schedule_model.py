import numpy as np

from search.findings.recommend import posterior_means
from search.study.schedule_model import fit_model, predict

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


def test_prediction_at_trained_schedules_is_the_posterior_mean_recommend_ranks_by():
    rng = np.random.default_rng(0)
    mults = near_optimum(40, rng)
    values = loss(mults) + rng.normal(0.0, 1.0, size=40)
    fit = fit_model(mults, values)
    mean, _ = predict(mults, values, fit, mults)
    np.testing.assert_allclose(mean, posterior_means(mults, values, fit), atol=1e-6)


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
