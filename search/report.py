"""A study as one self-contained HTML page: ``python -m search.report --study hourglass``

The page needs nothing but itself (inline CSS, pictures as base64 PNG): it can be mailed,
archived or opened offline. It shows the best schedules as MLP width per layer, the loss of
every trial against the baselines' seed-noise band, which layers matter (parameter importance),
the baselines by seed, and the confirmations made by ``python -m search.confirm``.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on workers and CI
import matplotlib.pyplot as plt
import optuna
from matplotlib.figure import Figure
from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances
from optuna.trial import FrozenTrial
from pydantic import ValidationError

from search.confirm import (
    Confirmation,
    fidelity_lines,
    result_headers,
    result_rows,
    stored_confirmations,
)
from search.storage import add_study_options, check_study_name, load_existing_study
from search.study import StudySettings, study_settings
from search.summary import (
    ModelPick,
    ScheduleScore,
    StudySummary,
    completed,
    model_ranking,
    summarize,
)
from space.errors import describe
from space.spaces import layer_param_name

REPORTS_DIR = Path("reports")
BEST_SHOWN = 6
# PED-ANOVA (Optuna's default importance) contrasts the best 10% of trials with the rest and
# needs at least two trials in that 10%; below this it ranks noise.
MIN_IMPORTANCE_TRIALS = 20

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; }
th { background: #f4f4f4; } code { font-size: .95em; } td { font-variant-numeric: tabular-nums; }
img { max-width: 100%; display: block; margin: 1em 0; }
.note { color: #555; } .warning { color: #a00; font-weight: bold; }
.better { background: #e6f4e6; } .worse { background: #fbe9e9; }
"""
_NAV = (
    "<nav>"
    + " · ".join(
        f'<a href="#{anchor}">{label}</a>'
        for anchor, label in [
            ("best", "best schedules"),
            ("trials", "loss by trial"),
            ("importance", "per-layer importance"),
            ("baselines", "baselines and seed noise"),
            ("confirmations", "confirmations"),
        ]
    )
    + "</nav>"
)
_COLORS = ["#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]


def render_report(study: optuna.Study) -> str:
    """The whole page for ``study``; raises ValueError for a study not made by Hourglass."""
    settings = study_settings(study)
    trials = study.get_trials(deepcopy=False)
    ranked = ranked_trials(trials, settings.base.seed)
    summary = summarize(trials, settings.base.seed)
    ranking = model_ranking(completed(trials))
    pick = ranking.pick(settings.base.seed) if ranking else None
    expected = {t.number: mean for t, mean in ranking.ranked} if ranking else {}
    sections = [
        _overview(study.study_name, settings, summary),
        _best_section(ranked, settings, summary, pick, expected),
        _trials_section(trials, summary),
        _importance_section(ranked, settings.base.model.n_layers),
        _baselines_section(summary),
        _confirmations_section(stored_confirmations(study)),
    ]
    title = f"Hourglass study {study.study_name}"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_CSS}</style></head>\n<body>\n<h1>{_e(title)}</h1>\n{_NAV}\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def ranked_trials(trials: Sequence[FrozenTrial], study_seed: int) -> list[FrozenTrial]:
    """Completed trials at the study's seed, one per schedule (repeats left out), best first."""
    kept = [t for t in completed(trials) if int(t.user_attrs.get("seed", study_seed)) == study_seed]
    return sorted(kept, key=lambda t: (_loss(t), t.number))


def layer_importances(ranked: Sequence[FrozenTrial], n_layers: int) -> dict[str, float]:
    """Importance of each per-layer parameter (``mlp_mult_lNN``), in layer order.

    Raises ValueError saying why when the trials cannot support it: too few, or a space whose
    parameters are not per layer.
    """
    names = [layer_param_name(i) for i in range(n_layers)]
    usable = [t for t in ranked if all(n in t.params for n in names)]
    if ranked and not usable:
        raise ValueError("this study's space has no per-layer parameters (mlp_mult_lNN)")
    if len(usable) < MIN_IMPORTANCE_TRIALS:
        raise ValueError(
            f"importance needs at least {MIN_IMPORTANCE_TRIALS} completed trials at the study's seed; "
            f"this study has {len(usable)}"
        )
    # A copy holding only these trials: repeats and other seeds would count a schedule twice.
    copy = optuna.create_study(direction="minimize")
    copy.add_trials(usable)
    found = get_param_importances(copy, evaluator=PedAnovaImportanceEvaluator(), params=names)
    return {name: found[name] for name in names}


def _overview(name: str, settings: StudySettings, summary: StudySummary) -> str:
    base = settings.base
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(summary.states.items())) or "none yet"
    facts = [
        ("study", name),
        ("preset", f"{settings.preset} ({base.model.params:,} parameters)"),
        ("space", settings.space.space),
        ("training tokens per trial", f"{base.train.tokens:,}"),
        ("study seed", str(base.seed)),
        ("objective", settings.objective),
        ("trials counted", str(summary.counted)),
        ("outcomes", outcomes),
    ]
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
    return f'<section id="overview"><table>{rows}</table></section>'


