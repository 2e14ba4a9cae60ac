"""A pooled sd and its chi-square interval, against known values."""

from __future__ import annotations

import math

import pytest

from search.study.spread import pooled_sd, sd_interval


def test_an_sds_interval_narrows_with_its_degrees_of_freedom():
    few = sd_interval(0.01, 2)
    many = sd_interval(0.01, 30)
    assert few[0] < many[0] < 0.01 < many[1] < few[1]
    # chi-square quantiles for 2 df at 95%: 0.0506 and 7.378
    assert few == pytest.approx((0.01 * math.sqrt(2 / 7.3778), 0.01 * math.sqrt(2 / 0.050636)), rel=1e-3)


def test_pooled_sd_weighs_each_group_by_its_degrees_of_freedom():
    estimate = pooled_sd([[1.0, 1.2, 1.4], [5.0, 5.2], [9.0]])
    assert estimate is not None and estimate.df == 3
    assert estimate.sd == pytest.approx(math.sqrt((0.04 + 0 + 0.04 + 0.02) / 3))
    assert estimate.low < estimate.sd < estimate.high
    assert estimate.resolvable == pytest.approx(1.96 * math.sqrt(2) * estimate.sd, rel=1e-3)
    assert pooled_sd([[1.0], [2.0]]) is None
