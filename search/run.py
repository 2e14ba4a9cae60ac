"""Search how a parameter budget is best spread over layers: ``python -m search.run --trials 50``"""

from __future__ import annotations

import argparse
import sys

import optuna
from pydantic import ValidationError

from search.setup import add_search_options, make_plan, open_plan_study
from search.signals import stop_on_sigterm
from search.storage import artifact_dir, is_url
from search.study import study_settings
from search.summary import summarize
from search.workers import run_workers
from space.errors import describe


def main(argv: list[str] | None = None) -> int:
    """Check every option, create or resume the study, run the workers, report the best."""
    parser = argparse.ArgumentParser(prog="python -m search.run", description=__doc__)
    add_search_options(parser)
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    stop_on_sigterm()
    try:
        plan = make_plan(args)
        study, created = open_plan_study(plan, 0)
    except (ValueError, ValidationError) as e:
        print(f"error: {describe(e) if isinstance(e, ValidationError) else e}", file=sys.stderr)
        return 2
    if plan.preset_note:
        print(plan.preset_note)
    print(
        f"{'created' if created else 'resuming'} study '{args.study}' in {args.storage}: preset "
        f"{plan.settings.preset}, space {plan.space.name}, sampler {args.sampler}, pruner {args.pruner}, "
        f"{plan.workers} worker(s), target {args.trials} trials"
    )
    try:
        result = run_workers(plan, study)
    except KeyboardInterrupt:
        print("interrupted: no trial is left running; run the same command to continue", file=sys.stderr)
        return 130
    summary = summarize(study.get_trials(deepcopy=False), study_settings(study).base.seed)
    print(result.reason)
    if summary.best is not None:
        reference = summary.reference_loss(plan.settings.base.seed)
        gain = f", {summary.best.value - reference:+.4f} vs uniform" if reference is not None else ""
        mults = ",".join(map(str, summary.best.user_attrs.get("mlp_mults", [])))
        print(f"best: trial {summary.best.number} {mults} val_loss {summary.best.value:.4f}{gain}")
    dashboard = args.storage if not is_url(args.storage) else f"'{args.storage}'"
    print(f"see it: optuna-dashboard {dashboard} --artifact-dir {artifact_dir(args.storage)}")
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
