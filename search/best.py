"""Export a study's winner as a run config: ``python -m search.best --study NAME --out FILE``

By default the winner is the latest confirmation's (``search.confirm``), else the model's pick,
else the lowest loss at the study's seed; ``--rule`` chooses one of those rules, ``--trial N`` a
trial. The file holds the complete run (model and schedule, training budget, data, tokenizer,
seed, provenance) that ``python -m search.train --config FILE`` trains again; the printed line
says which rule chose the trial, and why.
"""

from __future__ import annotations

import json
import sys

from pydantic import ValidationError

from search.findings.contents import gather_findings
from search.findings.winner import choose_winner
from search.options.study_options import read_export_options
from search.study import record
from search.study.storage import load_existing_study
from search.training.run_config import RunConfig, save_run_config
from space.errors import describe


def main(argv: list[str] | None = None) -> int:
    """Choose the study's winner and write its config; exit 2 when there is none to choose."""
    try:
        options = read_export_options(__doc__, argv)
        study = load_existing_study(options.storage, options.study)
        winner = choose_winner(gather_findings(study), options.choice)
        config = RunConfig.model_validate(record.run_config(winner.trial))
    except (ValueError, ValidationError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 2
    save_run_config(config, options.out)
    summary = {
        "trial": winner.trial.number,
        "mults": list(record.mults(winner.trial)),
        "val_loss": winner.trial.value,
        "out": options.out,
        "rule": winner.rule,
        "reason": winner.reason,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
