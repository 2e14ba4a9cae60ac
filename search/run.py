"""Search how a parameter budget is best spread over layers: ``python -m search.run --trials 50``"""

from __future__ import annotations

import sys

import optuna
from pydantic import ValidationError

from search.findings.contents import closing_texts, gather_findings
from search.findings.text import to_text
from search.options.search_options import read_search_options
from search.study.storage import artifact_dir, is_url
from search.training.compile_cache import use_compile_cache
from search.trials.exiting import skip_final_collection
from search.trials.kernels_ahead import kernels_compiled_ahead
from search.trials.plan import budget_notes, kept_recipe_note, make_plan, open_plan_study, pruner_note
from search.trials.signals import ignore_interrupts_from_now, stop_on_sigterm
from search.trials.spawning import early_children
from space.errors import describe


def main(argv: list[str] | None = None) -> int:
    """Check every option, create or resume the study, run the workers, report the best."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    skip_final_collection()
    stop_on_sigterm()
    try:
        options = read_search_options(__doc__, argv)
    except (ValueError, ValidationError) as e:
        return _refused(e)
    use_compile_cache(options.compile_cache)  # before any compiling, and inherited by every worker
    # Workers beyond the first, and the compiling of the decoder's kernels, start now: they import
    # while this process checks and prepares.
    with early_children(options) as children, kernels_compiled_ahead(options):
        try:
            asked = make_plan(options)
            study, plan, created = open_plan_study(asked, 0)
        except (ValueError, ValidationError) as e:
            return _refused(e)
        for note in (*plan.notes, kept_recipe_note(plan, asked), pruner_note(plan), *budget_notes(plan)):
            if note:
                print(note)
        print(
            f"{'created' if created else 'resuming'} study '{options.study}' in {options.storage}: "
            f"preset {plan.settings.preset}, space {plan.space.name}, sampler {plan.options.sampler}, "
            f"pruner {options.pruner}, {plan.workers} worker(s), target {options.trials} trials"
        )
        from search.trials.workers import run_workers  # torch: after every input is checked

        try:
            result = run_workers(plan, study, children)
        except KeyboardInterrupt:
            ignore_interrupts_from_now()
            print("interrupted: no trial is left running; run the same command to continue", file=sys.stderr)
            return 130
    print(result.reason)
    print(to_text(closing_texts(gather_findings(study))))
    storage = options.storage if not is_url(options.storage) else f"'{options.storage}'"
    where = f"--study {options.study} --storage {storage}"
    print(f"see it: optuna-dashboard {storage} --artifact-dir {artifact_dir(options.storage)}")
    print(f"next: python -m search.confirm {where}   # is the winner real?")
    print(f"      python -m search.best {where} --out {options.study}-best.json")
    print(f"      python -m search.report {where}")
    return result.exit_code


def _refused(error: ValueError | ValidationError) -> int:
    print(f"error: {describe(error)}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
