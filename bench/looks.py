"""How often a confirmation names a false winner when seeds are added after looking: ``python -m
bench.looks [--draws N] [--seed S]``

Simulates confirmations where no schedule is better than the reference: every schedule's loss at
every seed is an independent normal draw, so each schedule's paired difference from the shared
reference has mean zero. A design is a list of looks (seeds so far, the confidence the look is held
to); the confirmation names a false winner when, at any look, some schedule's interval of its mean
difference lies wholly below zero (``search.findings.verdicts``' rule). A replication starts again at
seeds not seen before (``search.confirm --first-seed``). Printed: each design's false-winner rate with
its Monte Carlo standard error, for 1 and 2 schedules compared with the reference; then JSON.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from search.findings.formatting import percent
from search.findings.stats import INTERVAL_CONFIDENCE, per_look_confidence

FIRST, THEN, MANY = 4, 7, 15  # the 100M study's looks, and the extension the README proposes


@dataclass(frozen=True)
class Design:
    """Looks at growing seeds: (seeds so far, confidence); ``fresh`` starts each look's seeds anew."""

    name: str
    looks: tuple[tuple[int, float], ...]
    fresh: bool = False


def designs() -> list[Design]:
    """The planned confirmation, extending it naively, extending it under the per-look rule, and a
    replication at unseen seeds after the first look."""
    one, two, three = (per_look_confidence(INTERVAL_CONFIDENCE, look) for look in (1, 2, 3))
    return [
        Design(f"{THEN} seeds planned", ((THEN, one),)),
        Design(f"{FIRST}, then {THEN}, each at {percent(one)}", ((FIRST, one), (THEN, one))),
        Design(f"{FIRST}, then {THEN} held to {percent(two)} (the rule)", ((FIRST, one), (THEN, two))),
        Design(f"{FIRST}, {THEN}, {MANY} under the rule", ((FIRST, one), (THEN, two), (MANY, three))),
        Design(f"{FIRST}, then {THEN} unseen seeds (--first-seed)", ((FIRST, one), (THEN, one)), fresh=True),
    ]


def false_winner_rate(design: Design, schedules: int, draws: int, rng: np.random.Generator) -> float:
    """The share of ``draws`` null confirmations of ``schedules`` schedules that name a winner."""
    named = np.zeros(draws, dtype=bool)
    seen = 0
    differences = np.empty((draws, schedules, 0))
    for seeds, confidence in design.looks:
        new = seeds if design.fresh else seeds - seen
        reference = rng.standard_normal((draws, 1, new))
        fresh = rng.standard_normal((draws, schedules, new)) - reference
        differences = fresh if design.fresh else np.concatenate([differences, fresh], axis=2)
        seen = seeds
        n = differences.shape[2]
        half = stats.t.ppf((1 + confidence) / 2, n - 1) * differences.std(axis=2, ddof=1) / np.sqrt(n)
        named |= (differences.mean(axis=2) + half < 0).any(axis=1)
    return float(named.mean())


def measure(draws: int, seed: int, schedule_counts: Sequence[int] = (1, 2)) -> list[dict[str, object]]:
    """Each design's false-winner rate and standard error for each number of schedules."""
    rng = np.random.default_rng(seed)
    rows = []
    for design in designs():
        for count in schedule_counts:
            rate = false_winner_rate(design, count, draws, rng)
            rows.append(
                {
                    "design": design.name,
                    "schedules": count,
                    "rate": rate,
                    "standard_error": float(np.sqrt(rate * (1 - rate) / draws)),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.looks", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--draws", type=int, default=200_000, help="simulated confirmations a cell (default 200000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the simulation's seed (default 0)")
    options = parser.parse_args(argv)
    if options.draws < 2:
        parser.error(f"--draws must be at least 2, got {options.draws}")
    rows = measure(options.draws, options.seed)
    print(f"{'design':<48} {'schedules':>9} {'false winners':>14} {'se':>8}")
    for row in rows:
        print(f"{row['design']:<48} {row['schedules']:>9} {row['rate']:>14.2%} {row['standard_error']:>8.2%}")
    print(json.dumps({"draws": options.draws, "seed": options.seed, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
