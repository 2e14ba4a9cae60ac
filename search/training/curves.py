"""What a run's per-step training loss says about its stability: the largest spike after warm-up."""

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
