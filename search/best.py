"""Export a study's best trial as a run config: ``python -m search.best --study NAME --out FILE``

The file holds the complete run (model and schedule, training budget, data, tokenizer, seed,
provenance) that ``python -m search.train --config FILE`` trains again.
"""

from __future__ import annotations

import json
import sys

from pydantic import ValidationError

from search.findings.summary import summarize
from search.options.study_options import read_export_options
from search.study import record
from search.study.settings import study_settings
from search.study.storage import load_existing_study
from search.training.run_config import RunConfig, save_run_config
from space.errors import describe


def main(argv: list[str] | None = None) -> int:
    """Find the best trial at the study's seed and write its config; exit 2 when there is none."""
    try:
        options = read_export_options(__doc__, argv)
        study = load_existing_study(options.storage, options.study)
        best = summarize(study.get_trials(deepcopy=False), study_settings(study).base.seed).best
        if best is None:
            raise ValueError(f"study '{options.study}' has no completed trial yet")
        config = RunConfig.model_validate(record.run_config(best))
    except (ValueError, ValidationError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 2
    save_run_config(config, options.out)
    summary = {
        "trial": best.number,
        "mults": list(record.mults(best)),
        "val_loss": best.value,
        "out": options.out,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
