"""How far repeated losses spread: an sd pooled over groups (each about its own mean) with its
chi-square interval. The study's model bounds its noise with it; the findings and the benchmarks
report it."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SdEstimate:
    """A standard deviation estimated from samples, with its confidence interval: ``df`` degrees of
    freedom (one fewer than the samples, pooled over groups), a chi-square interval."""

    sd: float
    df: int
    low: float
    high: float
    confidence: float

    @property
    def resolvable(self) -> float:
        """The smallest difference between two single values that this noise lets one call real at
        ``confidence``: z x sqrt(2) x sd (about 2.8 sd at 95%)."""
        from scipy import stats  # here: slow to import, and --help needs none of it

        return float(stats.norm.ppf((1 + self.confidence) / 2)) * math.sqrt(2) * self.sd


def sd_interval(sd: float, df: int, confidence: float = 0.95) -> tuple[float, float]:
    """The ``confidence`` interval of a standard deviation ``sd`` with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"an sd needs at least 1 degree of freedom, got {df}")
    tail = (1 - confidence) / 2
    from scipy import stats  # here: slow to import, and --help needs none of it

    low = sd * math.sqrt(df / float(stats.chi2.ppf(1 - tail, df)))
    high = sd * math.sqrt(df / float(stats.chi2.ppf(tail, df)))
    return low, high


def pooled_sd(groups: Sequence[Sequence[float]], confidence: float = 0.95) -> SdEstimate | None:
    """The sd shared by ``groups`` (each its own mean), pooled over their degrees of freedom; None
    when no group has two values."""
    squares = sum(sum((v - statistics.fmean(g)) ** 2 for v in g) for g in groups if len(g) > 1)
    df = sum(len(g) - 1 for g in groups if len(g) > 1)
    if df < 1:
        return None
    sd = math.sqrt(squares / df)
    low, high = sd_interval(sd, df, confidence)
    return SdEstimate(sd, df, low, high, confidence)
