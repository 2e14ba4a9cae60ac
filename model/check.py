"""A schedule at a preset: ``python -m model.check 8,4,4,4,3,3,3,3,4,4,4,4 --preset base``

Validates the schedule against the preset's budget and builds its config, which proves the
parameter count equals the budget's. Prints one JSON object (valid, mults, widths, params,
budget_params, flops_per_token, ...) and exits 0, or exits 2 with the validation message on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

from pydantic import ValidationError

from model.presets import PRESETS, get_preset
from space.errors import describe
from space.schedule import Schedule, parse_mults
from space.spec import load_space_spec


def main(argv: list[str] | None = None) -> int:
    """Validate one schedule at a preset and report its parameter count and FLOPs."""
    parser = argparse.ArgumentParser(prog="python -m model.check", description=__doc__.split("\n")[0])
    parser.add_argument("mults", help="comma-separated per-layer multipliers, e.g. 8,4,4,4,3,3,3,3,4,4,4,4")
    parser.add_argument("--preset", default="small", help=f"model size: {', '.join(PRESETS)} (default small)")
    parser.add_argument(
        "--space",
        default="composition",
        help="space name, or a JSON file with budget overrides such as bounds or granularity",
    )
    args = parser.parse_args(argv)
    try:
        preset = get_preset(args.preset)
        budget = load_space_spec(args.space).budget_over(preset.model.budget)
        schedule = Schedule(budget=budget, mults=tuple(parse_mults(args.mults)))
        model = preset.model.with_schedule(schedule)
    except (ValidationError, ValueError) as e:
        message = describe(e)
        print(json.dumps({"valid": False, "error": message}))
        print(f"invalid schedule: {message}", file=sys.stderr)
        return 2
    report = {
        "valid": True,
        "mults": list(schedule.mults),
        "widths": list(schedule.widths),
        "params": model.params,
        "budget_params": model.budget_params,
        "non_embedding_params": model.non_embedding_params,
        "flops_per_token": model.flops_per_token,
        "preset": args.preset,
        "budget": budget.model_dump(),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
