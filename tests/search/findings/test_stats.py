"""Paired statistics: mean difference with its t interval, and Kendall's tau, against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from search.findings.stats import kendall_tau, mean_difference, paired_differences


def test_mean_difference_of_one_two_three_has_the_textbook_interval() -> None:
    # mean 2, sd 1, n 3: half width t(0.975, 2) / sqrt(3) = 4.302653 / 1.732051 = 2.484138
    d = mean_difference([1.0, 2.0, 3.0])
    assert (d.n, d.mean, d.sd) == (3, 2.0, 1.0)
    assert d.low == pytest.approx(2 - 2.4841377117503298)
    assert d.high == pytest.approx(2 + 2.4841377117503298)
    assert not d.below_zero and not d.above_zero


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_interval_matches_scipys_paired_t_test(confidence: float) -> None:
    rng = np.random.default_rng(7)
    reference = rng.normal(5.0, 0.01, size=6)
    values = reference + rng.normal(-0.004, 0.003, size=6)
    d = mean_difference(list(values - reference), confidence)
    expected = stats.ttest_rel(values, reference).confidence_interval(confidence)
    assert d.mean == pytest.approx(float(np.mean(values - reference)))
    assert d.low == pytest.approx(float(expected.low))
    assert d.high == pytest.approx(float(expected.high))


def test_one_pair_has_a_mean_but_no_interval() -> None:
    d = mean_difference([-0.5])
    assert d.mean == -0.5
    assert d.low is None and d.high is None and d.sd is None
    assert not d.below_zero


def test_identical_differences_give_a_zero_width_interval() -> None:
    d = mean_difference([-0.25, -0.25, -0.25])
    assert d.low == d.high == -0.25
    assert d.below_zero


def test_interval_below_and_above_zero() -> None:
    assert mean_difference([-0.03, -0.031, -0.029, -0.030]).below_zero
    assert mean_difference([0.03, 0.031, 0.029, 0.030]).above_zero


@pytest.mark.parametrize(("values", "confidence"), [([], 0.95), ([1.0, 2.0], 1.0), ([1.0, 2.0], 0.0)])
def test_mean_difference_rejects_bad_input(values: list[float], confidence: float) -> None:
    with pytest.raises(ValueError):
        mean_difference(values, confidence)


def test_paired_differences_use_only_shared_seeds_in_order() -> None:
    values = {2: 5.0, 0: 4.0, 1: 4.5}
    reference = {0: 4.25, 2: 5.5, 3: 9.0}
    assert paired_differences(values, reference) == {0: -0.25, 2: -0.5}


@pytest.mark.parametrize(
    ("first", "second", "tau"),
    [
        ([1, 2, 3, 4], [10, 20, 30, 40], 1.0),
        ([1, 2, 3, 4], [40, 30, 20, 10], -1.0),
        # one discordant pair of six: (5 - 1) / 6
        ([1, 2, 3, 4], [1, 3, 2, 4], 2 / 3),
    ],
)
def test_kendall_tau_known_values(first: list[float], second: list[float], tau: float) -> None:
    assert kendall_tau(first, second) == pytest.approx(tau)


def test_kendall_tau_with_ties_is_scipys_tau_b() -> None:
    first = [5.31, 5.30, 5.30, 5.35, 5.33]
    second = [5.10, 5.12, 5.09, 5.15, 5.15]
    expected = stats.kendalltau(first, second, variant="b").statistic
    assert kendall_tau(first, second) == pytest.approx(expected)
    assert not math.isclose(expected, 1.0)


@pytest.mark.parametrize(("first", "second"), [([1.0], [2.0]), ([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])])
def test_kendall_tau_is_none_when_undefined(first: list[float], second: list[float]) -> None:
    assert kendall_tau(first, second) is None


def test_kendall_tau_rejects_rankings_of_different_length() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        kendall_tau([1.0, 2.0], [1.0, 2.0, 3.0])
