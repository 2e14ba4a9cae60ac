"""The largest loss spike after warm-up, on constructed curves."""

from __future__ import annotations

import numpy as np
import pytest

from search.training.curves import (
    batch_noise_spikes,
    excess_spike,
    largest_spike,
    median_curve,
    spike_against_noise,
)


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


def _long_noisy_run(seed: int = 1) -> np.ndarray:
    """3,000 steps falling to a floor, with independent batch-to-batch noise of sd 0.066 nats (the
    size measured on small's 100M-token runs)."""
    steps = np.arange(3000)
    return 3.5 + 2 * np.exp(-steps / 300) + np.random.default_rng(seed).normal(0, 0.066, len(steps))


def test_batch_noise_alone_explains_the_rise_of_a_long_noisy_run() -> None:
    run = _long_noisy_run()
    spike = largest_spike(list(run), warmup_steps=900)
    null = batch_noise_spikes(list(run), warmup_steps=900)
    assert spike > 0.05  # above the trial-recipe issue's bound, with no instability at all
    assert len(null) == 200 and np.quantile(null, 0.05) < spike < np.quantile(null, 0.95)
    assert abs(spike - float(np.median(null))) < 0.02


def test_an_instability_stands_above_the_runs_batch_noise() -> None:
    run = _long_noisy_run()
    steps = np.arange(len(run))
    unstable = run + np.where(steps >= 2000, 0.2 * np.exp(-(steps - 2000) / 40), 0.0)
    spike = largest_spike(list(unstable), warmup_steps=900)
    assert spike > max(batch_noise_spikes(list(unstable), warmup_steps=900)) + 0.05
    against = spike_against_noise(list(unstable), warmup_steps=900)
    shuffled = batch_noise_spikes(list(unstable), 900)
    assert against.spike == spike
    assert against.noise_median == pytest.approx(float(np.median(shuffled)))
    assert against.noise_95 == pytest.approx(float(np.quantile(shuffled, 0.95)))
    beyond = against.beyond
    assert beyond == pytest.approx(spike - float(np.median(shuffled)))
    assert beyond > 0.05 > spike_against_noise(list(run), warmup_steps=900).beyond


def test_the_batch_noise_spikes_are_seeded_and_short_runs_have_none() -> None:
    run = list(_long_noisy_run())
    assert batch_noise_spikes(run, 900, draws=5) == batch_noise_spikes(run, 900, draws=5)
    assert batch_noise_spikes(run, 900, draws=5, seed=1) != batch_noise_spikes(run, 900, draws=5)
    assert batch_noise_spikes([5.0, 9.0, 5.0], warmup_steps=1, draws=3) == [0.0, 0.0, 0.0]
