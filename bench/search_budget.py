"""Search at the user's budget: how good a schedule each sampler recommends after 25 and 50 trials.

    python -m bench.search_budget            # every objective, with and without noise
    python -m bench.search_budget --quick    # smoke run, seconds

Set ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1`` before the command with several ``--jobs``.

``python -m search.run --trials 50`` is the budget users run, baselines included. Each run here is
such a study on the composition space, on ``bench.search``'s synthetic objectives and noise: the
baselines are queued first as ``search.run`` queues them (uniform at three seeds, each with its
own noise draw, then hand-found), then the sampler, built by ``make_sampler`` as the
product builds it, proposes the rest. A proposal repeating a schedule already trained gets the
earlier answer and does not count, as in the product (a run also ends after ``STUCK`` repeats in a
row). After ``CHECKPOINTS`` trials a run recommends a schedule exactly as the product does
(``search.findings.recommend``: the model's pick that ``search.best``, ``search.confirm``, the
report and ``search.run`` show), from every trial so far, the queued baselines marked as such;
``--rule expected-regret`` measures that module's other rule instead, for every sampler.

``--seed-shift`` s gives each of uniform's noise seeds a shift of sd s noise sd's besides its
noise, as a seed moves every schedule trained at it (on the H200 at 100M tokens uniform's seed sd
was 0.6 to 3 times the sd of a comparison at one seed). Schedules compete at the study's seed, so
its own shift is common to all of them and left out. The default, 0, draws the seeds' runs as
repeats.

With ``--workers`` k, a study keeps k trials asked and not yet told, as k workers do: each
proposal is made while k - 1 others are pending; such a column is labelled ``sampler xk``.

Per objective x sampler x checkpoint: the median noise-free regret of the recommendation (regret
as in ``bench.search``: in units of a random valid schedule's mean excess) and how many runs
recommend a schedule truly better (noise-free) than the best baseline.

Goals, judged at the last checkpoint for the product's default sampler on the composition space:

- its median regret is at most ``REGRET_FACTOR`` x random search's at the same count;
- where the optimum is not a baseline and the best baseline is more than ``GAP_SDS`` noise sd's
  worse than it (always, without noise), at least ``BEAT_SHARE`` of its runs beat the best baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing import Pool

import numpy as np
import optuna

from bench.search import SHAPES, STUCK, Problem, make_problems, quiet_worker
from search.findings.recommend import RULES, Rule
from search.findings.recommend import recommend as product_recommendation
from search.study import record
from search.study.opening import baseline_runs, enqueue_schedule
from search.study.samplers import SAMPLERS, chosen_sampler, make_sampler
from search.study.schedule_model import MIN_TRIALS
from space.budget import Budget
from space.spaces import CompositionSpace
from space.spec import SpaceSpec

CHECKPOINTS = (25, 50)
REGRET_FACTOR = 0.5
BEAT_SHARE = 0.8
GAP_SDS = 3
DEFAULT = chosen_sampler(None, "composition")


@dataclass(frozen=True)
class BudgetRun:
    """One study of ``max(checkpoints)`` trials: a problem, a sampler and a seed, with ``workers``
    trials asked and not yet told at any time (as that many workers keep them)."""

    problem: Problem
    sampler: str
    seed: int
    checkpoints: tuple[int, ...]
    workers: int = 1
    rule: Rule = "confidence"
    seed_shift: float = 0.0

    @property
    def label(self) -> str:
        """The sampler's name, and its workers when more than one."""
        return self.sampler if self.workers == 1 else f"{self.sampler} x{self.workers}"


@dataclass(frozen=True)
class StudyResult:
    """What one study found: the recommendation's regret at each checkpoint, and how many
    proposals repeated a schedule already trained or in training (asks the runner absorbs)."""

    regrets: dict[int, float]
    repeats: int


def baselines(budget: Budget) -> list[tuple[int, ...]]:
    """The baselines ``search.run`` queues by default, in its order, one per trial."""
    return [schedule.mults for _, schedule, _ in baseline_runs(SpaceSpec(), CompositionSpace(budget), seed=0)]


