"""The largest loss spike after warm-up, on constructed curves."""

from __future__ import annotations

import pytest

from search.training.curves import largest_spike


def test_a_falling_curve_has_no_spike() -> None:
    assert largest_spike([10 - 0.01 * i for i in range(200)], warmup_steps=20) == 0.0


def test_a_rise_counts_from_the_lowest_mean_before_it() -> None:
    curve = [5.0] * 100 + [6.0] * 40 + [4.0] * 60
    assert largest_spike(curve, warmup_steps=10) == pytest.approx(1.0)


def test_one_bad_batch_is_averaged_over_the_window() -> None:
    curve = [5.0] * 100
    curve[60] = 7.0
    assert largest_spike(curve, warmup_steps=10) == pytest.approx(2.0 / 20)


def test_a_spike_during_warm_up_does_not_count() -> None:
    curve = [5.0] * 25 + [9.0] * 10 + [5.0] * 100
    assert largest_spike(curve, warmup_steps=35) == 0.0
    assert largest_spike(curve, warmup_steps=0) == pytest.approx(2.0)  # ten 9s in a window of 20


def test_a_run_too_short_for_a_window_after_warm_up_has_none() -> None:
    assert largest_spike([5.0, 9.0, 5.0], warmup_steps=1) == 0.0