def _best_section(
    ranked: Sequence[FrozenTrial],
    settings: StudySettings,
    summary: StudySummary,
    pick: ModelPick | None,
    expected: dict[int, float],
) -> str:
    if not ranked:
        return _section("best", "Best schedules", "<p>No completed trials yet.</p>")
    best = _distinct(ranked)[:BEST_SHOWN]
    reference = summary.reference_loss(settings.base.seed)
    rows = []
    for rank, t in enumerate(best, start=1):
        gain = f"{_loss(t) - reference:+.4f}" if reference is not None else ""
        label = t.user_attrs.get("baseline", "")
        model = f"{expected[t.number]:.4f}" if t.number in expected else ""
        rows.append([str(rank), str(t.number), label, _key(t), f"{_loss(t):.4f}", model, gain])
    budget = settings.base.model.budget
    figure = _schedules_figure(best, budget.total / budget.n_layers)
    headers = [
        "rank",
        "trial",
        "baseline",
        "schedule",
        "val loss",
        "expected (model)",
        "vs reference (same seed)",
    ]
    picked = ""
    if pick is not None:
        picked = (
            f"<p class='note'>The model's pick: trial {pick.trial.number} "
            f"(<code>{_e(_key(pick.trial))}</code>), expected loss {pick.expected:.4f}: a Gaussian "
            f"process over the {pick.seen} completed trials weighs each loss with its neighbours'; "
            "<code>search.confirm</code> retrains its top schedules.</p>"
        )
    body = _table(headers, rows) + picked + _image(figure, "best schedules: MLP width per layer")
    return _section("best", "Best schedules", body)