def observe(problem: Problem, seed: int, mults: tuple[int, ...], copy: int, seed_shift: float = 0.0) -> float:
    """The observed loss of a schedule: its value plus noise drawn once per (seed, schedule, copy);
    the uniform baseline's copy k trains at noise seed k, hence another draw, and for k > 0 that
    seed's shift, of sd ``seed_shift`` noise sd's, drawn once per (seed, k)."""
    value = float(problem.objective.values(np.array(mults))[0])
    if not problem.noise_sd:
        return value
    rng = np.random.default_rng([seed, copy, *mults])
    noisy = value + float(rng.normal(0.0, problem.noise_sd))
    if copy == 0 or not seed_shift:
        return noisy
    return noisy + float(np.random.default_rng([seed, copy]).normal(0.0, seed_shift * problem.noise_sd))


def run_study(run: BudgetRun) -> StudyResult:
    """The noise-free regret of the recommendation at each checkpoint of one study.

    With several workers, each trial is told only once ``workers`` trials are out: the oldest
    first, as workers training equally long trials finish them.
    """
    budget = Budget()
    space = CompositionSpace(budget)
    study = optuna.create_study(sampler=make_sampler(run.sampler, run.seed, study_seed=0))
    queued = baseline_runs(SpaceSpec(), space, seed=0)
    for name, schedule, seed in queued:
        enqueue_schedule(study, space, schedule, record.queued_attrs(schedule, seed, baseline=name))
    trained: list[tuple[int, ...]] = []
    observed: list[float] = []
    answers: dict[tuple[int, ...], tuple[int, float]] = {}  # each schedule's first trial and its value
    found: dict[int, float] = {}
    out: deque[tuple[optuna.Trial, tuple[int, ...]]] = deque()
    repeats = in_a_row = 0
    while len(trained) < max(run.checkpoints) and in_a_row < STUCK:
        while len(out) < run.workers:
            trial = study.ask()
            out.append((trial, space.suggest(trial).mults))
        trial, mults = out.popleft()
        if len(trained) < len(queued):
            value = observe(run.problem, run.seed, mults, trained.count(mults), run.seed_shift)
        elif mults in answers:  # an earlier trial of it was asked first, so is told by now
            repeats, in_a_row = repeats + 1, in_a_row + 1
            earlier, answer = answers[mults]
            trial.set_user_attr(record.REPEAT_OF, earlier)  # as the product's runner marks a repeat
            study.tell(trial, answer)
            continue
        else:
            value = observe(run.problem, run.seed, mults, copy=0)
        in_a_row = 0
        answers.setdefault(mults, (trial.number, value))
        trained.append(mults)
        observed.append(value)
        study.tell(trial, value)
        if len(trained) in run.checkpoints:
            found[len(trained)] = regret_of_recommendation(
                run.problem, trained, observed, len(queued), run.rule
            )
    # A run that ran out of new schedules keeps its last recommendation at the later checkpoints.
    last = regret_of_recommendation(run.problem, trained, observed, len(queued), run.rule)
    return StudyResult({trials: found.get(trials, last) for trials in run.checkpoints}, repeats)


def regret_of_recommendation(
    problem: Problem,
    trained: Sequence[tuple[int, ...]],
    observed: Sequence[float],
    baselines: int,
    rule: Rule = "confidence",
) -> float:
    """Noise-free regret of the schedule the study recommends after these trials."""
    return float(problem.regret(np.array(recommend(trained, observed, baselines, rule)))[0])


def recommend(
    trained: Sequence[tuple[int, ...]], observed: Sequence[float], baselines: int, rule: Rule = "confidence"
) -> tuple[int, ...]:
    """The schedule the product recommends after these trials, the first ``baselines`` of them the
    queued baselines: the model's pick by ``rule`` (the product's is the default), or below
    ``MIN_TRIALS`` trials the lowest loss."""
    if len(trained) < MIN_TRIALS:
        return trained[int(np.argmin(observed))]
    marked = np.arange(len(trained)) < baselines
    found = product_recommendation(np.array(trained, dtype=float), np.array(observed), marked, rule=rule)
    return trained[found.pick]


def _timed(run: BudgetRun) -> tuple[StudyResult, float]:
    started = time.perf_counter()
    result = run_study(run)
    return result, time.perf_counter() - started


