"""How noisy is one trial? ``python -m bench.noise --preset small --data ... --val-data ...``

Trains a fixed panel of six schedules spread over the space (``bench.panel``; ``--schedules``
chooses others) with the preset's recipe (or a candidate's ``--lr`` and ``--warmup``, measured
before it becomes the default) and the kernels a study uses: each ``--repeats`` times at the
study seed (0) and once at each further seed up to ``--seeds``. For
``--variant-schedules`` it also repeats at seed 0 with the project's three ops replaced by their
tensor-code twins and with flash attention instead of cuDNN's, so that noise can be told apart
from a kernel's. Runs are spread over ``--gpus``.

Prints a table and, last, one JSON object: per schedule and pooled, the repeat sd (same config,
same seed), the seed sd (one run per seed), each with a 95% interval from its degrees of freedom;
the largest loss spike after warm-up (the rise of the 20-step mean of the training loss), alone,
beyond the per-step median of the other schedules at the same seed (their batches are the same,
so a stretch of hard text raises them all and cancels), and beyond the median spike of the run's
own batch noise in a random order (``search.training.curves.batch_noise_spikes``: what a run as
long and as noisy shows with no instability), with how many runs rise above that noise's 95th
percentile (one in twenty would by chance); the spread of the panel's means and
its ranking; the variants against the default kernels; and every run (in ``--out``, with its
training-loss curve). A measurement run in parts, each with ``--out``, is reported as one by
``--merge a.json b.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.gpu_jobs import Job, run_jobs
from bench.panel import (
    PANEL,
    add_merge_option,
    add_panel_options,
    add_schedules_option,
    checked_recipe,
    chosen_gpus,
    chosen_schedules,
    kept_run,
    merged_reports,
    panel_base,
    panel_schedule,
    pooled_spread,
    print_report,
    read_parts,
    run_header,
)
from search.training.curves import excess_spike, median_curve, spike_against_noise
from search.training.run_config import RunConfig
from search.training.step_plan import warmup_steps

STUDY_SEED = 0
# Targets a stable recipe must meet (the trial-recipe issue): nats.
MAX_REPEAT_SD = 0.01
MAX_SEED_SD = 0.02
MAX_SPIKE = 0.05


def panel_jobs(
    base: RunConfig,
    schedules: Mapping[str, Sequence[int | float]],
    repeats: int,
    seeds: int,
    variant_schedules: Sequence[str],
    variant_repeats: int,
) -> list[Job]:
    """Every run of the measurement, labelled ``schedule/variant/seed/repeat``."""
    jobs = []
    for name, mults in schedules.items():
        run = base.variant(schedule=panel_schedule(base, mults))
        jobs += [Job(f"{name}/default/0/{r}", run.variant(seed=STUDY_SEED)) for r in range(repeats)]
        jobs += [Job(f"{name}/default/{s}/0", run.variant(seed=s)) for s in range(STUDY_SEED + 1, seeds)]
        if name in variant_schedules:
            for variant in ("tensor-code", "flash"):
                jobs += [
                    Job(f"{name}/{variant}/0/{r}", run.variant(seed=STUDY_SEED), variant)  # type: ignore[arg-type]
                    for r in range(variant_repeats)
                ]
    return jobs


def label_parts(label: str) -> tuple[str, str, int, int]:
    """A run's label, ``schedule/variant/seed/repeat``, as (schedule, variant, seed, repeat)."""
    name, variant, seed, repeat = label.split("/")
    return name, variant, int(seed), int(repeat)


def excess_spikes(runs: Sequence[dict[str, Any]], warmup_frac: float) -> dict[str, list[float]]:
    """Schedule -> the spike of each of its default-kernel runs beyond the per-step median of the
    other schedules' runs at its seed (the same batches, so what text alone does cancels); runs
    kept without their curve, or alone at their seed, have none."""
    curves: dict[tuple[str, int], list[list[float]]] = {}
    for r in runs:
        name, variant, seed, _ = label_parts(r["label"])
        if variant == "default" and r.get("loss_curve"):
            curves.setdefault((name, seed), []).append(r["loss_curve"])
    found: dict[str, list[float]] = {}
    for (name, seed), mine in curves.items():
        others = [c for (n, s), cs in curves.items() if s == seed and n != name for c in cs]
        others = [c for c in others if len(c) == len(mine[0])]
        if others:
            reference = median_curve(others)
            warmup = warmup_steps(len(reference), warmup_frac)
            found.setdefault(name, []).extend(excess_spike(c, reference, warmup) for c in mine)
    return found


def spikes_over_batch_noise(
    runs: Sequence[dict[str, Any]], warmup_frac: float
) -> dict[str, list[dict[str, float]]]:
    """Schedule -> for each default-kernel run kept with its curve, its spike, the median and 95th
    percentile spike of its own batch noise shuffled, and how far the spike stands above that median."""
    found: dict[str, list[dict[str, float]]] = {}
    for r in runs:
        name, variant, _, _ = label_parts(r["label"])
        curve = r.get("loss_curve")
        if variant != "default" or not curve:
            continue
        against = spike_against_noise(curve, warmup_steps(len(curve), warmup_frac))
        found.setdefault(name, []).append({**asdict(against), "beyond": against.beyond})
    return found


