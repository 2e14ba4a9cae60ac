"""Where one training run's results go: a JSON report, and its loss curve as CSV and PNG."""

from __future__ import annotations

import json
from pathlib import Path

from search.training.pictures import plot_loss_curve
from search.training.run_config import RunConfig
from search.training.trainer import TrainResult


def default_results_path(run: RunConfig) -> Path:
    """runs/<preset>-<schedule>-seed<seed>.json"""
    return Path(f"runs/{run.preset or 'run'}-{run.model.schedule.key.replace(',', '-')}-seed{run.seed}.json")


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
