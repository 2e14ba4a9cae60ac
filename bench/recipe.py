"""Which recipe makes a trial stable? ``python -m bench.recipe --preset small --data ... --val-data ...``

Sweeps peak learning rate x warm-up share on the uniform schedule and the two extremes of the
panel (all width in the first layer, or in the last) at the preset's token budget and seed 0, the
rest of the preset's recipe unchanged, spread over ``--gpus``. Prints every run's final loss and
its largest spike after warm-up, then per recipe how far it is from the best recipe of each
schedule (the most a default may lose on any schedule), and last one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from bench.gpu_jobs import Job, run_jobs
from bench.panel import (
    add_panel_options,
    add_schedules_option,
    chosen_gpus,
    chosen_schedules,
    panel_base,
    panel_schedule,
    print_report,
)
from search.training.run_config import RunConfig

SCHEDULES = ("uniform", "wide-first", "wide-last")


def recipe_jobs(
    base: RunConfig,
    schedules: Mapping[str, Sequence[int | float]],
    lrs: Sequence[float],
    warmups: Sequence[float],
) -> list[Job]:
    """One run per schedule, peak learning rate and warm-up share, labelled ``schedule/lr/warmup``."""
    return [
        Job(
            f"{name}/{lr:g}/{warmup:g}",
            base.variant(schedule=panel_schedule(base, schedules[name]), lr=lr, warmup_frac=warmup),
        )
        for name, lr, warmup in itertools.product(schedules, lrs, warmups)
    ]


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every run, each schedule's best recipe, and each recipe's worst relative gap to those bests."""
    runs = []
    for r in results:
        name, lr, warmup = r["label"].split("/")
        runs.append(
            {
                "schedule": name,
                "lr": float(lr),
                "warmup_frac": float(warmup),
                "val_loss": r.get("val_loss"),
                "spike": r.get("spike"),
                "failed": r.get("failed"),
            }
        )
    finished = [r for r in runs if r["val_loss"] is not None]
    best = {}
    for r in finished:
        if r["schedule"] not in best or r["val_loss"] < best[r["schedule"]]["val_loss"]:
            best[r["schedule"]] = r
    recipes = []
    for lr, warmup in sorted({(r["lr"], r["warmup_frac"]) for r in runs}):
        mine = [r for r in runs if (r["lr"], r["warmup_frac"]) == (lr, warmup)]
        gaps = [
            (r["val_loss"] - best[r["schedule"]]["val_loss"]) / best[r["schedule"]]["val_loss"]
            for r in mine
            if r["val_loss"] is not None
        ]
        recipes.append(
            {
                "lr": lr,
                "warmup_frac": warmup,
                "worst_gap": max(gaps) if len(gaps) == len(mine) else None,
                "max_spike": max((r["spike"] for r in mine if r["spike"] is not None), default=None),
            }
        )
    return {"runs": runs, "best": best, "recipes": recipes}


def table(summary: dict[str, Any]) -> str:
    """The runs, then the recipes by their worst gap."""
    lines = [f"{'schedule':<12} {'lr':>8} {'warm-up':>8} {'val loss':>9} {'spike':>7}"]
    for r in summary["runs"]:
        loss = f"{r['val_loss']:.4f}" if r["val_loss"] is not None else r["failed"]
        spike = f"{r['spike']:.3f}" if r["spike"] is not None else ""
        lines.append(f"{r['schedule']:<12} {r['lr']:>8g} {r['warmup_frac']:>8g} {loss:>9} {spike:>7}")
    lines += ["", f"{'lr':>8} {'warm-up':>8} {'worst gap to a schedule best':>30} {'max spike':>10}"]
    ranked = sorted(summary["recipes"], key=lambda r: (r["worst_gap"] is None, r["worst_gap"] or 0))
    for r in ranked:
        gap = f"{100 * r['worst_gap']:.2f}%" if r["worst_gap"] is not None else "failed"
        spike = f"{r['max_spike']:.3f}" if r["max_spike"] is not None else ""
        lines.append(f"{r['lr']:>8g} {r['warmup_frac']:>8g} {gap:>30} {spike:>10}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Train the sweep and print the tables and the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.recipe", description=__doc__.split("\n")[0])
    add_panel_options(parser)
    add = parser.add_argument
    add("--lr", type=float, nargs="+", default=[1e-3, 2e-3, 3e-3], help="peak learning rates")
    add("--warmup", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.3], help="warm-up shares of the steps")
    add_schedules_option(parser, SCHEDULES)
    args = parser.parse_args(argv)
    schedules = chosen_schedules(parser, args)
    base, prepared = panel_base(args, args.tokens)
    results = run_jobs(recipe_jobs(base, schedules, args.lr, args.warmup), prepared, chosen_gpus(args.gpus))
    summary = summarize(results)
    report = {
        "preset": args.preset,
        "tokens": base.train.tokens,
        "recipe": base.train.model_dump(),
        **summary,
    }
    print_report(table(summary), report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