@dataclass
class Cell:
    """Every run of one sampler (and number of workers) on one problem at one checkpoint: the
    regrets of the recommendations, and each run's repeated proposals."""

    problem: Problem
    sampler: str
    trials: int
    regrets: list[float]
    repeats: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        """Median regret over the runs."""
        return statistics.median(self.regrets)

    def beats(self, baseline_regret: float) -> int:
        """Runs whose recommendation is truly better than the best baseline."""
        return sum(r < baseline_regret - 1e-12 for r in self.regrets)


def baseline_regret(problem: Problem) -> float:
    """Noise-free regret of the best baseline."""
    return float(problem.regret(np.array(baselines(Budget()))).min())


def gap_in_sds(problem: Problem) -> float:
    """How far the best baseline lies above the optimum, in noise sd's (infinite without noise)."""
    gap = baseline_regret(problem) * problem.spread
    return gap / problem.noise_sd if problem.noise_sd else (float("inf") if gap > 0 else 0.0)


def goals(cells: dict[tuple[str, str, int], Cell], problems: Sequence[Problem], trials: int) -> list[dict]:
    """Per problem: the default's median regret against random search's, and its share of runs
    beating the best baseline where that is required."""
    rows = []
    for problem in problems:
        default, random = cells[(problem.name, DEFAULT, trials)], cells[(problem.name, "random", trials)]
        gap = gap_in_sds(problem)
        applies = gap > GAP_SDS
        beats = default.beats(baseline_regret(problem))
        rows.append(
            {
                "problem": problem.name,
                "trials": trials,
                "runs": len(default.regrets),
                "median": default.median,
                "random_median": random.median,
                "random_runs": len(random.regrets),
                "regret_met": default.median <= REGRET_FACTOR * random.median,
                "gap_sds": gap,
                "beats": beats,
                "beat_required": applies,
                "beat_met": (beats >= BEAT_SHARE * len(default.regrets)) if applies else None,
            }
        )
    return rows


def markdown(
    problems: Sequence[Problem], samplers: Sequence[str], cells: dict, checkpoints: Sequence[int]
) -> str:
    """The tables: objectives and their best baseline, each checkpoint's medians, then the goals."""
    lines = ["### Objectives at the user's budget", ""]
    lines += ["| objective | best baseline regret | gap to the optimum (noise sd's) |", "|---|---|---|"]
    for problem in problems:
        gap = gap_in_sds(problem)
        shown = "–" if not problem.noise_sd else f"{gap:.1f}"
        lines.append(f"| {problem.name} | {baseline_regret(problem):.2%} | {shown} |")
    for trials in checkpoints:
        runs = len(next(iter(cells.values())).regrets)
        lines += [
            "",
            f"### After {trials} trials: median regret (runs beating the best baseline / runs), "
            f"{runs} runs each",
            "",
            "| objective | " + " | ".join(samplers) + " |",
            "|" + "---|" * (1 + len(samplers)),
        ]
        for problem in problems:
            texts = []
            for sampler in samplers:
                cell = cells[(problem.name, sampler, trials)]
                texts.append(
                    f"{cell.median:.2%} ({cell.beats(baseline_regret(problem))}/{len(cell.regrets)})"
                )
            lines.append(f"| {problem.name} | " + " | ".join(texts) + " |")
    last = max(checkpoints)
    shown = []
    for sampler in samplers:
        repeats = [r for p in problems for r in cells[(p.name, sampler, last)].repeats]
        shown.append(f"{sampler} {statistics.median(repeats):g} ({max(repeats)})")
    lines += [
        "",
        "Repeated proposals per run (answered from the earlier trial), median (most): " + "; ".join(shown),
    ]
    if DEFAULT in samplers and "random" in samplers:
        lines += goal_lines(goals(cells, problems, max(checkpoints)))
    return "\n".join(lines)


