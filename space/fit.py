"""Turning any non-negative per-layer profile into the closest schedule that meets a budget."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from space.budget import Budget

# A fitted value this close to a whole step is that step: keeps feasible inputs mapping to
# themselves despite rounding in the scale.
_SNAP = 1e-9


def fit_to_budget(profile: Sequence[float], budget: Budget) -> tuple[int, ...]:
    """Per-layer units proportional to ``profile``, within bounds, summing to the budget.

    The profile is scaled by one factor, clipped to each layer's bounds, and rounded by largest
    remainder (ties go to the earlier layer), all in aligned width steps. A profile that already
    is a valid schedule (in units) comes back unchanged, so every valid schedule can come out.
    Zero entries stay at the minimum where the budget allows. Deterministic on every platform and
    Python version: sums are correctly rounded (``math.fsum``) and evaluated in a fixed order.
    """
    if len(profile) != budget.n_layers:
        raise ValueError(f"profile has {len(profile)} layers, the budget has {budget.n_layers}")
    if any(not w >= 0 for w in profile):  # also catches NaN
        raise ValueError(f"profile must be non-negative numbers, got {list(profile)}")
    step = budget.step_units
    lo, hi, total = budget.min_steps, budget.max_steps, budget.total_steps
    weights = [w / step for w in profile]
    top = max(weights)
    if top == 0:
        weights = [1.0] * len(weights)
        top = 1.0
    # Zero weights may still need to grow when the others hit their upper bound.
    floor_weight = top * 1e-12
    weights = [max(w, floor_weight) for w in weights]
    scale = _scale(weights, lo, hi, total)
    exact = [_snap(_clip(scale * w, lo, hi)) for w in weights]
    steps = [int(x) for x in exact]
    short = total - sum(steps)
    by_remainder = sorted(
        (i for i in range(len(steps)) if steps[i] < hi), key=lambda i: (steps[i] - exact[i], i)
    )
    for i in by_remainder[:short]:
        steps[i] += 1
    return tuple(s * step for s in steps)


def _scale(weights: list[float], lo: int, hi: int, total: int) -> float:
    """The smallest factor at which the clipped, scaled weights spend ``total``.

    What is spent grows piecewise linearly with the factor, bending where a layer leaves its
    lower bound or reaches its upper one; the factor is solved exactly on the piece that holds
    ``total`` rather than searched for.
    """
    bends = sorted({bound / w for w in weights for bound in (lo, hi)})
    # The first bend at which the budget is spent closes the piece that holds the answer.
    end = bisect.bisect_left(bends, total, key=lambda factor: _spent(weights, factor, lo, hi))
    if end == 0:
        return 0.0  # every layer at its lower bound already spends the budget
    start = bends[end - 1]
    if end == len(bends):
        return start  # rounding left the last bend a hair short: every layer is at its upper bound
    stop = bends[end]
    at_low = sum(1 for w in weights if lo / w >= stop)
    at_high = sum(1 for w in weights if hi / w <= start)
    free = math.fsum(w for w in weights if start < hi / w and lo / w < stop)
    # Bends equal on paper but apart by rounding leave a sliver with no free layer: end there.
    return (total - lo * at_low - hi * at_high) / free if free else stop


def _spent(weights: list[float], factor: float, lo: int, hi: int) -> float:
    return math.fsum([_clip(factor * w, lo, hi) for w in weights])


def _clip(x: float, lo: int, hi: int) -> float:
    return lo if x < lo else hi if x > hi else x


def _snap(x: float) -> float:
    nearest = round(x)
    return float(nearest) if abs(x - nearest) < _SNAP else x