def _distinct(ranked: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    seen: set[str] = set()
    kept = []
    for t in ranked:
        if _key(t) not in seen:
            seen.add(_key(t))
            kept.append(t)
    return kept


def _schedules_figure(trials: Sequence[FrozenTrial], mean: float) -> Figure:
    columns = min(3, len(trials))
    rows = -(-len(trials) // columns)
    # One y scale for all, so widths compare across schedules at a glance.
    fig, axes = plt.subplots(
        rows, columns, figsize=(4 * columns, 2.6 * rows), dpi=90, squeeze=False, sharey=True
    )
    for ax in axes.flat[len(trials) :]:
        ax.set_visible(False)
    for ax, t in zip(axes.flat, trials, strict=False):
        mults = t.user_attrs["mlp_mults"]
        ax.bar(range(len(mults)), mults, color="#4c72b0")
        ax.axhline(mean, color="#999999", linestyle="--", linewidth=1)
        baseline = f" ({t.user_attrs['baseline']})" if "baseline" in t.user_attrs else ""
        ax.set_title(f"trial {t.number}{baseline}: {_loss(t):.4f}", fontsize=9)
        ax.set_xticks(range(len(mults)))
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("MLP width / d_model")
    fig.supxlabel("layer (dashed: uniform)", fontsize=9)
    fig.tight_layout()
    return fig


def _trials_section(trials: Sequence[FrozenTrial], summary: StudySummary) -> str:
    complete = completed(trials)
    if not complete:
        return _section("trials", "Loss by trial", "<p>No completed trials yet.</p>")
    left_out = len(trials) - len(complete)
    note = (
        f"<p class='note'>{left_out} trials without a final loss (pruned, failed, repeats) are not shown.</p>"
    )
    return _section(
        "trials", "Loss by trial", _image(_trials_figure(complete, summary), "loss by trial") + note
    )


def _trials_figure(complete: Sequence[FrozenTrial], summary: StudySummary) -> Figure:
    fig, ax = plt.subplots(figsize=(9, 4), dpi=90)
    sampled = [t for t in complete if "baseline" not in t.user_attrs]
    ax.scatter(
        [t.number for t in sampled], [_loss(t) for t in sampled], s=14, color="#4c72b0", label="sampled"
    )
    for color, score in zip(_COLORS, summary.baselines, strict=False):
        marked = [t for t in complete if t.number in score.trials]
        ax.scatter(
            [t.number for t in marked],
            [_loss(t) for t in marked],
            s=40,
            marker="D",
            color=color,
            label=score.baseline,
        )
    band = _noise_band(summary)
    if band is not None:
        low, high = band
        ax.axhspan(low, high, color="#dd8452", alpha=0.15, label=f"{summary.baselines[0].baseline} mean ± sd")
    ax.set_xlabel("trial")
    ax.set_ylabel("final validation loss")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def _noise_band(summary: StudySummary) -> tuple[float, float] | None:
    """The reference baseline's mean ± sd over its seeds, when it has more than one."""
    if summary.noise_sd is None:
        return None
    mean = summary.baselines[0].mean
    return mean - summary.noise_sd, mean + summary.noise_sd


def _importance_section(ranked: Sequence[FrozenTrial], n_layers: int) -> str:
    try:
        importances = layer_importances(ranked, n_layers)
    except ValueError as e:
        return _section("importance", "Per-layer importance", f"<p class='note'>Not shown: {_e(str(e))}.</p>")
    fig, ax = plt.subplots(figsize=(7, 3), dpi=90)
    ax.bar([n[-2:] for n in importances], list(importances.values()), color="#4c72b0")
    ax.set_xlabel("layer")
    ax.set_ylabel("importance (PED-ANOVA)")
    fig.tight_layout()
    rows = [[n, f"{v:.3f}"] for n, v in importances.items()]
    body = (
        "<p class='note'>How much each layer's multiplier separates the best 10% of trials from the "
        "rest (Optuna's PED-ANOVA); rough below about 50 trials.</p>"
        + _image(fig, "per-layer importance")
        + _table(["parameter", "importance"], rows)
    )
    return _section("importance", "Per-layer importance", body)


def _baselines_section(summary: StudySummary) -> str:
    if not summary.baselines:
        return _section("baselines", "Baselines and seed noise", "<p>No baseline has finished yet.</p>")
    rows = [_baseline_row(score) for score in summary.baselines]
    table = _table(["baseline", "schedule", "seeds", "val loss by seed", "mean", "sd"], rows)
    band = _noise_band(summary)
    reference = summary.baselines[0]
    name = _e(reference.baseline or "the reference")
    if band is None:
        text = (
            f"<p class='note'>{name} has one seed: no noise band "
            "(study settings: noise_seeds of 2 or more).</p>"
        )
    else:
        text = (
            f"<p id='noise-band'>Seed-noise band of {name}: mean {reference.mean:.4f} ± sd "
            f"{summary.noise_sd:.4f} over {len(reference.losses)} seeds = [{band[0]:.4f}, {band[1]:.4f}]. "
            "Differences between single trials smaller than about twice the sd are not evidence; "
            "<code>python -m search.confirm</code> measures them with paired seeds.</p>"
        )
    return _section("baselines", "Baselines and seed noise", table + text)


def _baseline_row(score: ScheduleScore) -> list[str]:
    losses = ", ".join(f"{seed}: {v:.4f}" for seed, v in sorted(score.losses.items()))
    sd = f"{statistics.stdev(score.losses.values()):.4f}" if len(score.losses) > 1 else ""
    return [score.baseline or "", score.key, str(len(score.losses)), losses, f"{score.mean:.4f}", sd]


def _confirmations_section(records: Sequence[Confirmation]) -> str:
    if not records:
        body = (
            "<p class='note'>None yet: <code>python -m search.confirm --study NAME</code> retrains "
            "the best schedules and the baselines at several seeds.</p>"
        )
        return _section("confirmations", "Confirmations", body)
    parts = [_confirmation(record) for record in reversed(records)]
    return _section("confirmations", "Confirmations", "\n".join(parts))


def _confirmation(record: Confirmation) -> str:
    seeds = ", ".join(map(str, record.seeds))
    rows = result_rows(record)
    table = _table(result_headers(record), rows, [row[-1].replace(" ", "-") for row in rows])
    fidelity = "".join(
        f"<p class='{'warning' if line.startswith('warning') else 'note'}'>{_e(line)}</p>"
        for line in fidelity_lines(record)
    )
    return (
        f"<h3>{_e(record.created)}: {record.tokens:,} tokens, seeds {_e(seeds)}</h3>"
        + table
        + f"<p class='verdict'><b>Verdict:</b> {_e(record.verdict)}</p>"
        + (f"<p class='note'>Trials ranked by {_e(record.ranking)}.</p>" if record.ranking else "")
        + fidelity
        + _image(_confirmation_figure(record), f"confirmation of {record.created}: difference from reference")
    )


def _confirmation_figure(record: Confirmation) -> Figure:
    shown = [r for r in record.schedules if r.difference is not None]
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
    ax.set_xlabel(f"val loss − {record.reference} ({record.confidence:.0%} interval; left of 0 is better)")
    fig.tight_layout()
    return fig


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>\n{body}\n</section>'


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] | None = None
) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        f"<tr class='{_e(classes[i]) if classes else ''}'>"
        + "".join(f"<td>{_e(c)}</td>" for c in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(fig: Figure, alt: str) -> str:
    """The figure as an inline PNG (no file beside the page, nothing fetched)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _loss(trial: FrozenTrial) -> float:
    """The final loss of a trial already filtered to completed ones."""
    assert trial.value is not None
    return trial.value


def _key(trial: FrozenTrial) -> str:
    return trial.user_attrs["schedule_key"].split("@")[0]


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def main(argv: list[str] | None = None) -> int:
    """Parse, load the study, render it, write the page."""
    args = _parser().parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        out = Path(args.out) if args.out else REPORTS_DIR / f"{check_study_name(args.study)}.html"
        page = render_report(load_existing_study(args.storage, args.study))
    except (ValueError, ValidationError) as e:
        print(f"error: {describe(e) if isinstance(e, ValidationError) else e}", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(f"wrote {out} ({len(page) / 1024:.0f} KiB)")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m search.report", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add_study_options(parser)
    add("--out", help="HTML file to write (default reports/<study>.html)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
