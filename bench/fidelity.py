"""Does a short-budget winner hold? ``python -m bench.fidelity --tokens 5M 10M 20M 100M --seeds 0 1 ...``

Trains each schedule (the noise panel by default; ``--schedules`` chooses others, and ``--study``
adds the model's top ``--top`` of a study) at several token budgets and paired seeds: seed s gives
every schedule the same initial weights and data order, and each budget is a whole run with its
own warm-up and decay, not a checkpoint of a longer one. Runs are spread over ``--gpus``.

Prints per budget each schedule's mean loss and its paired difference from uniform with a 95%
interval (blank where uniform was not trained: a part may leave it to another part), Kendall's
tau between that budget's ranking and the longest budget's, and the passes over the training data;
then one JSON object. A measurement too long for one sitting runs in
parts (say the longest budget at one seed on its own); ``--merge a.json b.json`` reports the runs
of several parts as one.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from bench.gpu_jobs import Job, run_jobs
from bench.panel import (
    PANEL,
    add_merge_option,
    add_panel_options,
    add_schedules_option,
    chosen_gpus,
    chosen_schedules,
    merged_parts,
    panel_base,
    panel_schedule,
    pooled_spread,
    print_report,
    read_parts,
)
from search.findings.candidates import rank_trials, select_candidates
from search.findings.stats import kendall_tau, paired_differences
from search.options.counts import parse_count
from search.study import record
from search.study.settings import study_settings
from search.study.storage import load_existing_study
from search.training.pictures import pyplot
from search.training.run_config import RunConfig

REFERENCE = "uniform"
# "Ranks like the longest budget" (the fidelity issue): tau at least this, and the same top schedule.
TAU_AGREES = 0.8


def study_top(storage: str, study_name: str, top: int) -> dict[str, tuple[int | float, ...]]:
    """The first ``top`` distinct schedules of a study by the model's expected loss (the ranking
    ``search.confirm`` uses), baselines left out, named ``study-trial-N``."""
    study = load_existing_study(storage, study_name)
    trials = record.completed(study.get_trials(deepcopy=False))
    if not trials:
        raise ValueError(f"study '{study_name}' has no completed trials")
    ranked, _ = rank_trials(trials)
    chosen = select_candidates(ranked, study_settings(study), top)
    return {f"{study_name}-trial-{c.trial}": tuple(c.schedule.mults) for c in chosen if c.trial is not None}


def fidelity_jobs(
    base: RunConfig,
    schedules: Mapping[str, Sequence[int | float]],
    budgets: Sequence[int],
    seeds: Sequence[int],
) -> list[Job]:
    """One run per schedule, budget and seed, labelled ``schedule/tokens/seed``; the longest
    budgets first, so that a part cut short by a time limit has lost the short runs. Only the final
    loss is validated: the checkpoints before it feed a pruner, and cost 4 s a run on an H200."""
    return [
        Job(
            f"{name}/{tokens}/{seed}",
            base.variant(schedule=panel_schedule(base, mults), tokens=tokens, seed=seed, checkpoints=0),
        )
        for tokens in sorted(budgets, reverse=True)
        for name, mults in schedules.items()
        for seed in seeds
    ]


def run_records(
    results: Sequence[dict[str, Any]], schedules: Mapping[str, Sequence[int | float]]
) -> list[dict[str, Any]]:
    """What the report keeps of each run: its schedule, budget, seed and outcome."""
    records = []
    for r in results:
        name, tokens, seed = r["label"].rsplit("/", 2)
        records.append(
            {
                "schedule": name,
                "mults": list(schedules[name]),
                "tokens": int(tokens),
                "seed": int(seed),
                **{
                    key: r.get(key)
                    for key in ("val_loss", "passes", "spike", "steps", "tokens_per_s", "failed")
                },
            }
        )
    return records


def summarize(runs: Sequence[dict[str, Any]], reference: str = REFERENCE) -> dict[str, Any]:
    """Per budget: each schedule's losses by seed and mean, its paired difference from
    ``reference`` with a 95% interval, the seed sd pooled over the schedules, the ranking and its
    Kendall's tau against the longest budget's. A budget whose schedules ran at one seed each has
    no spread of its own: its intervals take the paired sd of the nearest budget that has one, and
    say so."""
    ok = [r for r in runs if r.get("val_loss") is not None]
    budgets = sorted({r["tokens"] for r in ok})
    losses: dict[int, dict[str, dict[int, float]]] = {t: {} for t in budgets}
    mults: dict[str, list[int | float]] = {}
    for r in ok:
        losses[r["tokens"]].setdefault(r["schedule"], {})[r["seed"]] = r["val_loss"]
        mults[r["schedule"]] = r["mults"]
    spreads = {t: _paired_spread(losses[t], reference) for t in budgets}
    means = {
        t: {name: statistics.fmean(by_seed.values()) for name, by_seed in losses[t].items()} for t in budgets
    }
    longest = budgets[-1] if budgets else None
    longest_means = means[longest] if longest is not None else {}
    longest_top = min(longest_means, key=longest_means.__getitem__, default=None)
    summary: list[dict[str, Any]] = []
    for tokens in budgets:
        source = _nearest_spread(tokens, spreads)
        schedules = {
            name: {
                "mults": mults[name],
                "losses": by_seed,
                "mean": means[tokens][name],
                "difference": None
                if name == reference
                else _difference(by_seed, losses[tokens].get(reference, {}), spreads.get(source)),
            }
            for name, by_seed in sorted(losses[tokens].items())
        }
        ranking = sorted(schedules, key=lambda n: schedules[n]["mean"])
        shared = [n for n in ranking if n in longest_means]
        tau = (
            kendall_tau([means[tokens][n] for n in shared], [longest_means[n] for n in shared])
            if len(shared) > 1
            else None
        )
        passes = [r["passes"] for r in ok if r["tokens"] == tokens and r.get("passes") is not None]
        summary.append(
            {
                "tokens": tokens,
                "passes": max(passes) if passes else None,
                "seeds": sorted({s for by_seed in losses[tokens].values() for s in by_seed}),
                "schedules": schedules,
                "paired_sd": spreads.get(source),
                "paired_sd_from": source,
                # The sd of one schedule's losses over seeds, pooled over the budget's schedules.
                "seed_sd": pooled_spread([list(by_seed.values()) for by_seed in losses[tokens].values()]),
                "ranking": ranking,
                "tau_vs_longest": tau,
                "tau_over": len(shared),
                "same_top_as_longest": bool(ranking) and ranking[0] == longest_top,
                "ranks_like_longest": tau is not None and tau >= TAU_AGREES and ranking[0] == longest_top,
            }
        )
    failed = [
        {"label": f"{r['schedule']}/{r['tokens']}/{r['seed']}", "failed": r["failed"]}
        for r in runs
        if r.get("failed")
    ]
    return {"reference": reference, "longest": longest, "budgets": summary, "failed": failed}


def _paired_spread(by_schedule: Mapping[str, Mapping[int, float]], reference: str) -> dict[str, Any] | None:
    """The sd of paired differences from ``reference``, pooled over the schedules of one budget."""
    ref = by_schedule.get(reference, {})
    groups = [
        list(paired_differences(by_seed, ref).values())
        for name, by_seed in by_schedule.items()
        if name != reference
    ]
    return pooled_spread(groups)


def _nearest_spread(tokens: int, spreads: Mapping[int, dict[str, Any] | None]) -> int | None:
    measured = [t for t, spread in spreads.items() if spread is not None]
    return min(measured, key=lambda t: abs(math.log(t / tokens))) if measured else None


def _difference(
    values: Mapping[int, float], reference: Mapping[int, float], spread: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Mean paired difference with a t interval from the pooled paired sd (its degrees of freedom)."""
    diffs = list(paired_differences(values, reference).values())
    if not diffs:
        return None
    mean = statistics.fmean(diffs)
    if spread is None:
        return {"n": len(diffs), "mean": mean, "low": None, "high": None}
    from scipy import stats  # here: slow to import, and --help needs none of it

    half = float(stats.t.ppf(0.975, spread["df"])) * spread["sd"] / math.sqrt(len(diffs))
    return {"n": len(diffs), "mean": mean, "low": mean - half, "high": mean + half}


