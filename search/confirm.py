"""Is the winner real? ``python -m search.confirm --study hourglass --top 3 --seeds 5``

Retrains the study's best schedules and its baselines at several fresh seeds (seed s gives every
schedule the same init and data order, so the comparison is paired; the seed the study selected
its best on is never one of them, since its noise helped select them), with the study's own data,
preset and recipe; ``--tokens`` trains longer instead. Each GPU of ``--gpus`` (default every
visible one; ``--workers`` on CPU) trains one run at a time. Each schedule's mean difference from the
reference baseline (uniform) comes with a t-based confidence interval, and a winner is named
only when its whole interval lies below zero. A longer run also reports Kendall's tau between
the short and the long ranking: whether the search's short trials predict longer training.

Seeds that an earlier finished confirmation partly saw (``--seeds 7`` after ``--seeds 4``) make this
a second look at them, held to 1 - 5%/2 (then 1 - 5%/3, ...); ``--first-seed`` at seeds not seen yet
tests anew at the full level.

Runs already made at the same (schedule, seed, tokens), by the study's trials or an earlier
confirmation, are reused, not trained again. Every run is stored with the study as soon as it
finishes, so an interrupted confirmation continues where it stopped; the result is stored with
the study and shown in its dashboard note.

A study scored by a user's function (``search.run --objective module:function``) is confirmed only
with ``--objective`` naming that same function: the name stored with the study is never imported,
since whoever can write a shared storage could otherwise choose the code run here.
"""

from __future__ import annotations

import sys

import optuna
from pydantic import ValidationError

from search.findings.candidates import plan_confirmation
from search.findings.confirmation_blocks import confirmation_blocks
from search.findings.text import to_text
from search.options.study_options import read_confirm_options
from search.study.storage import load_existing_study
from search.trials.confirm_workers import WorkersEnded
from search.trials.confirming import Workers, confirm, confirming_gpus
from search.trials.exiting import skip_final_collection
from search.trials.objective import confirmable_objective, study_objective
from search.trials.plan import worker_count
from search.trials.signals import ignore_interrupts_from_now, stop_on_sigterm
from space.errors import describe


def main(argv: list[str] | None = None) -> int:
    """Parse, plan against the study, train what is missing, store and print the result."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    skip_final_collection()
    stop_on_sigterm()
    try:
        options = read_confirm_options(__doc__, argv)
        study = load_existing_study(options.storage, options.study)
        plan = plan_confirmation(study, options.top, options.seeds, options.tokens, options.first_seed)
        # Checked even when nothing is left to train: a wrong --objective is a mistake either way.
        confirmable_objective(plan.settings, options.objective)
        gpus = confirming_gpus(options.gpus)
        source = study_objective(plan.settings, options.objective) if plan.missing else None
    except (ValueError, ValidationError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 2
    workers = Workers(source, gpus, worker_count(gpus, options.workers)) if source else None
    objective = source.build(progress=sys.stderr.isatty()) if source else None
    print(plan.describe())
    note = objective.data_note(plan.settings.base.variant(tokens=plan.tokens)) if objective else None
    if note:
        print(note)
    try:
        confirmation = confirm(study, plan, objective, print, workers)
    except KeyboardInterrupt:
        ignore_interrupts_from_now()
        print(
            "interrupted: finished runs are stored, with an unfinished record in the study's note; "
            "run the same command to continue",
            file=sys.stderr,
        )
        return 130
    except WorkersEnded as e:
        print(f"error: {e}; finished runs are stored", file=sys.stderr)
        return 1
    print()
    print(to_text(confirmation_blocks(confirmation, heading=False)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
