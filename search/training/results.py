"""Where one training run's results go: a JSON report, and its loss curve as CSV and PNG."""

from __future__ import annotations

import json
from pathlib import Path

from search.training.outcome import TrainResult
from search.training.pictures import plot_loss_curve
from search.training.run_config import RunConfig


def default_results_path(run: RunConfig) -> Path:
    """runs/<preset>-<schedule>-seed<seed>-<tokens>.json, e.g. ``runs/small-4-4-...-4-seed0-20M.json``."""
    schedule = run.model.schedule.key.replace(",", "-")
    return Path(f"runs/{run.preset or 'run'}-{schedule}-seed{run.seed}-{_short_count(run.train.tokens)}.json")


def claim_results_path(wanted: Path) -> Path:
    """``wanted``, or when a result is there already the first free ``<name>-2.json``, ``-3``, ...
    beside it; the path is created empty, so that a run finishing at the same moment takes another."""
    wanted.parent.mkdir(parents=True, exist_ok=True)
    path, number = wanted, 1
    while True:
        try:
            path.touch(exist_ok=False)
            return path
        except FileExistsError:
            number += 1
            path = wanted.with_name(f"{wanted.stem}-{number}{wanted.suffix}")


def _short_count(count: int) -> str:
    """20_000_000 -> '20M', 65_536 -> '65536': exact, as --tokens reads it back."""
    for suffix, scale in (("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if count % scale == 0:
            return f"{count // scale}{suffix}"
    return str(count)


def write_results(run: RunConfig, result: TrainResult, out: Path) -> None:
    """Write ``out`` (the config, every figure and the per-step curve) and the curve beside it,
    as ``.curve.csv`` and ``.curve.png``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "config": run.model_dump(mode="json"),
        "result": result.summary(),
        "loss_curve": result.loss_curve,
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".curve.csv").write_text(
        "step,loss\n" + "".join(f"{i + 1},{v}\n" for i, v in enumerate(result.loss_curve))
    )
    plot_loss_curve(result.loss_curve, run.tokens_per_step, result.checkpoints, out.with_suffix(".curve.png"))