def _interval(d: dict[str, Any] | None) -> str:
    if d is None:
        return ""
    if d["low"] is None:
        return f"{d['mean']:+.4f} (n={d['n']})"
    return f"{d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}] (n={d['n']})"


def table(summary: dict[str, Any]) -> str:
    """Each budget's schedules best first, then the agreement of each budget with the longest."""
    lines = []
    for b in summary["budgets"]:
        sd, source = b["paired_sd"], b["paired_sd_from"]
        noise = "no paired sd: one seed at every budget"
        if sd is not None:
            taken = "" if source == b["tokens"] else f", taken from {source:,} tokens"
            noise = f"paired sd {sd['sd']:.4f} ({sd['df']} df{taken})"
        if (seed := b["seed_sd"]) is not None:
            noise += f"; seed sd {seed['sd']:.4f} [{seed['low']:.4f}, {seed['high']:.4f}] ({seed['df']} df)"
        passes = f"{b['passes']:.2f} passes" if b["passes"] is not None else "passes unknown"
        lines.append(f"{b['tokens']:,} tokens ({passes}; seeds {', '.join(map(str, b['seeds']))}; {noise})")
        width = max(len(n) for n in b["ranking"])
        for name in b["ranking"]:
            s = b["schedules"][name]
            versus = "the reference" if name == summary["reference"] else _interval(s["difference"])
            lines.append(f"  {name:<{width}}  {s['mean']:.4f}  vs {summary['reference']}: {versus}")
    lines.append("")
    for b in summary["budgets"][:-1]:
        tau = "undefined" if b["tau_vs_longest"] is None else f"{b['tau_vs_longest']:+.2f}"
        same_top = "yes" if b["same_top_as_longest"] else "no"
        agrees = "yes" if b["ranks_like_longest"] else "no"
        lines.append(
            f"{b['tokens']:,} vs {summary['longest']:,} tokens: Kendall's tau {tau} over {b['tau_over']} "
            f"schedules; same top schedule: {same_top}; ranks like the longest "
            f"(tau >= {TAU_AGREES}, same top): {agrees}"
        )
    return "\n".join(lines)


