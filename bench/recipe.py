"""Which recipe makes a trial stable? ``python -m bench.recipe --preset small --data ... --val-data ...``

Sweeps peak learning rate x warm-up share on the uniform schedule and the two extremes of the
panel (all width in the first layer, or in the last) at the preset's token budget and ``--seeds``
(default 0), the rest of the preset's recipe unchanged, spread over ``--gpus``. Prints every run's
final loss and its largest spike after warm-up, then per recipe how far it is from the best recipe
of each schedule (the most a default may lose on any schedule), and last one JSON object.

Two recipes of a schedule are compared on the seeds both ran (seed s: the same init and data
order; repeats at one seed count as their mean), so a sweep run in parts at different seeds,
reported as one with ``--merge a.json b.json``, compares like with like: a recipe picked as best on
one seed's luck is held to the same seed. ``bench.noise`` reports of the same preset and budget can
be merged too: their default-kernel runs are the runs of the recipe they trained.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from statistics import fmean
from typing import Any

from bench.gpu_jobs import Job, run_jobs
from bench.noise import label_parts
from bench.panel import (
    add_merge_option,
    add_panel_options,
    add_schedules_option,
    checked_recipe,
    chosen_gpus,
    chosen_schedules,
    merged_reports,
    panel_base,
    panel_schedule,
    print_report,
    read_parts,
    rounded_curve,
    run_header,
)
from search.findings.stats import paired_differences
from search.training.run_config import RunConfig

SCHEDULES = ("uniform", "wide-first", "wide-last")
SWEPT = ("lr", "warmup_frac")

Cell = tuple[str, float, float]  # schedule, peak lr, warm-up share


def recipe_jobs(
    base: RunConfig,
    schedules: Mapping[str, Sequence[int | float]],
    lrs: Sequence[float],
    warmups: Sequence[float],
    seeds: Sequence[int] = (0,),
) -> list[Job]:
    """One run per schedule, peak learning rate, warm-up share and seed, labelled
    ``schedule/lr/warmup/seed``."""
    return [
        Job(
            f"{name}/{lr:g}/{warmup:g}/{seed}",
            base.variant(
                schedule=panel_schedule(base, schedules[name]), lr=lr, warmup_frac=warmup, seed=seed
            ),
        )
        for name, lr, warmup, seed in itertools.product(schedules, lrs, warmups, seeds)
    ]


def run_records(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each run as the report keeps it: its cell, seed, final loss, spike and training-loss curve,
    or why it failed."""
    runs = []
    for r in results:
        name, lr, warmup, seed = r["label"].split("/")
        runs.append(
            {
                "schedule": name,
                "lr": float(lr),
                "warmup_frac": float(warmup),
                "seed": int(seed),
                "val_loss": r.get("val_loss"),
                "spike": r.get("spike"),
                "failed": r.get("failed"),
                **({"loss_curve": rounded_curve(r["loss_curve"])} if "loss_curve" in r else {}),
            }
        )
    return runs


def paired_gap(mine: Mapping[int, float], other: Mapping[int, float]) -> float | None:
    """How much higher ``mine``'s mean loss is than ``other``'s, relative to it, over the seeds both
    ran; None when they share none."""
    pairs = paired_differences(mine, other)
    if not pairs:
        return None
    return fmean(pairs.values()) / fmean(other[s] for s in pairs)


