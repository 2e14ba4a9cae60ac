"""The fixed panel of schedules the noise and recipe benchmarks train, spread over the space, and
what both need to set up their runs: the preset's run on prepared data, and the GPUs to use."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from model.presets import PRESETS, get_preset
from search.data.prepare import PreparedData, prepare_data
from search.data.spec import DataSpec
from search.options.counts import parse_count
from search.training.run_config import RunConfig
from space.schedule import Schedule
from space.spec import HAND_FOUND

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


def add_panel_options(parser: argparse.ArgumentParser) -> None:
    """What every panel benchmark takes: preset, tokens, data, GPUs and the JSON output."""
    add = parser.add_argument
    add("--preset", default="small", help=f"{', '.join(PRESETS)} (default small)")
    add("--tokens", help="training tokens per run, e.g. 20M (default: the preset's)")
    add("--data", nargs="+", required=True, help="training files, folders or globs")
    add("--val-data", nargs="+", default=[], help="validation files (default: a held-out share)")
    add("--gpus", help="GPUs to spread the runs over, e.g. 0,1,2,3 (default: every visible GPU, or the CPU)")
    add("--out", help="also write the JSON report to this file")


def panel_base(args: argparse.Namespace) -> tuple[RunConfig, PreparedData]:
    """The preset's run (its default recipe, seed 0) on the prepared data; ``--tokens`` replaces
    the budget."""
    data = DataSpec(train=tuple(args.data), val=tuple(args.val_data))
    prepared = prepare_data(data, get_preset(args.preset).model.vocab_size)
    run = RunConfig.from_preset(args.preset, data, prepared)
    return run.variant(tokens=parse_count(args.tokens) if args.tokens else None), prepared


def panel_schedule(run: RunConfig, name: str) -> Schedule:
    """The panel schedule ``name`` on ``run``'s budget."""
    return Schedule(budget=run.model.budget, mults=PANEL[name])


def chosen_gpus(text: str | None) -> list[int]:
    """``--gpus`` as numbers; every visible GPU by default, or one slot on the CPU."""
    if text:
        return [int(part) for part in text.split(",")]
    return list(range(torch.cuda.device_count())) or [0]


def print_report(table: str, report: dict[str, Any], out: str | None) -> None:
    """Print the table, then the report as one JSON line; also write the JSON to ``out`` if given."""
    print(table)
    text = json.dumps(report)
    if out:
        Path(out).write_text(text + "\n")
    print(text)
