import itertools

import numpy as np
import pytest

from search.findings.recommend import CONFIDENCE, better_than, recommend
from search.study.schedule_model import MIN_TRIALS, cumulative_shares, fit_model, posterior
from tests.search.study.test_schedule_model import OPTIMUM, loss, near_optimum

UNIFORM = np.full(12, 4)
NOISE = 0.01
# A study as search.run starts one: uniform at three seeds, then hand-found (OPTIMUM), then the rest.
BASELINES = 4


def single_moves(centre: np.ndarray) -> np.ndarray:
    """Every schedule one unit of width away from ``centre``."""
    rows = []
    for give, take in itertools.permutations(range(12), 2):
        row = centre.copy()
        row[give] -= 1
        row[take] += 1
        if row.min() >= 1:
            rows.append(row)
    return np.array(rows)


def study(explored: np.ndarray) -> np.ndarray:
    """The baselines' rows, then ``explored``."""
    return np.vstack([UNIFORM, UNIFORM, UNIFORM, OPTIMUM, explored])


def baseline_marks(count: int) -> np.ndarray:
    return np.arange(count) < BASELINES


def test_cumulative_shares_are_the_width_spent_before_each_boundary():
    shares = cumulative_shares(np.array([[1, 1, 2], [2, 2, 0]]))
    np.testing.assert_allclose(shares, [[0.25, 0.5], [0.5, 1.0]])


def lucky_neighbour_study() -> tuple[np.ndarray, np.ndarray]:
    """Hand-found is the optimum; its neighbours, measured once each with noise, are no better, and
    the worst of them drew noise twice its sd below hand-found's truth."""
    rng = np.random.default_rng(0)
    mults = study(single_moves(OPTIMUM)[::3])
    truth = 4.0 + 0.01 * loss(mults)
    observed = truth + rng.normal(0.0, NOISE, size=len(truth))
    observed[BASELINES + int(np.argmax(truth[BASELINES:]))] = truth[BASELINES - 1] - 2 * NOISE
    return mults, observed


def test_a_lucky_neighbour_of_the_baselines_does_not_displace_them():
    """The lowest posterior mean (the expected-regret rule's pick) takes a neighbour; the default
    rule keeps hand-found, the optimum, since nothing is better than it with 95% probability."""
    mults, observed = lucky_neighbour_study()
    found = recommend(mults, observed, baseline_marks(len(mults)))
    assert int(np.argmin(found.means)) >= BASELINES  # the bare posterior mean leaves the baseline
    assert recommend(mults, observed, baseline_marks(len(mults)), rule="expected-regret").pick >= BASELINES
    assert found.pick == BASELINES - 1 and found.reference == BASELINES - 1
    assert (found.better[BASELINES:] < CONFIDENCE).all()


def test_expected_regret_ranks_by_the_posterior_expected_regret_over_the_trained_schedules():
    """E[f(x) - min_j f(j)] drawn from the joint posterior orders the schedules as the rule does:
    the posterior mean less the expected minimum, the same for every schedule."""
    mults, observed = lucky_neighbour_study()
    found = recommend(mults, observed, baseline_marks(len(mults)), rule="expected-regret")
    _, covariance = posterior(mults, observed, fit_model(mults, observed))
    root = np.linalg.cholesky(covariance + 1e-12 * np.eye(len(mults)))
    draws = found.means + np.random.default_rng(5).standard_normal((20000, len(mults))) @ root.T
    regret = (draws - draws.min(axis=1, keepdims=True)).mean(axis=0)
    assert int(np.argmin(regret)) == found.pick
    np.testing.assert_allclose(regret - regret.min(), found.means - found.means.min(), atol=2e-4)
    assert found.order == sorted(range(len(mults)), key=lambda i: (found.means[i], i))


def test_a_schedule_better_by_many_noise_sds_is_picked_over_the_baselines():
    """The truth's optimum lies two units from hand-found, eight noise sd's below it; a search
    that measured around both finds it and leaves the baseline."""
    target = OPTIMUM + np.array([2, 0, 0, -2, 0, 0, 0, 0, 0, 0, 0, 0])
    rng = np.random.default_rng(1)
    mults = study(np.vstack([single_moves(OPTIMUM)[::4], single_moves(target)[::4]]))
    truth = 4.0 + 0.02 * ((np.cumsum(mults - target, axis=1)[:, [0, 3, 7]]) ** 2).sum(axis=1)
    observed = truth + rng.normal(0.0, NOISE, size=len(truth))
    found = recommend(mults, observed, baseline_marks(len(mults)))
    assert truth[BASELINES - 1] - truth[found.pick] > 5 * NOISE
    assert found.better[found.pick] >= CONFIDENCE
    by_regret = recommend(mults, observed, baseline_marks(len(mults)), rule="expected-regret")
    assert truth[BASELINES - 1] - truth[by_regret.pick] > 5 * NOISE


