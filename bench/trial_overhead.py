"""What a study's trials spent besides training: ``python -m bench.trial_overhead STORAGE [--study NAME]``

For each worker's finished trials after its first (the first carries the process's start-up), the
trial's cycle runs from the end of the worker's previous finished trial to its own end: asking
the sampler, setting up, compiling, training, evaluating and storing. Its pure training time is its
tokens at its steady rate (``search.study.record.training_seconds``). Printed: a row per trial,
then as JSON the pooled overhead share, 1 - pure / cycle over all those trials, the mean seconds a
trial spent training, compiling, setting up, evaluating and on the rest, and
``overhead_share_at_most``, the same with each trial's compiling taken out of its training time:
trials trained before 2026-11-30 (fifteenth session) also counted the compiling of their
evaluation graphs as training, so for them the truth lies between the two. Compiling is also
split by whether a trial had widths its worker's process had not trained before (a new width is
traced, and compiled unless a cache holds it; a known one is reused): how many trials, their
range, and for those with new widths the range of seconds per new width.
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
from collections.abc import Callable
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from bench.scaling import trials_by_worker
from bench.stored_study import read_stored_study
from search.study import record


def later_trial_cycles(trials: list[FrozenTrial]) -> list[dict[str, Any]]:
    """Each worker's finished trials after its first: cycle, pure training and compiling seconds."""
    rows: list[dict[str, Any]] = []
    for own in trials_by_worker(trials).values():
        new_widths = new_widths_by_trial(own)
        finished = [t for t in own if t.state == TrialState.COMPLETE and t.datetime_complete is not None]
        for previous, trial in itertools.pairwise(finished):
            pure_s = record.training_seconds(trial)
            if pure_s is None:
                continue
            cycle_s = (trial.datetime_complete - previous.datetime_complete).total_seconds()  # type: ignore[operator]
            attrs = trial.user_attrs
            rows.append(
                {
                    "trial": trial.number,
                    "cycle_s": cycle_s,
                    "pure_s": pure_s,
                    "compile_s": float(attrs.get(record.COMPILE_S) or 0.0),
                    "setup_s": float(attrs.get(record.SETUP_S) or 0.0),
                    "eval_s": float(attrs.get(record.EVAL_S) or 0.0),
                    "new_widths": new_widths[trial.number],
                }
            )
    return sorted(rows, key=lambda row: row["trial"])


def new_widths_by_trial(own: list[FrozenTrial]) -> dict[int, int]:
    """Trial number -> how many of its widths none of the worker's earlier trials had (a budget
    maps each multiplier to one width, so distinct multipliers stand for distinct widths)."""
    seen: set[int | float] = set()
    new: dict[int, int] = {}
    for trial in own:
        mine = set(record.known_mults(trial) or ())
        new[trial.number] = len(mine - seen)
        seen |= mine
    return new


def compiling_by_new_widths(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Compiling seconds of the trials without a new width and of those with some, and per new width."""
    known = [r["compile_s"] for r in rows if r["new_widths"] == 0]
    new = [r for r in rows if r["new_widths"] > 0]
    per_width = [r["compile_s"] / r["new_widths"] for r in new]
    return {
        "no_new_width": {"trials": len(known), **_range(known)},
        "new_widths": {
            "trials": len(new),
            "widths": sum(r["new_widths"] for r in new),
            **_range([r["compile_s"] for r in new]),
            "per_width": _range(per_width),
        },
    }


def _range(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"min_s": None, "max_s": None}
    return {"min_s": round(min(values), 3), "max_s": round(max(values), 3)}


def pooled(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The overhead share over all rows, and its bound for trials that counted compiling twice."""
    cycle = sum(r["cycle_s"] for r in rows)
    pure = sum(r["pure_s"] for r in rows)
    compiling = sum(r["compile_s"] for r in rows)
    return {
        "trials": len(rows),
        "cycle_s": round(cycle, 2),
        "pure_training_s": round(pure, 2),
        "overhead_share": round(1 - pure / cycle, 4),
        "overhead_share_at_most": round(1 - (pure - compiling) / cycle, 4),
        "median_cycle_s": round(statistics.median(r["cycle_s"] for r in rows), 2),
        "mean_s": {
            "training": _mean(rows, lambda r: r["pure_s"]),
            "compiling": _mean(rows, lambda r: r["compile_s"]),
            "setting_up": _mean(rows, lambda r: r["setup_s"]),
            "evaluating": _mean(rows, lambda r: r["eval_s"]),
            # Asking the sampler, storing the results, and anything not timed by the run.
            "the_rest": _mean(
                rows, lambda r: r["cycle_s"] - r["pure_s"] - r["compile_s"] - r["setup_s"] - r["eval_s"]
            ),
        },
        "compiling": compiling_by_new_widths(rows),
    }


def _mean(rows: list[dict[str, Any]], part: Callable[[dict[str, Any]], float]) -> float:
    return round(statistics.fmean(part(r) for r in rows), 3)


def main(argv: list[str] | None = None) -> int:
    """Read the study, print a row per later trial and the pooled figures as JSON."""
    parser, study = read_stored_study("python -m bench.trial_overhead", __doc__, argv)
    name = study.study_name
    trials = study.get_trials(deepcopy=False)
    rows = later_trial_cycles(trials)
    if not rows:
        parser.error(
            f"study '{name}' has no finished trial after a worker's first that recorded its training"
        )
    print("trial  cycle s  training s  compiling s  new widths  overhead")
    for r in rows:
        share = 1 - r["pure_s"] / r["cycle_s"]
        print(
            f"{r['trial']:5d}  {r['cycle_s']:7.2f}  {r['pure_s']:10.2f}  {r['compile_s']:11.2f}"
            f"  {r['new_widths']:10d}  {share:8.2%}"
        )
    print(json.dumps({"study": name, **pooled(rows)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
