"""Export a study's best trial as a run config: ``python -m search.best --study NAME --out FILE``

The file holds the complete run (model and schedule, training budget, data, tokenizer, seed,
provenance) that ``python -m search.train --config FILE`` trains again.
"""

from __future__ import annotations

import argparse
import json
import sys

from pydantic import ValidationError

from search.config import RunConfig, save_run_config
from search.storage import add_study_options, load_existing_study
from search.study import study_settings
from search.summary import summarize
from space.errors import describe


def main(argv: list[str] | None = None) -> int:
    """Find the best trial at the study's seed and write its config; exit 2 when there is none."""
    parser = argparse.ArgumentParser(prog="python -m search.best", description=__doc__.split("\n")[0])
    add_study_options(parser)
    parser.add_argument("--out", required=True, help="where to write the config JSON")
    args = parser.parse_args(argv)
    try:
        study = load_existing_study(args.storage, args.study)
        summary = summarize(study.get_trials(deepcopy=False), study_settings(study).base.seed)
        if summary.best is None:
            raise ValueError(f"study '{args.study}' has no completed trial yet")
        config = RunConfig.model_validate(summary.best.user_attrs["config"])
    except (ValueError, ValidationError) as e:
        print(f"error: {describe(e) if isinstance(e, ValidationError) else e}", file=sys.stderr)
        return 2
    save_run_config(config, args.out)
    best = summary.best
    print(
        json.dumps(
            {
                "trial": best.number,
                "mults": best.user_attrs["mlp_mults"],
                "val_loss": best.value,
                "out": args.out,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
