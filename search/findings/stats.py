"""Paired statistics for comparing schedules trained at the same seeds.

Seed ``s`` gives every schedule the same weight init and data order, so the per-seed difference
to the reference removes most of the seed-to-seed spread; the mean of those differences, with a
t-based confidence interval, says whether a schedule is better beyond that noise. Kendall's tau
says whether two rankings of the same schedules (a short and a long run) agree.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The level of the confirmations' intervals: a false winner at most 1 time in 20 (one schedule, one look).
INTERVAL_CONFIDENCE = 0.95


@dataclass(frozen=True)
class MeanDifference:
    """The mean of paired differences and its two-sided confidence interval.

    ``low`` and ``high`` are None when there are fewer than two pairs: one difference says
    nothing about its own spread.
    """

    n: int
    mean: float
    sd: float | None
    low: float | None
    high: float | None
    confidence: float

    @property
    def below_zero(self) -> bool:
        """The whole interval lies below zero: lower with this confidence."""
        return self.high is not None and self.high < 0

    @property
    def above_zero(self) -> bool:
        """The whole interval lies above zero: higher with this confidence."""
        return self.low is not None and self.low > 0


def paired_differences(values: Mapping[int, float], reference: Mapping[int, float]) -> dict[int, float]:
    """``values[s] - reference[s]`` for every seed ``s`` both have, in seed order."""
    return {seed: values[seed] - reference[seed] for seed in sorted(values.keys() & reference.keys())}


def mean_difference(differences: Sequence[float], confidence: float = INTERVAL_CONFIDENCE) -> MeanDifference:
    """Mean of ``differences`` with a t-distribution confidence interval (n - 1 degrees of freedom).

    Raises ValueError for no differences or a confidence outside (0, 1).
    """
    if not differences:
        raise ValueError("no paired differences: the schedules share no seed")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1, got {confidence}")
    n = len(differences)
    mean = statistics.fmean(differences)
    if n < 2:
        return MeanDifference(n, mean, None, None, None, confidence)
    sd = statistics.stdev(differences)
    from scipy import stats  # here: slow to import, and --help needs none of it

    half_width = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return MeanDifference(n, mean, sd, mean - half_width, mean + half_width, confidence)


def per_look_confidence(confidence: float, look: int) -> float:
    """The confidence the ``look``-th look at growing seeds is held to: 1 - (1 - confidence) / look.
    By the union bound, looks held so name a false winner at most (1 - confidence) times
    1 + 1/2 + ... + 1/k over k looks, however the decision to add seeds depended on what was seen;
    at ``confidence`` each, k times."""
    return 1 - (1 - confidence) / look


def kendall_tau(first: Sequence[float], second: Sequence[float]) -> float | None:
    """Kendall's tau-b between two scorings of the same items; None when it is undefined
    (fewer than two items, or one scoring gives every item the same value)."""
    if len(first) != len(second):
        raise ValueError(f"rankings differ in length: {len(first)} and {len(second)}")
    if len(set(first)) < 2 or len(set(second)) < 2:
        return None
    from scipy import stats  # here: slow to import, and --help needs none of it

    return float(stats.kendalltau(first, second).statistic)
