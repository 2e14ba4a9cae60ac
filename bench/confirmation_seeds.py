"""A confirmation seed by seed: ``python -m bench.confirmation_seeds STORAGE [--study NAME]``

For the study's latest finished confirmation at its longest token budget (``search.confirm``
stores it), prints as Markdown every schedule's loss at each seed with the mean and sd, then each
pair's paired differences (a seed gives both schedules the same init and data order): mean, sd, the
t-interval at the confirmation's own level (its look's, ``search.findings.stats``) and at 95%, and
at how many seeds the first is lower. The verdict is ``search.confirm``'s; this shows the figures it
rests on, for every pair rather than against the reference alone.
"""

from __future__ import annotations

import statistics
import sys

from bench.stored_study import read_stored_study
from search.findings.confirmation import Confirmation, ScheduleResult, latest_by_budget, stored_confirmations
from search.findings.formatting import interval_text, percent, seed_range
from search.findings.stats import INTERVAL_CONFIDENCE, MeanDifference, mean_difference, paired_differences


def seeds_table(c: Confirmation) -> list[str]:
    """Markdown rows: a seed per row, a schedule per column, then each column's mean and sd."""
    header = ["seed", *(f"{r.name} `{r.schedule}`" for r in c.schedules)]
    rows = [header, ["---"] * len(header)]
    for seed in c.seeds:
        rows.append([str(seed), *(loss_cell(r.losses.get(seed)) for r in c.schedules)])
    rows.append(["mean", *(loss_cell(r.mean) for r in c.schedules)])
    rows.append(["sd", *(loss_cell(spread(r)) for r in c.schedules)])
    return ["| " + " | ".join(row) + " |" for row in rows]


def loss_cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def spread(r: ScheduleResult) -> float | None:
    return statistics.stdev(r.losses.values()) if len(r.losses) > 1 else None


def differences_table(c: Confirmation) -> list[str]:
    """Markdown rows: each later schedule less each earlier one (the reference first), paired by seed."""
    levels = sorted({c.confidence, INTERVAL_CONFIDENCE}, reverse=True)
    header = ["difference", "mean", "sd", *map(percent, levels), "seeds lower"]
    rows = [header, ["---"] * len(header)]
    for later, earlier in pairs(c.schedules):
        by_seed = paired_differences(later.losses, earlier.losses)
        values = list(by_seed.values())
        intervals = [mean_difference(values, level) for level in levels]
        lower = sum(value < 0 for value in values)
        rows.append(
            [
                f"{later.name} − {earlier.name}",
                f"{intervals[0].mean:+.4f}",
                loss_cell(intervals[0].sd),
                *(interval_cell(d) for d in intervals),
                f"{lower} of {len(values)}",
            ]
        )
    return ["| " + " | ".join(row) + " |" for row in rows]


def pairs(schedules: list[ScheduleResult]) -> list[tuple[ScheduleResult, ScheduleResult]]:
    """(later, earlier) for every two schedules, the last confirmed first."""
    ordered = reversed(list(enumerate(schedules)))
    return [(later, earlier) for j, later in ordered for earlier in schedules[:j]]


def interval_cell(d: MeanDifference) -> str:
    return "–" if d.low is None or d.high is None else interval_text(d)


def main(argv: list[str] | None = None) -> int:
    """Load the study, take its latest finished confirmation at the longest budget, print both tables."""
    parser, study = read_stored_study("bench.confirmation_seeds", __doc__, argv)
    finished = latest_by_budget(stored_confirmations(study))
    if not finished:
        parser.error(
            f"study {study.study_name!r} holds no finished confirmation: run python -m search.confirm first"
        )
    c = finished[-1]
    print(
        f"{study.study_name}: confirmation of {c.created}, {c.tokens:,} tokens, seeds {seed_range(c.seeds)}, "
        f"held to {percent(c.confidence)}; verdict: {c.verdict}"
    )
    print()
    print("\n".join(seeds_table(c)))
    print()
    print("\n".join(differences_table(c)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
