"""Creating or resuming a study, and queueing schedules to train.

A new study queues its baselines before any sampled trial: the reference schedule (uniform) at
``noise_seeds`` seeds and every other baseline at the study's seed.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.storages import BaseStorage

from search.study import record
from search.study.settings import StudySettings, store_settings, study_settings
from space.schedule import Schedule
from space.spaces import SearchSpace
from space.spec import SpaceSpec, baseline_schedules


def open_study(
    storage: BaseStorage,
    name: str,
    settings: StudySettings,
    space: SearchSpace,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
) -> tuple[optuna.Study, StudySettings, bool]:
    """The study ``name``, created with its baselines queued if new; (study, the settings its trials
    train with, created). A study resumed keeps the model and recipe it was created with.

    Raises ValueError, leaving the stored study untouched, when it exists with other settings.
    """
    try:
        study = optuna.create_study(
            study_name=name, storage=storage, sampler=sampler, pruner=pruner, direction="minimize"
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        return study, _stored_settings(study, settings), False
    store_settings(study, settings)
    enqueue_baselines(study, settings, space)
    return study, settings, True


def _stored_settings(study: optuna.Study, asked: StudySettings) -> StudySettings:
    stored = study_settings(study)
    check_resumable(study.study_name, stored, asked)
    return stored


def check_resumable(name: str, stored: StudySettings, asked: StudySettings) -> None:
    """Refuse, naming each difference, when ``asked`` would make study ``name`` another study."""
    conflicts = stored.conflicts(asked)
    if conflicts:
        shown = "; ".join(f"{path}: stored {old!r}, now {new!r}" for path, old, new in conflicts[:5])
        raise ValueError(
            f"study '{name}' was created with other settings ({shown}); "
            "run it with the same options, or start a new --study"
        )


def peek_settings(storage: BaseStorage | None, name: str) -> StudySettings | None:
    """The settings of study ``name`` if ``storage`` holds it, read without changing anything."""
    if storage is None or name not in optuna.get_all_study_names(storage):
        return None
    return study_settings(optuna.load_study(study_name=name, storage=storage))


def baseline_runs(spec: SpaceSpec, space: SearchSpace, seed: int) -> list[tuple[str, Schedule, int]]:
    """The baselines a new study queues, in order, each with the seed it trains at: the first
    (reference) one at every noise seed from ``seed``, the others once at ``seed``."""
    runs = []
    for index, (name, schedule) in enumerate(baseline_schedules(spec, space)):
        seeds = range(seed, seed + spec.noise_seeds) if index == 0 else [seed]
        runs += [(name, schedule, run_seed) for run_seed in seeds]
    return runs


def enqueue_baselines(study: optuna.Study, settings: StudySettings, space: SearchSpace) -> None:
    """Queue the baselines (:func:`baseline_runs`), each with its record."""
    for name, schedule, run_seed in baseline_runs(settings.space, space, settings.base.seed):
        enqueue_schedule(study, space, schedule, record.queued_attrs(schedule, run_seed, baseline=name))


def enqueue_schedule(
    study: optuna.Study, space: SearchSpace, schedule: Schedule, attrs: dict[str, Any]
) -> None:
    """Queue one schedule with its attributes (``record.queued_attrs``: its seed, and a baseline's
    name or the trial it retries); the sampler sees it as its parameters where it can."""
    study.enqueue_trial(space.params_for(schedule) or {}, user_attrs=attrs, skip_if_exists=False)
