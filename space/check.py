"""Does this schedule fit the budget? ``python -m space.check 8,4,4,4,3,3,3,3,4,4,4,4``

Validates the multipliers against a budget (12 layers summing to 48 at d_model 512 by default;
``--d-model``, ``--width-align`` and a ``--space`` settings file change it) and prints one JSON
object: the widths, each layer's MLP parameters and their total, which every valid schedule
shares. Exits 2 with the message (naming the layer) when the schedule does not fit.
``python -m model.check`` gives the whole model's parameter count and FLOPs at a preset.
"""

from __future__ import annotations

import argparse
import json
import sys

from pydantic import ValidationError

from space.budget import Budget
from space.errors import describe
from space.schedule import Schedule, parse_mults
from space.spec import load_space_spec

# SwiGLU's three projections (gate, up, down) of d_model x width each.
MLP_MATRICES = 3


def main(argv: list[str] | None = None) -> int:
    """Validate one schedule against a budget and report its MLP parameters."""
    parser = argparse.ArgumentParser(prog="python -m space.check", description=__doc__.split("\n")[0])
    parser.add_argument("mults", help="comma-separated per-layer multipliers, e.g. 8,4,4,4,3,3,3,3,4,4,4,4")
    add = parser.add_argument
    add("--d-model", type=int, default=Budget().d_model, help="residual width (default 512)")
    add("--width-align", type=int, default=Budget().width_align, help="MLP widths' multiple (default 64)")
    add(
        "--space",
        default="composition",
        help="space name, or a JSON file with budget overrides such as bounds or granularity",
    )
    args = parser.parse_args(argv)
    try:
        base = Budget(d_model=args.d_model, width_align=args.width_align)
        budget = load_space_spec(args.space).budget_over(base)
        schedule = Schedule(budget=budget, mults=tuple(parse_mults(args.mults)))
    except (ValidationError, ValueError) as e:
        message = describe(e)
        print(json.dumps({"valid": False, "error": message}))
        print(f"invalid schedule: {message}", file=sys.stderr)
        return 2
    per_layer = [MLP_MATRICES * budget.d_model * width for width in schedule.widths]
    report = {
        "valid": True,
        "mults": list(schedule.mults),
        "widths": list(schedule.widths),
        "mlp_params_by_layer": per_layer,
        "mlp_params": sum(per_layer),
        "budget_mlp_params": MLP_MATRICES * budget.d_model * budget.width(budget.total_units),
        "budget": budget.model_dump(),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