def summarize(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every run, each schedule's best recipe, and each recipe's worst gap to those bests.

    Runs of one cell at one seed count as their mean. A recipe's gap on a schedule is the most it
    loses against any other recipe of that schedule, each pair compared on the seeds both ran; the
    schedule's best recipe is the one whose gap is smallest."""
    repeats: dict[Cell, dict[int, list[float]]] = {}
    for r in runs:
        cell = (r["schedule"], r["lr"], r["warmup_frac"])
        repeats.setdefault(cell, {})
        if r["val_loss"] is not None:
            repeats[cell].setdefault(r["seed"], []).append(r["val_loss"])
    losses = {cell: {seed: fmean(v) for seed, v in by_seed.items()} for cell, by_seed in repeats.items()}
    gaps: dict[Cell, float | None] = {}
    for cell, mine in losses.items():
        rivals = [
            paired_gap(mine, theirs)
            for other, theirs in losses.items()
            if other[0] == cell[0] and other != cell
        ]
        gaps[cell] = max([0.0, *(g for g in rivals if g is not None)]) if mine else None
    best: dict[str, dict[str, Any]] = {}
    by_gap = sorted(gaps, key=lambda c: (gaps[c] is None, gaps[c] or 0, fmean(losses[c].values() or [0])))
    for name, lr, warmup in by_gap:
        if gaps[(name, lr, warmup)] is not None and name not in best:
            seeds = losses[(name, lr, warmup)]
            best[name] = {
                "lr": lr,
                "warmup_frac": warmup,
                "val_loss": fmean(seeds.values()),
                "seeds": sorted(seeds),
            }
    recipes = []
    for lr, warmup in sorted({cell[1:] for cell in losses}):
        mine = [cell for cell in losses if cell[1:] == (lr, warmup)]
        cell_gaps = [gaps[cell] for cell in mine]
        spikes = [
            r["spike"] for r in runs if (r["lr"], r["warmup_frac"]) == (lr, warmup) and r["spike"] is not None
        ]
        recipes.append(
            {
                "lr": lr,
                "warmup_frac": warmup,
                "gaps": {cell[0]: gaps[cell] for cell in mine},
                "worst_gap": None if None in cell_gaps else max(g for g in cell_gaps if g is not None),
                "max_spike": max(spikes, default=None),
            }
        )
    return {"runs": list(runs), "best": best, "recipes": recipes}


def table(summary: dict[str, Any]) -> str:
    """The runs, then the recipes by their worst gap."""
    lines = [f"{'schedule':<12} {'lr':>8} {'warm-up':>8} {'seed':>5} {'val loss':>9} {'spike':>7}"]
    for r in summary["runs"]:
        loss = f"{r['val_loss']:.4f}" if r["val_loss"] is not None else r["failed"]
        spike = f"{r['spike']:.3f}" if r["spike"] is not None else ""
        cell = f"{r['schedule']:<12} {r['lr']:>8g} {r['warmup_frac']:>8g}"
        lines.append(f"{cell} {r['seed']:>5} {loss:>9} {spike:>7}")
    lines += ["", f"{'lr':>8} {'warm-up':>8} {'worst gap to a schedule best':>30} {'max spike':>10}"]
    ranked = sorted(summary["recipes"], key=lambda r: (r["worst_gap"] is None, r["worst_gap"] or 0))
    for r in ranked:
        gap = f"{100 * r['worst_gap']:.2f}%" if r["worst_gap"] is not None else "failed"
        spike = f"{r['max_spike']:.3f}" if r["max_spike"] is not None else ""
        lines.append(f"{r['lr']:>8g} {r['warmup_frac']:>8g} {gap:>30} {spike:>10}")
    return "\n".join(lines)


def merged_runs(paths: Sequence[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header (preset, budget, recipe) and the runs of several parts' JSON reports, which must
    share their preset, budget and recipe (the swept learning rate and warm-up aside); a run
    without a seed is seed 0's. A ``bench.noise`` report stands for its default-kernel runs at
    the recipe it trained."""

    def header_of(report: dict[str, Any]) -> dict[str, Any]:
        return {
            "preset": report["preset"],
            "tokens": report["tokens"],
            "recipe": {k: v for k, v in report["recipe"].items() if k not in SWEPT},
        }

    sweeps = []
    for path in paths:
        report = json.loads(Path(path).read_text())
        sweeps.append(noise_as_sweep(report) if "pooled" in report else report)
    header, runs = merged_reports(sweeps, paths, header_of, "preset, budget or recipe")
    return header, [{**r, "seed": r.get("seed", 0)} for r in runs]


def noise_as_sweep(report: dict[str, Any]) -> dict[str, Any]:
    """A ``bench.noise`` report as a sweep of its one recipe: its default-kernel runs, labelled
    ``schedule/variant/seed/repeat``, as this benchmark's run records."""
    recipe = report["recipe"]
    runs = []
    for r in report["runs"]:
        name, variant, seed, _ = label_parts(r["label"])
        if variant == "default":
            runs.append(
                {
                    "schedule": name,
                    "lr": recipe["lr"],
                    "warmup_frac": recipe["warmup_frac"],
                    "seed": seed,
                    "val_loss": r.get("val_loss"),
                    "spike": r.get("spike"),
                    "failed": r.get("failed"),
                    **({"loss_curve": r["loss_curve"]} if "loss_curve" in r else {}),
                }
            )
    return {**report, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    """Train the sweep (or merge parts) and print the tables and the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.recipe", description=__doc__.split("\n")[0])
    add_panel_options(parser, data_required=False)
    add = parser.add_argument
    add("--lr", type=float, nargs="+", default=[1e-3, 2e-3, 3e-3], help="peak learning rates")
    add("--warmup", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.3], help="warm-up shares of the steps")
    add("--seeds", type=int, nargs="+", default=[0], help="seeds, each run at every recipe (default 0)")
    add_schedules_option(parser, SCHEDULES)
    add_merge_option(parser)
    args = parser.parse_args(argv)
    if args.merge:
        header, runs = read_parts(parser, merged_runs, args.merge)
    else:
        if not args.data:
            parser.error("--data is required to train (or give --merge)")
        schedules = chosen_schedules(parser, args)
        for lr, warmup in itertools.product(args.lr, args.warmup):
            checked_recipe(parser, args.preset, lr, warmup)
        base, prepared = panel_base(args, args.tokens)
        jobs = recipe_jobs(base, schedules, args.lr, args.warmup, args.seeds)
        runs = run_records(run_jobs(jobs, prepared, chosen_gpus(args.gpus)))
        header = run_header(args.preset, base)
    summary = summarize(runs)
    print_report(table(summary), {**header, **summary}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
