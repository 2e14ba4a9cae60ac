"""Pictures stored with trials and runs: a schedule's width per layer, a loss curve."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def pyplot() -> ModuleType:
    """matplotlib's pyplot, drawing to files only (workers and CI have no display). Imported when a
    picture is drawn, so that a command's --help and its input errors do not wait for it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def own_figure(width: float, height: float) -> Figure:
    """A figure outside pyplot's registry of open figures, which is not safe to share between
    threads (a study draws each trial's schedule while the trial trains)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def plot_schedule(mults: Sequence[float], path: Path, title: str = "", baseline: float | None = None) -> Path:
    """A bar per layer: its MLP multiplier (width / d_model), with the uniform level dashed."""
    fig = own_figure(6, 3)
    ax = fig.subplots()
    ax.bar(range(len(mults)), mults, color="#4c72b0")
    if baseline is not None:
        ax.axhline(baseline, color="#999999", linestyle="--", linewidth=1, label="uniform")
        ax.legend(loc="upper right", frameon=False)
    ax.set_xlabel("layer")
    ax.set_ylabel("MLP width / d_model")
    ax.set_xticks(range(len(mults)))
    ax.set_title(title or ",".join(f"{m:g}" for m in mults), fontsize=9)
    # Fixed margins: fitting them to the labels (tight_layout) draws the figure twice.
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.16, top=0.9)
    fig.savefig(path)
    return path


def plot_loss_curve(
    curve: Sequence[float], tokens_per_step: int, checkpoints: Sequence[dict[str, float]], path: Path
) -> Path:
    """The unsmoothed per-step training loss, with validation losses at the checkpoints."""
    fig = own_figure(6, 3.5)
    ax = fig.subplots()
    tokens = [(i + 1) * tokens_per_step for i in range(len(curve))]
    ax.plot(tokens, curve, linewidth=0.8, color="#4c72b0", label="train (per step)")
    if checkpoints:
        # A run without a pruner validates once, at the end: one point, not a validation curve.
        ax.plot(
            [c["tokens"] for c in checkpoints],
            [c["val_loss"] for c in checkpoints],
            "o-",
            color="#dd8452",
            label="validation" if len(checkpoints) > 1 else "validation (at the end only)",
        )
    ax.set_xlabel("tokens")
    ax.set_ylabel("loss (nats/token)")
    ax.legend(frameon=False)
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.14, top=0.96)
    fig.savefig(path)
    return path
