"""A run's plan of steps, pure arithmetic: how many warm the learning rate up, the learning rate at
each, and after which the run is validated."""

from __future__ import annotations

import math


def warmup_steps(steps: int, warmup_frac: float) -> int:
    """Steps of a run of ``steps`` that warm the learning rate up."""
    return round(warmup_frac * steps)


def lr_at(step: int, steps: int, peak: float, warmup_frac: float, min_ratio: float) -> float:
    """Linear warm-up to ``peak``, then cosine decay to ``min_ratio x peak`` at the last step."""
    warmup = warmup_steps(steps, warmup_frac)
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup - 1)
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def checkpoint_steps(steps: int, checkpoints: int) -> list[int]:
    """Steps (1-based counts) after which to validate: evenly spaced, the last one always."""
    marks = {round(k * steps / (checkpoints + 1)) for k in range(1, checkpoints + 1)}
    return [*sorted(m for m in marks if 0 < m < steps), steps]
