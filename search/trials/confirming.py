"""Carrying out a confirmation: train each missing (schedule, seed) run of its plan, storing it with
the study as soon as it finishes (so an interrupted confirmation continues where it stopped), then
store the verdict and show it in the study's note."""

from __future__ import annotations

from collections.abc import Callable

import optuna

from search.findings.candidates import ConfirmPlan
from search.findings.confirmation import Confirmation, StoredRun, store_confirmation, store_run
from search.findings.note import update_study_note
from search.findings.verdicts import Trained, summarize_confirmation
from search.study import record
from search.training.outcome import TrainingFailed
from search.trials.objective import Objective


def train_missing(
    study: optuna.Study, plan: ConfirmPlan, objective: Objective, log: Callable[[str], None]
) -> Trained:
    """Train every missing run of ``plan`` (the study's base run with the candidate's schedule, the
    seed and the plan's tokens), storing each with the study as soon as it finishes."""
    trained = Trained()
    for candidate, seed in plan.missing:
        config = plan.settings.base.variant(schedule=candidate.schedule, seed=seed, tokens=plan.tokens)
        label = f"{candidate.name} ({candidate.key}) seed {seed}"
        try:
            evaluation = objective.evaluate(config, lambda tokens, loss: None)
        except TrainingFailed as e:
            trained.failures[(candidate.key, seed)] = f"{e.kind}: {e.reason}"
            log(f"{label}: failed, {e.reason}")
            continue
        run = StoredRun(
            schedule=candidate.key,
            seed=seed,
            tokens=plan.tokens,
            val_loss=evaluation.value,
            val_bpb=evaluation.attrs.get(record.VAL_BPB),
            wall_s=evaluation.attrs.get(record.WALL_S),
            passes=evaluation.attrs.get(record.PASSES),
        )
        store_run(study, run)
        trained.losses[(run.schedule, run.seed, run.tokens)] = run.val_loss
        log(f"{label}: val_loss {run.val_loss:.4f}")
    return trained


def confirm(
    study: optuna.Study, plan: ConfirmPlan, objective: Objective | None, log: Callable[[str], None]
) -> Confirmation:
    """Train what ``plan`` lacks, then store the record with the study and show it in its note;
    ``objective`` may be None only when nothing is missing."""
    trained = Trained()
    if plan.missing:
        if objective is None:
            raise ValueError(f"{len(plan.missing)} runs must be trained but no objective was given")
        trained = train_missing(study, plan, objective, log)
    confirmation = summarize_confirmation(plan, trained)
    if store_confirmation(study, confirmation):
        update_study_note(study)
    else:
        log("the same result as the latest stored confirmation: not stored again")
    return confirmation
