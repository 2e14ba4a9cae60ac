"""The report's pictures: best schedules as widths per layer, loss by trial, layer importance, a
confirmation's differences with their intervals, and loss against tokens across budgets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from optuna.trial import FrozenTrial

from search.findings.confirmation import Confirmation
from search.findings.fidelity import BudgetFidelity
from search.findings.formatting import percent
from search.findings.summary import StudySummary
from search.study import record
from search.training.pictures import pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_COLORS = ["#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]


def schedules_figure(trials: Sequence[FrozenTrial], mean: float) -> Figure:
    """One bar chart per trial: MLP width per layer, the uniform level dashed, one y scale for all."""
    columns = min(3, len(trials))
    rows = -(-len(trials) // columns)
    plt = pyplot()
    fig, axes = plt.subplots(
        rows, columns, figsize=(4 * columns, 2.6 * rows), dpi=90, squeeze=False, sharey=True
    )
    for ax in axes.flat[len(trials) :]:
        ax.set_visible(False)
    for ax, t in zip(axes.flat, trials, strict=False):
        mults = record.mults(t)
        ax.bar(range(len(mults)), mults, color="#4c72b0")
        ax.axhline(mean, color="#999999", linestyle="--", linewidth=1)
        name = record.baseline(t)
        baseline = f" ({name})" if name else ""
        ax.set_title(f"trial {t.number}{baseline}: {record.value(t):.4f}", fontsize=9)
        ax.set_xticks(range(len(mults)))
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("MLP width / d_model")
    fig.supxlabel("layer (dashed: uniform)", fontsize=9)
    fig.tight_layout()
    return fig


def trials_figure(complete: Sequence[FrozenTrial], summary: StudySummary) -> Figure:
    """Final loss of every completed trial, baselines marked, the reference's seed-noise band shaded."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4), dpi=90)
    sampled = [t for t in complete if record.baseline(t) is None]
    values = [record.value(t) for t in sampled]
    ax.scatter([t.number for t in sampled], values, s=14, color="#4c72b0", label="sampled")
    for color, score in zip(_COLORS, summary.baselines, strict=False):
        marked = [t for t in complete if t.number in score.trials]
        ax.scatter(
            [t.number for t in marked],
            [record.value(t) for t in marked],
            s=40,
            marker="D",
            color=color,
            label=score.baseline,
        )
    reference, sd = summary.reference, summary.noise_sd
    if reference is not None and sd is not None:
        label = f"{reference.baseline} mean ± sd"
        ax.axhspan(reference.mean - sd, reference.mean + sd, color="#dd8452", alpha=0.15, label=label)
    ax.set_xlabel("trial")
    ax.set_ylabel("final validation loss")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def importance_figure(importances: Mapping[str, float]) -> Figure:
    """A bar per layer: its multiplier's importance."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3), dpi=90)
    ax.bar([n[-2:] for n in importances], list(importances.values()), color="#4c72b0")
    ax.set_xlabel("layer")
    ax.set_ylabel("importance (PED-ANOVA)")
    fig.tight_layout()
    return fig


def confirmation_figure(confirmation: Confirmation) -> Figure:
    """Each schedule's mean difference from the reference with its interval; winners in red."""
    shown = [r for r in confirmation.schedules if r.difference is not None]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * max(1, len(shown))), dpi=90)
    for y, r in enumerate(shown):
        d = r.difference
        assert d is not None
        if d.low is not None and d.high is not None:
            ax.plot([d.low, d.high], [y, y], color="#4c72b0", linewidth=2)
        ax.plot([d.mean], [y], "o", color="#c44e52" if d.below_zero else "#4c72b0")
    ax.axvline(0, color="#999999", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(shown)), [r.name for r in shown])
    ax.invert_yaxis()
    reference = confirmation.reference
    ax.set_xlabel(
        f"val loss − {reference} ({percent(confirmation.confidence)} interval; left of 0 is better)"
    )
    fig.tight_layout()
    return fig


def fidelity_figure(f: BudgetFidelity) -> Figure:
    """Per schedule against training tokens: its mean loss with every seed's loss beside it (left),
    and its paired difference from the reference with its interval and number of seeds (right)."""
    plt = pyplot()
    fig, (losses, differences) = plt.subplots(1, 2, figsize=(11, 4), dpi=90)
    names = list(dict.fromkeys(r.name for b in reversed(f.budgets) for r in b.confirmation.schedules))
    colors = ["#4c72b0", *_COLORS]
    for i, name in enumerate(names):
        color = colors[i % len(colors)]
        # Each schedule a little to the side of the others, so that their intervals do not hide each other.
        shift = 1 + 0.025 * (i - (len(names) - 1) / 2)
        at = [(b.tokens * shift, r) for b in f.budgets for r in b.confirmation.schedules if r.name == name]
        means = [(x, r.mean) for x, r in at if r.mean is not None]
        losses.plot(*zip(*means, strict=True), "o-", color=color, label=name)
        seeds = [(x, loss) for x, r in at for loss in r.losses.values()]
        losses.plot(*zip(*seeds, strict=True), ".", color=color, alpha=0.35, markersize=4)
        for x, r in at:
            d = r.difference
            if d is None:
                continue
            if d.low is not None and d.high is not None:
                differences.plot([x, x], [d.low, d.high], color=color, linewidth=2)
            differences.plot([x], [d.mean], "o", color=color)
            differences.annotate(
                f"n={d.n}", (x, d.mean), textcoords="offset points", xytext=(4, 2), fontsize=7
            )
    differences.axhline(0, color="#999999", linestyle="--", linewidth=1)
    confidence = f.longest.confirmation.confidence
    for ax in (losses, differences):
        ax.set_xscale("log")
        ax.set_xlabel("training tokens")
    losses.set_ylabel("val loss (line: mean; dots: each seed)")
    differences.set_ylabel(f"val loss − {f.reference} ({percent(confidence)} interval)")
    losses.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