def goal_lines(rows: Sequence[dict]) -> list[str]:
    """The goals' table for the default sampler at the last checkpoint."""
    trials = rows[0]["trials"]
    lines = [
        "",
        f"### Goals at {trials} trials: {DEFAULT} against random search",
        "",
        f"| objective | {DEFAULT} median | random median | ≤ {REGRET_FACTOR}x random | beats best baseline "
        f"| ≥ {BEAT_SHARE:.0%} (where the gap > {GAP_SDS} sd) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        met = {True: "yes", False: "**NO**", None: "not required"}
        lines.append(
            f"| {row['problem']} | {row['median']:.2%} | {row['random_median']:.2%} "
            f"| {met[row['regret_met']]} | {row['beats']}/{row['runs']} | {met[row['beat_met']]} |"
        )
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options; ``--quick`` shrinks everything for a smoke run."""
    parser = argparse.ArgumentParser(prog="python -m bench.search_budget", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="runs per sampler x objective")
    parser.add_argument("--samplers", default=f"{DEFAULT},tpe,cmaes,random", help="comma-separated")
    parser.add_argument(
        "--objectives",
        default=",".join(s.name for s in SHAPES),
        help="comma-separated: a shape (with and without noise) or one problem, e.g. 'ramp +noise'",
    )
    parser.add_argument("--noise", type=float, default=0.03, help="noise sd as a share of the spread")
    parser.add_argument(
        "--seed-shift",
        type=float,
        default=0.0,
        help="sd of each noise seed's shift of uniform's runs, in noise sd's (default 0: repeats)",
    )
    parser.add_argument("--checkpoints", default=",".join(map(str, CHECKPOINTS)), help="trial counts")
    parser.add_argument(
        "--workers",
        default="1",
        help="comma-separated: trials out at once per study (search.run's workers), each a column",
    )
    parser.add_argument("--jobs", type=int, default=2, help="processes running the studies")
    parser.add_argument(
        "--rule",
        choices=RULES,
        default="confidence",
        help="search.findings.recommend's rule, for every sampler (the product's: confidence)",
    )
    parser.add_argument("--quick", action="store_true", help="2 seeds, 10 and 12 trials, two objectives")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.checkpoints, args.objectives = 2, "10,12", "near-uniform,wide-first"
        args.samplers = f"{DEFAULT},random"
    unknown = set(args.samplers.split(",")) - set(SAMPLERS)
    if unknown:
        parser.error(f"unknown samplers {sorted(unknown)}; choose from {', '.join(SAMPLERS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run every study; print the Markdown tables, then one JSON object with every figure."""
    args = parse_args(argv)
    started = time.perf_counter()
    checkpoints = tuple(sorted(int(c) for c in args.checkpoints.split(",")))
    chosen = set(args.objectives.split(","))
    problems = [p for p in make_problems(args.noise, Budget()) if chosen & {p.objective.name, p.name}]
    runs = [
        BudgetRun(problem, sampler, seed, checkpoints, int(workers), args.rule, args.seed_shift)
        for problem in problems
        for sampler in args.samplers.split(",")
        for workers in args.workers.split(",")
        for seed in range(args.seeds)
    ]
    samplers = list(dict.fromkeys(run.label for run in runs))
    quiet_worker()
    seconds: dict[str, float] = dict.fromkeys(samplers, 0.0)
    cells: dict[tuple[str, str, int], Cell] = {}
    with Pool(args.jobs, initializer=quiet_worker) as pool:
        for done, (run, (result, spent)) in enumerate(zip(runs, pool.imap(_timed, runs), strict=True), 1):
            seconds[run.label] += spent
            for trials in checkpoints:
                key = (run.problem.name, run.label, trials)
                cells.setdefault(key, Cell(run.problem, run.label, trials, []))
                cells[key].regrets.append(result.regrets[trials])
                cells[key].repeats.append(result.repeats)
            if done % 100 == 0 or done == len(runs):
                print(f"{done}/{len(runs)} runs, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print(markdown(problems, samplers, cells, checkpoints))
    print()
    report = {
        "settings": {k: v for k, v in vars(args).items() if k != "quick"},
        "cells": [
            {"problem": c.problem.name, "sampler": c.sampler, "trials": c.trials, "median": c.median}
            | {"beats": c.beats(baseline_regret(c.problem)), "regrets": c.regrets, "repeats": c.repeats}
            for c in cells.values()
        ],
        "goals": goals(cells, problems, max(checkpoints)) if {DEFAULT, "random"} <= set(samplers) else [],
        "sampler_seconds": {k: round(v, 1) for k, v in seconds.items()},
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