def plot(summary: dict[str, Any], path: str) -> None:
    """Mean loss against training tokens (left) and the paired difference from the reference with
    its 95% interval (right), one line per schedule, to ``path`` (a PNG)."""
    plt = pyplot()
    names = sorted({n for b in summary["budgets"] for n in b["schedules"]})
    fig, (loss_ax, diff_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name in names:
        present = [b for b in summary["budgets"] if name in b["schedules"]]
        tokens = [b["tokens"] for b in present]
        (line,) = loss_ax.plot(
            tokens, [b["schedules"][name]["mean"] for b in present], marker="o", label=name
        )
        diffs = [(b["tokens"], b["schedules"][name]["difference"]) for b in present]
        shown = [(t, d) for t, d in diffs if d is not None and d["low"] is not None]
        if shown:
            means = [d["mean"] for _, d in shown]
            below = [d["mean"] - d["low"] for _, d in shown]
            above = [d["high"] - d["mean"] for _, d in shown]
            diff_ax.errorbar(
                [t for t, _ in shown],
                means,
                yerr=[below, above],
                marker="o",
                capsize=3,
                color=line.get_color(),
            )
    diff_ax.axhline(0, color="black", linewidth=0.8)
    for ax in (loss_ax, diff_ax):
        ax.set_xscale("log")
        ax.set_xlabel("training tokens")
        ax.grid(alpha=0.3)
    loss_ax.set_ylabel("validation loss (nats)")
    diff_ax.set_ylabel(f"minus {summary['reference']}'s loss, same seeds (nats, 95% interval)")
    loss_ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def merged_runs(paths: Sequence[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header (preset, recipe) and the runs of several parts' JSON reports, which must share
    their preset and recipe (the budget aside)."""

    def header_of(report: dict[str, Any]) -> dict[str, Any]:
        return {
            "preset": report["preset"],
            "recipe": {k: v for k, v in report["recipe"].items() if k != "tokens"},
        }

    return merged_parts(paths, header_of, "preset or recipe")


def main(argv: list[str] | None = None) -> int:
    """Train the budgets (or merge parts), print the tables and the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.fidelity", description=__doc__.split("\n")[0])
    add_panel_options(parser, data_required=False, several_budgets=True)
    add = parser.add_argument
    add(
        "--seeds",
        type=int,
        nargs="+",
        default=[0, 1],
        help="paired seeds, each run at every budget (default 0 1)",
    )
    add_schedules_option(parser, PANEL)
    add("--study", help="also train the model's top --top schedules of this study")
    add("--storage", default="studies.db", help="the study's storage (default studies.db)")
    add("--top", type=int, default=3, help="schedules taken from --study (default 3)")
    add_merge_option(parser)
    add("--plot", help="also draw loss against tokens per schedule into this PNG")
    args = parser.parse_args(argv)
    if args.merge:
        header, runs = read_parts(parser, merged_runs, args.merge)
    else:
        if not args.data or not args.tokens:
            parser.error("--data and --tokens are required to train (or give --merge)")
        schedules = chosen_schedules(parser, args)
        try:
            budgets = [parse_count(t) for t in args.tokens]
            if args.study:
                schedules |= study_top(args.storage, args.study, args.top)
        except ValueError as e:
            parser.error(str(e))
        base, prepared = panel_base(args)
        results = run_jobs(
            fidelity_jobs(base, schedules, budgets, args.seeds), prepared, chosen_gpus(args.gpus)
        )
        header = {"preset": args.preset, "recipe": base.train.model_dump()}
        runs = run_records(results, schedules)
    summary = summarize(runs)
    if args.plot:
        plot(summary, args.plot)
    print_report(table(summary), {**header, **summary, "runs": runs}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
