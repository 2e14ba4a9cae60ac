"""Turning any non-negative per-layer profile into the closest schedule that meets a budget."""

from __future__ import annotations

from collections.abc import Sequence

from space.budget import Budget

_BISECTION_ROUNDS = 200
# A fitted value this close to a whole step is that step: keeps feasible inputs mapping to
# themselves despite rounding in the scale search.
_SNAP = 1e-9


def fit_to_budget(profile: Sequence[float], budget: Budget) -> tuple[int, ...]:
    """Per-layer units proportional to ``profile``, within bounds, summing to the budget.

    The profile is scaled by one factor, clipped to each layer's bounds, and rounded by largest
    remainder (ties go to the earlier layer), all in aligned width steps. A profile that already
    is a valid schedule (in units) comes back unchanged, so every valid schedule can come out.
    Zero entries stay at the minimum where the budget allows. Deterministic: pure float
    arithmetic in a fixed order.
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

    def spent(scale: float) -> float:
        return sum(min(max(scale * w, lo), hi) for w in weights)

    low_scale, high_scale = 0.0, hi / min(weights)
    for _ in range(_BISECTION_ROUNDS):
        mid = (low_scale + high_scale) / 2
        if spent(mid) < total:
            low_scale = mid
        else:
            high_scale = mid
    exact = [_snap(min(max(high_scale * w, lo), hi)) for w in weights]
    steps = [int(x) for x in exact]
    short = total - sum(steps)
    by_remainder = sorted(
        (i for i in range(len(steps)) if steps[i] < hi), key=lambda i: (steps[i] - exact[i], i)
    )
    for i in by_remainder[:short]:
        steps[i] += 1
    return tuple(s * step for s in steps)


def _snap(x: float) -> float:
    nearest = round(x)
    return float(nearest) if abs(x - nearest) < _SNAP else x
