"""Carrying out a confirmation: train each missing (schedule, seed) run of its plan, storing it with
the study as soon as it finishes (so an interrupted confirmation continues where it stopped), then
store the verdict and show it in the study's note."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import optuna

from search.findings.candidates import ConfirmPlan
from search.findings.confirmation import Confirmation, StoredRun, store_confirmation, store_run
from search.findings.note import update_study_note
from search.findings.verdicts import Trained, summarize_confirmation
from search.study import record
from search.training.outcome import TrainingFailed
from search.trials.confirm_workers import Outcome, WorkersEnded, train_in_workers
from search.trials.objective import Objective, ObjectiveSource
from search.trials.plan import visible_gpus
from search.trials.signals import ignore_interrupts_from_now


@dataclass(frozen=True)
class Workers:
    """Where a confirmation trains: ``count`` spawned workers building ``source``, worker ``i`` on
    ``gpus[i]`` (none on CPU)."""

    source: ObjectiveSource
    gpus: tuple[int, ...]
    count: int


def train_missing(
    study: optuna.Study,
    plan: ConfirmPlan,
    objective: Objective,
    log: Callable[[str], None],
    trained: Trained,
    workers: Workers | None = None,
) -> None:
    """Train every missing run of ``plan`` (the study's base run with the candidate's schedule, the
    seed and the plan's tokens), storing each with the study as soon as it finishes and adding it to
    ``trained``: here with ``objective``, or spread over ``workers`` when there are more than one."""
    runs = [
        (
            candidate,
            seed,
            plan.settings.base.variant(schedule=candidate.schedule, seed=seed, tokens=plan.tokens),
        )
        for candidate, seed in plan.missing
    ]

    def finished(index: int, outcome: Outcome) -> None:
        candidate, seed, _ = runs[index]
        label = f"{candidate.name} ({candidate.key}) seed {seed}"
        if isinstance(outcome, TrainingFailed):
            trained.failures[(candidate.key, seed)] = f"{outcome.kind}: {outcome.reason}"
            log(f"{label}: failed, {outcome.reason}")
            return
        run = StoredRun(
            schedule=candidate.key,
            seed=seed,
            tokens=plan.tokens,
            val_loss=outcome.value,
            val_bpb=outcome.attrs.get(record.VAL_BPB),
            wall_s=outcome.attrs.get(record.WALL_S),
            passes=outcome.attrs.get(record.PASSES),
        )
        store_run(study, run)
        trained.losses[(run.schedule, run.seed, run.tokens)] = run.val_loss
        log(f"{label}: val_loss {run.val_loss:.4f}")

    if workers is not None and workers.count > 1 and len(runs) > 1:
        count = min(workers.count, len(runs))
        log(
            f"training {len(runs)} runs on {count} workers"
            + (f" (GPUs {_listed(workers.gpus[:count])})" if workers.gpus else "")
        )
        train_in_workers(workers.source, [config for *_, config in runs], workers.gpus, count, finished)
        return
    for index, (_, _, config) in enumerate(runs):
        try:
            outcome: Outcome = objective.evaluate(config, lambda tokens, loss: None)
        except TrainingFailed as e:
            outcome = e
        finished(index, outcome)


def confirming_gpus(asked: tuple[int, ...] | None) -> tuple[int, ...]:
    """The GPUs ``--gpus`` asks for (None: every visible one), the first made this process's
    device; ValueError names one that is not there."""
    import torch  # here, not at the top: the checks before this one answer without it

    gpus = visible_gpus(asked)
    if gpus:
        torch.cuda.set_device(gpus[0])
    return gpus


def _listed(gpus: tuple[int, ...]) -> str:
    return ",".join(map(str, gpus))


def confirm(
    study: optuna.Study,
    plan: ConfirmPlan,
    objective: Objective | None,
    log: Callable[[str], None],
    workers: Workers | None = None,
) -> Confirmation:
    """Train what ``plan`` lacks (here, or on ``workers``), then store the record with the study and
    show it in its note; ``objective`` may be None only when nothing is missing. Stopped by an
    interrupt or by its workers' deaths, it stores an unfinished record of the runs made so far
    (when it finished any), so the note and the report show them, and raises again."""
    trained = Trained()
    if plan.missing and objective is None:
        raise ValueError(f"{len(plan.missing)} runs must be trained but no objective was given")
    try:
        if plan.missing and objective is not None:
            train_missing(study, plan, objective, log, trained, workers)
    except KeyboardInterrupt:
        ignore_interrupts_from_now()  # so that a second Ctrl-C does not cut the record short
        _store_unfinished(study, plan, trained)
        raise
    except WorkersEnded:
        _store_unfinished(study, plan, trained)
        raise
    confirmation = summarize_confirmation(plan, trained)
    if not _store(study, confirmation):
        log("the same result as the latest stored confirmation: not stored again")
    return confirmation


def _store_unfinished(study: optuna.Study, plan: ConfirmPlan, trained: Trained) -> None:
    # Failures alone add nothing to show: the record would hold only what the last one held.
    if trained.losses:
        _store(study, summarize_confirmation(plan, trained))


def _store(study: optuna.Study, confirmation: Confirmation) -> bool:
    """Store ``confirmation`` and show it in the study's note, unless the latest has its result."""
    stored = store_confirmation(study, confirmation)
    if stored:
        update_study_note(study)
    return stored
