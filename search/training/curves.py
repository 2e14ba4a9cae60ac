"""What a run's per-step training loss says about its stability: the largest spike after warm-up,
alone, beyond what other runs on the same batches show, or beyond what its own batch-to-batch
noise shows with no instability at all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Steps averaged before a rise counts: one noisy batch is not a spike.
SPIKE_WINDOW = 20
# A run's trend is its centred moving mean over this many steps: far longer than a spike's window,
# far shorter than a run.
TREND_WINDOW = 201
# Shuffles of a run's batch noise: enough for its median and 95th percentile spike.
NOISE_DRAWS = 200


def largest_spike(curve: Sequence[float], warmup_steps: int, window: int = SPIKE_WINDOW) -> float:
    """The largest rise, in nats, of the ``window``-step mean of the training loss above its lowest
    value so far, over the windows that start after warm-up; 0 when it never rises (or the run is
    too short for one window after warm-up)."""
    losses = np.asarray(curve[warmup_steps:], dtype=float)
    if len(losses) < window:
        return 0.0
    sums = np.cumsum(np.concatenate(([0.0], losses)))
    means = (sums[window:] - sums[:-window]) / window
    return float(max(0.0, (means - np.minimum.accumulate(means)).max()))


def median_curve(curves: Sequence[Sequence[float]]) -> list[float]:
    """The per-step median of runs of equal length."""
    if not curves or len({len(c) for c in curves}) != 1:
        raise ValueError(f"median_curve needs curves of one length, not {sorted({len(c) for c in curves})}")
    return [float(v) for v in np.median(np.asarray(curves, dtype=float), axis=0)]


def excess_spike(
    curve: Sequence[float], reference: Sequence[float], warmup_steps: int, window: int = SPIKE_WINDOW
) -> float:
    """:func:`largest_spike` of ``curve`` minus ``reference``, a run of other schedules on the same
    batches: a hard stretch of text raises every run's loss at the same steps, an instability only
    its own."""
    if len(curve) != len(reference):
        raise ValueError(f"a curve of {len(curve)} steps against a reference of {len(reference)}")
    excess = np.asarray(curve, dtype=float) - np.asarray(reference, dtype=float)
    return largest_spike(list(excess), warmup_steps, window)


def batch_noise_spikes(
    curve: Sequence[float],
    warmup_steps: int,
    window: int = SPIKE_WINDOW,
    draws: int = NOISE_DRAWS,
    seed: int = 0,
) -> list[float]:
    """:func:`largest_spike` of the run's trend plus its own residuals after warm-up in a random
    order, ``draws`` times: the spikes a run this noisy shows from batch-to-batch noise alone.

    Batches are drawn at random, so a hard one is as likely at any step, while an instability
    raises the loss for many steps in a row. Shuffling keeps the residuals' sizes and loses any such
    stretch, and the rise of a mean over ``window`` steps grows with how many windows a run has, so
    the comparison is with the run's own length and noise. Seeded: a report is reproducible."""
    losses = np.asarray(curve, dtype=float)
    trend = _centred_mean(losses, TREND_WINDOW // 2)
    residuals = losses - trend
    rng = np.random.default_rng(seed)
    spikes = []
    for _ in range(draws):
        shuffled = residuals.copy()
        shuffled[warmup_steps:] = rng.permutation(residuals[warmup_steps:])
        spikes.append(largest_spike(list(trend + shuffled), warmup_steps, window))
    return spikes


@dataclass(frozen=True)
class SpikeAgainstNoise:
    """A run's :func:`largest_spike` beside the median and 95th percentile of its
    :func:`batch_noise_spikes`."""

    spike: float
    noise_median: float
    noise_95: float

    @property
    def beyond(self) -> float:
        """How far the spike stands above the noise's median: about 0 for a stable run, however
        long; an instability's own rise."""
        return max(0.0, self.spike - self.noise_median)


def spike_against_noise(curve: Sequence[float], warmup_steps: int) -> SpikeAgainstNoise:
    """The run's spike and what its own batch noise, shuffled, gives."""
    noise = np.asarray(batch_noise_spikes(curve, warmup_steps))
    return SpikeAgainstNoise(
        largest_spike(curve, warmup_steps), float(np.median(noise)), float(np.quantile(noise, 0.95))
    )


def _centred_mean(values: np.ndarray, half: int) -> np.ndarray:
    """Each value's mean with its ``half`` neighbours either side, fewer at the ends (padding the
    ends with their last value would carry that one step's noise into a hundred steps of trend)."""
    sums = np.concatenate(([0.0], np.cumsum(values)))
    steps = np.arange(len(values))
    low, high = np.maximum(0, steps - half), np.minimum(len(values), steps + half + 1)
    return (sums[high] - sums[low]) / (high - low)