def _over_noise(runs: Sequence[dict[str, float]]) -> dict[str, Any] | None:
    if not runs:
        return None
    return {
        "max_beyond": max(r["beyond"] for r in runs),
        "above_95": sum(r["spike"] > r["noise_95"] for r in runs),
        "runs": len(runs),
        "noise_median_range": [min(r["noise_median"] for r in runs), max(r["noise_median"] for r in runs)],
    }


def summarize(
    results: Sequence[dict[str, Any]], panel: Mapping[str, Sequence[int | float]], warmup_frac: float
) -> dict[str, Any]:
    """Per schedule and pooled figures from the runs of ``panel``'s schedules (failed runs are
    listed, not counted); ``warmup_frac`` is the recipe's, for the spikes beyond the panel's."""
    ok = [r for r in results if "val_loss" in r]
    beyond_panel = excess_spikes(ok, warmup_frac)
    over_noise = spikes_over_batch_noise(ok, warmup_frac)
    schedules: dict[str, dict[str, Any]] = {}
    for name, mults in panel.items():
        default = [r for r in ok if label_parts(r["label"])[:2] == (name, "default")]
        repeats = [r["val_loss"] for r in default if label_parts(r["label"])[2] == STUDY_SEED]
        by_seed: dict[int, float] = {}
        for r in default:
            by_seed.setdefault(label_parts(r["label"])[2], r["val_loss"])
        if not repeats:
            continue
        seed_means = {s: statistics.fmean(repeats) if s == STUDY_SEED else v for s, v in by_seed.items()}
        schedules[name] = {
            "mults": list(mults),
            "repeats": repeats,
            "repeat": pooled_spread([repeats]),
            "seeds": by_seed,
            "seed": pooled_spread([list(by_seed.values())]),
            "mean": statistics.fmean(seed_means.values()),
            "max_spike": max(r["spike"] for r in default),
            "max_excess_spike": max(beyond_panel.get(name, []), default=None),
            "spike_over_batch_noise": _over_noise(over_noise.get(name, [])),
            "variants": _variants(ok, name, repeats),
        }
    ranking = sorted(schedules, key=lambda n: schedules[n]["mean"])
    means = [schedules[n]["mean"] for n in ranking]
    pooled_seed = pooled_spread([list(s["seeds"].values()) for s in schedules.values()])
    pooled = {
        "repeat_sd": pooled_spread([s["repeats"] for s in schedules.values()]),
        "seed_sd": pooled_seed,
        "max_spike": max((s["max_spike"] for s in schedules.values()), default=None),
        "max_excess_spike": max(
            (s["max_excess_spike"] for s in schedules.values() if s["max_excess_spike"] is not None),
            default=None,
        ),
        "spike_over_batch_noise": _over_noise([r for runs in over_noise.values() for r in runs]),
        "spread_of_means": max(means) - min(means) if means else None,
        "ranking": ranking,
    }
    targets = {
        "repeat_sd_each_at_most": MAX_REPEAT_SD,
        "repeat_sd_met": all(s["repeat"] and s["repeat"]["sd"] <= MAX_REPEAT_SD for s in schedules.values()),
        "seed_sd_pooled_at_most": MAX_SEED_SD,
        "seed_sd_met": pooled_seed is not None and pooled_seed["sd"] <= MAX_SEED_SD,
        "spike_at_most": MAX_SPIKE,
        "spike_met": pooled["max_spike"] is not None and pooled["max_spike"] <= MAX_SPIKE,
        # The same bound on the spike beyond the panel (None without curves to compare).
        "spike_beyond_the_panel_met": None
        if pooled["max_excess_spike"] is None
        else pooled["max_excess_spike"] <= MAX_SPIKE,
        # And on the spike beyond the batch noise's median (None without curves).
        "spike_beyond_batch_noise_met": None
        if pooled["spike_over_batch_noise"] is None
        else pooled["spike_over_batch_noise"]["max_beyond"] <= MAX_SPIKE,
    }
    failed = [{"label": r["label"], "failed": r["failed"]} for r in results if "failed" in r]
    return {"schedules": schedules, "pooled": pooled, "targets": targets, "failed": failed}


def _variants(ok: Sequence[dict[str, Any]], name: str, default_repeats: Sequence[float]) -> dict[str, Any]:
    found = {}
    for variant in ("tensor-code", "flash"):
        losses = [r["val_loss"] for r in ok if label_parts(r["label"])[:3] == (name, variant, STUDY_SEED)]
        if losses:
            mean = statistics.fmean(losses)
            found[variant] = {
                "losses": losses,
                "sd": pooled_spread([losses]),
                "mean": mean,
                "vs_default": mean - statistics.fmean(default_repeats),
            }
    return found


