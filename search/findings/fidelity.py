"""Does the winner hold when trained longer? A study's confirmations at several token budgets side
by side: the latest confirmation at each budget, how each shorter budget's ranking agrees with the
longest budget's (Kendall's tau), and how each schedule's difference from the reference moves from
the shortest budget it was confirmed at to the longest.

A difference is said to grow or shrink only when its intervals at the two budgets do not overlap:
overlapping intervals cannot tell a change in size from seed noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from search.findings.confirmation import Confirmation, Fidelity, ScheduleResult, latest_by_budget
from search.findings.stats import MeanDifference
from search.findings.verdicts import fidelity, result_status

# How a difference from the reference moves from a shorter budget to a longer one.
Trend = Literal["grows", "shrinks", "holds", "vanishes", "appears", "reverses", "within noise", "untold"]


@dataclass(frozen=True)
class BudgetResult:
    """The latest confirmation at one token budget, its passes over the training data where
    recorded, and its ranking's agreement with the longest budget's (None at the longest)."""

    confirmation: Confirmation
    passes: float | None
    agreement: Fidelity | None

    @property
    def tokens(self) -> int:
        """The training tokens of every run at this budget."""
        return self.confirmation.tokens


@dataclass(frozen=True)
class Shift:
    """One schedule's difference from the reference at the shortest and the longest budget it was
    confirmed at, and how it moved between them."""

    name: str
    short_tokens: int
    long_tokens: int
    short: ScheduleResult
    long: ScheduleResult
    trend: Trend


@dataclass(frozen=True)
class BudgetFidelity:
    """The confirmations at two or more token budgets, shortest first, and each schedule's shift."""

    budgets: list[BudgetResult]
    shifts: list[Shift]

    @property
    def longest(self) -> BudgetResult:
        """The budget every shorter one's ranking is compared with."""
        return self.budgets[-1]

    @property
    def reference(self) -> str:
        """The schedule every difference is taken from (each confirmation's first baseline)."""
        return self.longest.confirmation.reference


def budget_fidelity(
    confirmations: Sequence[Confirmation], passes: Mapping[int, float]
) -> BudgetFidelity | None:
    """The latest of ``confirmations`` at each budget compared across budgets; None with fewer than
    two budgets. ``passes`` gives the passes over the training data by training tokens, where known."""
    latest = latest_by_budget(confirmations)
    if len(latest) < 2:
        return None
    longest = latest[-1]
    long_means = {r.name: r.mean for r in longest.schedules if r.mean is not None}
    budgets = [
        BudgetResult(
            c,
            passes.get(c.tokens),
            None if c is longest else fidelity({r.name: r.losses for r in c.schedules}, long_means, c.tokens),
        )
        for c in latest
    ]
    return BudgetFidelity(budgets, _shifts(latest))


def trend(short: MeanDifference | None, long: MeanDifference | None) -> Trend:
    """How a difference from the reference moves from a shorter budget (``short``) to a longer one:
    by whether each interval excludes zero and, where both do on the same side, whether they overlap."""
    before, after = result_status(short), result_status(long)
    if "too few seeds" in (before, after):
        return "untold"
    if before == after == "within noise":
        return "within noise"
    if before == after:
        assert short is not None and long is not None  # both have intervals: their status says so
        if _overlap(short, long):
            return "holds"
        return "grows" if abs(long.mean) > abs(short.mean) else "shrinks"
    if after == "within noise":
        return "vanishes"
    return "appears" if before == "within noise" else "reverses"


def _shifts(latest: Sequence[Confirmation]) -> list[Shift]:
    """Each non-reference schedule confirmed at two budgets or more, in the longest budget's order."""
    at: dict[str, list[tuple[int, ScheduleResult]]] = {}
    for c in reversed(latest):
        for r in c.schedules:
            if r.name != c.reference:
                at.setdefault(r.name, []).insert(0, (c.tokens, r))
    shifts = []
    for name, results in at.items():
        if len(results) > 1:
            (short_tokens, short), (long_tokens, long) = results[0], results[-1]
            shifts.append(
                Shift(name, short_tokens, long_tokens, short, long, trend(short.difference, long.difference))
            )
    return shifts


def _overlap(a: MeanDifference, b: MeanDifference) -> bool:
    assert a.low is not None and a.high is not None and b.low is not None and b.high is not None
    return a.low <= b.high and b.low <= a.high
