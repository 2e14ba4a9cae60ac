"""The fixed panel of schedules the noise, recipe and fidelity benchmarks train, spread over the
space, and what they need to set up their runs: the schedules asked for, the preset's run on
prepared data, and the GPUs to use."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import torch
from pydantic import ValidationError

from model.presets import PRESETS, get_preset
from search.data.prepare import PreparedData, prepare_data
from search.data.spec import DataSpec
from search.options.counts import parse_count
from search.study.spread import pooled_sd
from search.training.run_config import RunConfig
from space.errors import describe
from space.schedule import Schedule, parse_mults
from space.spec import HAND_FOUND

Merged = TypeVar("Merged")

# Name -> multipliers (12 layers, sum 48): the baselines, the extremes of width at either end, the
# first study's winner on the 2026-11-29 recipe, and a smooth ramp.
PANEL: dict[str, tuple[int, ...]] = {
    "uniform": (4,) * 12,
    "hand-found": HAND_FOUND,
    "wide-first": (15,) + (3,) * 11,
    "wide-last": (3,) * 11 + (15,),
    "study-7661": (7, 6, 6, 1, 3, 3, 6, 3, 7, 3, 2, 1),
    "ramp": (2, 2, 3, 3, 3, 4, 4, 5, 5, 5, 6, 6),
}


def add_panel_options(
    parser: argparse.ArgumentParser, data_required: bool = True, several_budgets: bool = False
) -> None:
    """What every panel benchmark takes: preset, token budget (one, or ``several_budgets``), data,
    GPUs and the JSON output."""
    add = parser.add_argument
    add("--preset", default="small", help=f"{', '.join(PRESETS)} (default small)")
    if several_budgets:
        add("--tokens", nargs="+", default=[], help="training budgets, e.g. 5M 10M 20M 100M")
    else:
        add("--tokens", help="training tokens per run, e.g. 20M (default: the preset's)")
    add("--data", nargs="+", required=data_required, default=[], help="training files, folders or globs")
    add("--val-data", nargs="+", default=[], help="validation files (default: a held-out share)")
    add("--gpus", help="GPUs to spread the runs over, e.g. 0,1,2,3 (default: every visible GPU, or the CPU)")
    add("--out", help="also write the JSON report to this file")


def add_schedules_option(parser: argparse.ArgumentParser, default: Sequence[str]) -> None:
    """``--schedules``: panel names or multiplier lists."""
    parser.add_argument(
        "--schedules",
        nargs="+",
        default=list(default),
        help=f"panel schedules ({', '.join(PANEL)}) or multipliers, e.g. 8,4,4,4,3,3,3,3,4,4,4,4 or "
        f"mine=8,4,4,4,3,3,3,3,4,4,4,4 (default: {' '.join(default)})",
    )


def panel_base(args: argparse.Namespace, tokens: str | None = None) -> tuple[RunConfig, PreparedData]:
    """The preset's run (its default recipe, seed 0) on the prepared data; ``tokens`` (e.g. 20M)
    replaces the budget."""
    data = DataSpec(train=tuple(args.data), val=tuple(args.val_data))
    prepared = prepare_data(data, get_preset(args.preset).model.vocab_size)
    run = RunConfig.from_preset(args.preset, data, prepared)
    return run.variant(tokens=parse_count(tokens) if tokens else None), prepared


def named_schedules(entries: Sequence[str], preset: str) -> dict[str, tuple[int | float, ...]]:
    """``--schedules`` as name -> multipliers, each checked against ``preset``'s budget before any
    data is read: a panel name stands for its schedule, ``NAME=8,4,...`` or ``8,4,...`` (named by
    itself) for the multipliers given."""
    budget = get_preset(preset).model.budget
    named: dict[str, tuple[int | float, ...]] = {}
    for entry in entries:
        name, _, text = entry.rpartition("=") if "=" in entry else (entry, "", entry)
        if entry in PANEL:
            mults: tuple[int | float, ...] = PANEL[entry]
        elif "," in text and "/" not in name:
            try:
                mults = tuple(Schedule(budget=budget, mults=parse_mults(text)).mults)
            except ValidationError as e:
                problems = "; ".join(p["msg"].removeprefix("Value error, ") for p in e.errors())
                raise ValueError(f"--schedules {entry}: {problems}") from None
            except ValueError as e:
                raise ValueError(f"--schedules {entry}: {e}") from None
        else:
            raise ValueError(
                f"--schedules: '{entry}' is neither a panel schedule ({', '.join(PANEL)}) nor "
                "multipliers such as 8,4,4,4,3,3,3,3,4,4,4,4 or name=8,4,... (a name without '/')"
            )
        if name in named:
            raise ValueError(f"--schedules: '{name}' is given twice")
        named[name] = mults
    return named


def chosen_schedules(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> dict[str, tuple[int | float, ...]]:
    """``args.schedules`` by :func:`named_schedules`; a bad one ends the command with its reason."""
    try:
        return named_schedules(args.schedules, args.preset)
    except ValueError as e:
        parser.error(str(e))


def checked_recipe(
    parser: argparse.ArgumentParser, preset: str, lr: float | None = None, warmup: float | None = None
) -> dict[str, float]:
    """The training settings a peak lr and warm-up share change (None: the preset's), for
    ``RunConfig.variant``; refused before any data is read, naming the option, when the preset's
    recipe cannot take them."""
    train = get_preset(preset).train
    changed = {k: v for k, v in {"lr": lr, "warmup_frac": warmup}.items() if v is not None}
    try:
        train.model_validate({**train.model_dump(), **changed})
    except ValidationError as e:
        given = " ".join(f"--{'warmup' if k == 'warmup_frac' else k} {v:g}" for k, v in changed.items())
        parser.error(f"{given}: {describe(e)}")
    return changed


def panel_schedule(run: RunConfig, mults: Sequence[int | float]) -> Schedule:
    """The schedule of ``mults`` on ``run``'s budget."""
    return Schedule(budget=run.model.budget, mults=tuple(mults))


def chosen_gpus(text: str | None) -> list[int]:
    """``--gpus`` as numbers; every visible GPU by default, or one slot on the CPU."""
    if text:
        return [int(part) for part in text.split(",")]
    return list(range(torch.cuda.device_count())) or [0]


def add_merge_option(parser: argparse.ArgumentParser) -> None:
    """``--merge``: parts' JSON reports to report as one instead of training."""
    parser.add_argument(
        "--merge", nargs="+", default=[], help="report these parts' JSON reports as one, training nothing"
    )


def read_parts(
    parser: argparse.ArgumentParser, reader: Callable[[Sequence[str]], Merged], paths: Sequence[str]
) -> Merged:
    """``reader(paths)``: the ``--merge`` parts read as one; a part that cannot be read or does
    not fit the others ends the command with its reason."""
    try:
        return reader(paths)
    except (OSError, KeyError, ValueError) as e:
        parser.error(f"--merge: {e}")


def run_header(preset: str, run: RunConfig) -> dict[str, Any]:
    """What a panel report says it trained: the preset, the budget and the whole recipe."""
    return {"preset": preset, "tokens": run.train.tokens, "recipe": run.train.model_dump()}


def merged_parts(
    paths: Sequence[str], header_of: Callable[[dict[str, Any]], dict[str, Any]], shared: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the runs of several parts' JSON reports; ``header_of`` takes from a report
    what every part must share (``shared`` names it in the refusal of a part that differs). A run
    already in an earlier part is refused: counted twice, it would shrink every interval."""
    reports = [json.loads(Path(path).read_text()) for path in paths]
    return merged_reports(reports, paths, header_of, shared)


def merged_reports(
    reports: Sequence[dict[str, Any]],
    paths: Sequence[str],
    header_of: Callable[[dict[str, Any]], dict[str, Any]],
    shared: str,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """:func:`merged_parts` of reports already read, each from the file of the same place in ``paths``."""
    header: dict[str, Any] | None = None
    runs: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path, report in zip(paths, reports, strict=True):
        this = header_of(report)
        if header is not None and this != header:
            raise ValueError(f"{path}: another {shared} than {paths[0]}'s; parts must share them")
        header = this
        for run in report["runs"]:
            key = json.dumps(run, sort_keys=True)
            if key in seen:
                raise ValueError(
                    f"{path}: a run of it is also in an earlier part (a part given twice, or a merged "
                    "report given beside its parts)"
                )
            seen.add(key)
            runs.append(run)
    assert header is not None
    return header, runs


# Training-loss curves are kept to 1e-4 nats: far below a batch's noise, and a third of the size.
CURVE_DIGITS = 4


def rounded_curve(curve: Sequence[float]) -> list[float]:
    """A training-loss curve as a report keeps it, for the spike analyses."""
    return [round(v, CURVE_DIGITS) for v in curve]


def kept_run(result: dict[str, Any]) -> dict[str, Any]:
    """A trained run as a report keeps it: its training-loss curve rounded."""
    if "loss_curve" not in result:
        return result
    return {**result, "loss_curve": rounded_curve(result["loss_curve"])}


def pooled_spread(groups: Sequence[Sequence[float]]) -> dict[str, Any] | None:
    """:func:`search.study.spread.pooled_sd` of ``groups`` as a report keeps it; None without a
    group of two."""
    estimate = pooled_sd(groups)
    return None if estimate is None else asdict(estimate)


def print_report(table: str, report: dict[str, Any], out: str | None) -> None:
    """Print the table, then the report as one JSON line without the runs' curves; also write the
    whole JSON to ``out`` if given."""
    print(table)
    if out:
        Path(out).write_text(json.dumps(report) + "\n")
    runs = [{k: v for k, v in r.items() if k != "loss_curve"} for r in report.get("runs", [])]
    print(json.dumps({**report, "runs": runs} if "runs" in report else report))
