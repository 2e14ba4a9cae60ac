"""What a run's per-step training loss says about its stability: the largest spike after warm-up,
alone or beyond what other runs on the same batches show."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Steps averaged before a rise counts: one noisy batch is not a spike.
SPIKE_WINDOW = 20


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