def _number(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _sd(spread: dict[str, Any] | None) -> str:
    if spread is None:
        return ""
    return (
        f"{_number(spread['sd'])} [{_number(spread['low'])}, {_number(spread['high'])}] ({spread['df']} df)"
    )


def table(summary: dict[str, Any]) -> str:
    """The summary as aligned text."""
    rows = [
        (
            "schedule",
            "mean",
            "repeats at seed 0",
            "repeat sd [95%]",
            "seed sd [95%]",
            "max spike",
            "beyond the panel",
            "beyond its noise",
        )
    ]
    for name, s in summary["schedules"].items():
        repeats = ", ".join(_number(v) for v in s["repeats"])
        noise = s["spike_over_batch_noise"]
        spikes = (
            _number(s["max_spike"], 3),
            _number(s["max_excess_spike"], 3),
            _number(noise and noise["max_beyond"], 3),
        )
        rows.append((name, _number(s["mean"]), repeats, _sd(s["repeat"]), _sd(s["seed"]), *spikes))
        for variant, v in s["variants"].items():
            losses = ", ".join(_number(x) for x in v["losses"])
            rows.append((f"  {variant}", _number(v["mean"]), losses, _sd(v["sd"]), "", "", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    p = summary["pooled"]
    lines += [
        "",
        f"pooled repeat sd {_sd(p['repeat_sd'])}; pooled seed sd {_sd(p['seed_sd'])}",
        f"largest spike after warm-up {_number(p['max_spike'], 3)} nats, beyond the panel's median "
        f"at the same seed {_number(p['max_excess_spike'], 3)}; spread of the panel's means "
        f"{_number(p['spread_of_means'])}; ranking: {', '.join(p['ranking'])}",
        _noise_line(p["spike_over_batch_noise"]),
        f"targets: {json.dumps(summary['targets'])}",
    ]
    return "\n".join(lines)


def _noise_line(noise: dict[str, Any] | None) -> str:
    if noise is None:
        return "no curves kept: no spike against the runs' batch noise"
    low, high = noise["noise_median_range"]
    return (
        f"batch noise alone (shuffled) gives spikes of {_number(low, 3)} to {_number(high, 3)} (medians); "
        f"largest spike beyond that {_number(noise['max_beyond'], 3)} nats; {noise['above_95']} of "
        f"{noise['runs']} runs above their noise's 95th percentile (about 1 in 20 by chance)"
    )


def merged_runs(
    paths: Sequence[str],
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, list[int | float]]]:
    """The header (preset, budget, recipe), the runs and the schedules of several parts' JSON
    reports, which must share their header and give a schedule's name the same multipliers."""

    def header_of(report: dict[str, Any]) -> dict[str, Any]:
        return {"preset": report["preset"], "tokens": report["tokens"], "recipe": report["recipe"]}

    reports = [json.loads(Path(path).read_text()) for path in paths]
    header, runs = merged_reports(reports, paths, header_of, "preset, budget or recipe")
    panel: dict[str, list[int | float]] = {}
    for path, report in zip(paths, reports, strict=True):
        for name, schedule in report["schedules"].items():
            if panel.setdefault(name, schedule["mults"]) != schedule["mults"]:
                raise ValueError(f"{path}: '{name}' has other multipliers than in an earlier part")
    return header, runs, panel


def main(argv: list[str] | None = None) -> int:
    """Train the panel (or merge parts) and print the table and the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.noise", description=__doc__.split("\n")[0])
    add_panel_options(parser, data_required=False)
    add = parser.add_argument
    add_schedules_option(parser, PANEL)
    add("--repeats", type=int, default=3, help="runs of each schedule at the study seed (default 3)")
    add("--seeds", type=int, default=3, help="seeds per schedule, the study's included (default 3)")
    add(
        "--variant-schedules",
        nargs="*",
        default=["uniform", "wide-first"],
        help="schedules run with each variant",
    )
    add("--variant-repeats", type=int, default=2, help="runs per variant and schedule (default 2)")
    add("--lr", type=float, help="peak learning rate (default: the preset's)")
    add("--warmup", type=float, help="warm-up share of the steps (default: the preset's)")
    add_merge_option(parser)
    args = parser.parse_args(argv)
    if args.merge:
        header, runs, schedules = read_parts(parser, merged_runs, args.merge)
    else:
        if not args.data:
            parser.error("--data is required to train (or give --merge)")
        schedules = chosen_schedules(parser, args)
        recipe = checked_recipe(parser, args.preset, args.lr, args.warmup)
        if unknown := set(args.variant_schedules) - set(schedules):
            parser.error(f"--variant-schedules {' '.join(sorted(unknown))}: not among --schedules")
        base, prepared = panel_base(args, args.tokens)
        base = base.variant(**recipe)
        jobs = panel_jobs(
            base, schedules, args.repeats, args.seeds, args.variant_schedules, args.variant_repeats
        )
        results = run_jobs(jobs, prepared, chosen_gpus(args.gpus))
        header = run_header(args.preset, base)
        runs = [kept_run(r) for r in results]
    summary = summarize(runs, schedules, header["recipe"]["warmup_frac"])
    print_report(table(summary), {**header, **summary, "runs": runs}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