def test_the_order_puts_schedules_surely_better_than_the_best_baseline_first_then_the_rest():
    target = OPTIMUM + np.array([2, 0, 0, -2, 0, 0, 0, 0, 0, 0, 0, 0])
    rng = np.random.default_rng(2)
    mults = study(np.vstack([single_moves(OPTIMUM)[::4], single_moves(target)[::4]]))
    truth = 4.0 + 0.02 * ((np.cumsum(mults - target, axis=1)[:, [0, 3, 7]]) ** 2).sum(axis=1)
    found = recommend(mults, truth + rng.normal(0.0, NOISE, size=len(truth)), baseline_marks(len(mults)))
    first = found.order.index(found.reference)
    assert all(found.better[i] >= CONFIDENCE for i in found.order[:first])
    means = found.means[found.order]
    assert (np.diff(means[:first]) >= 0).all() and (np.diff(means[first + 1 :]) >= 0).all()
    assert sorted(found.order) == list(range(len(mults)))


def test_without_noise_the_pick_is_the_lowest_loss_however_small_the_difference():
    """The uniform baseline's three seeds agree exactly, so the model interpolates: a neighbour a
    thousandth below hand-found is truly better and is picked."""
    mults = study(single_moves(OPTIMUM)[::3])
    observed = 4.0 + 0.01 * loss(mults)
    observed[BASELINES + 5] = observed[BASELINES - 1] - 0.001
    found = recommend(mults, observed, baseline_marks(len(mults)))
    assert found.pick == BASELINES + 5 == int(np.argmin(observed))


def test_without_baselines_the_order_is_the_posterior_mean():
    rng = np.random.default_rng(4)
    mults = near_optimum(40, rng)
    observed = loss(mults) + rng.normal(0.0, 1.0, size=40)
    found = recommend(mults, observed, np.zeros(40, dtype=bool))
    assert found.reference is None and np.isnan(found.better).all()
    assert found.order == sorted(range(40), key=lambda i: (found.means[i], i))


def test_better_than_weighs_the_difference_by_its_own_spread():
    means = np.array([1.0, 0.8, 0.8, 1.0])
    # rows 1 and 2 lie 0.2 below row 0: row 1 moves with it (a near neighbour), row 2 does not
    covariance = np.array(
        [
            [0.04, 0.039, 0.0, 0.0],
            [0.039, 0.04, 0.0, 0.0],
            [0.0, 0.0, 0.04, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ]
    )
    better = better_than(means, covariance, reference=0)
    assert better[1] > 0.99 and 0.7 < better[2] < 0.85 and better[0] == 0.0
    assert better_than(means, np.zeros((4, 4)), reference=3)[1:3].tolist() == [1.0, 1.0]


def test_model_picks_schedules_truly_better_than_the_luckiest_draw():
    """With noise as large as the differences, the lowest observed loss is often a lucky draw;
    the model's pick is truly better on average over seeds."""
    model_picks, observed_picks = [], []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        mults = near_optimum(150, rng)
        truth = loss(mults)
        observed = truth + rng.normal(0.0, 2.0, size=len(truth))
        model_picks.append(truth[recommend(mults, observed, np.zeros(150, dtype=bool)).pick])
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
    means, _ = posterior(mults, observed, fit_model(mults, observed))
    assert means.shape == (60,)
    assert observed.min() - 0.05 < means.min() and means.max() < observed.max() + 0.05


def test_too_few_trials_bad_losses_or_marks_are_refused():
    rng = np.random.default_rng(3)
    mults = near_optimum(MIN_TRIALS - 1, rng)
    with pytest.raises(ValueError, match=f"at least {MIN_TRIALS} trials"):
        recommend(mults, loss(mults), np.zeros(MIN_TRIALS - 1, dtype=bool))
    mults = near_optimum(MIN_TRIALS, rng)
    losses = loss(mults).astype(float)
    losses[2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        recommend(mults, losses, np.zeros(MIN_TRIALS, dtype=bool))
    with pytest.raises(ValueError, match="baseline marks"):
        recommend(mults, loss(mults), np.zeros(MIN_TRIALS + 1, dtype=bool))
