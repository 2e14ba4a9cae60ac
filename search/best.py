"""Export a study's winner as a run config: ``python -m search.best --study NAME --out FILE``

By default the winner is that of the latest confirmation at the longest token budget confirmed
(``search.confirm``; a later one at a shorter budget does not overrule it), else the model's pick,
else the lowest loss at the study's seed; ``--rule`` chooses one of those rules, ``--trial N`` a
trial. The file holds the complete run (model and schedule, training budget, data, tokenizer,
seed, provenance) that ``python -m search.train --config FILE`` trains again, and its origin: the
study, the trial, the rule that chose it and why, the trial's loss and the loss the rule expects.
The printed line says the same.
"""

from __future__ import annotations

import json
import sys

from pydantic import ValidationError

from search.findings.contents import gather_findings
from search.findings.winner import Winner, choose_winner
from search.options.study_options import read_export_options
from search.study import record
from search.study.storage import load_existing_study
from search.training.run_config import ExportOrigin, RunConfig, save_run_config
from space.errors import describe


def main(argv: list[str] | None = None) -> int:
    """Choose the study's winner and write its config; exit 2 when there is none to choose."""
    try:
        options = read_export_options(__doc__, argv)
        study = load_existing_study(options.storage, options.study)
        winner = choose_winner(gather_findings(study), options.choice)
        config = exported_config(study.study_name, winner)
    except (ValueError, ValidationError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 2
    save_run_config(config, options.out)
    summary = {
        "trial": winner.trial.number,
        "mults": list(record.mults(winner.trial)),
        "val_loss": winner.trial.value,
        "expected_loss": winner.expected_loss,
        "out": options.out,
        "rule": winner.rule,
        "reason": winner.reason,
    }
    print(json.dumps(summary))
    return 0


def exported_config(study: str, winner: Winner) -> RunConfig:
    """The run ``winner``'s trial trained, with its origin: the study, what chose it, and its losses."""
    trained = RunConfig.model_validate(record.run_config(winner.trial))
    origin = ExportOrigin(
        study=study,
        trial=winner.trial.number,
        rule=winner.rule,
        reason=winner.reason,
        observed_loss=record.value(winner.trial),
        tokens=trained.train.tokens,
        expected_loss=winner.expected_loss,
        expected_tokens=winner.expected_tokens,
    )
    return trained.model_copy(update={"origin": origin})


if __name__ == "__main__":
    sys.exit(main())
