"""The largest loss spike after warm-up, on constructed curves."""

from __future__ import annotations

import pytest

from search.training.curves import excess_spike, largest_spike, median_curve


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


def test_the_median_curve_is_taken_step_by_step() -> None:
    assert median_curve([[1.0, 5.0], [2.0, 4.0], [9.0, 0.0]]) == [2.0, 4.0]
    with pytest.raises(ValueError, match="one length"):
        median_curve([[1.0, 2.0], [1.0]])


def test_a_rise_the_reference_shares_is_no_excess_spike() -> None:
    hard_text = [5.0] * 100 + [5.4] * 40 + [5.0] * 60
    assert largest_spike(hard_text, warmup_steps=10) == pytest.approx(0.4)
    assert excess_spike(hard_text, [v - 0.1 for v in hard_text], warmup_steps=10) == pytest.approx(0.0)
    own = [v + (0.3 if i >= 150 else 0.0) for i, v in enumerate(hard_text)]
    assert excess_spike(own, hard_text, warmup_steps=10) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="reference of 3"):
        excess_spike(own, [5.0, 5.0, 5.0], warmup_steps=10)
