"""Creating or resuming a study: its settings, its baselines, and which trials count.

A study's settings (preset, space, objective, the base run with data and seed) are stored with
it when it is created; resuming with different settings is refused, so every trial of a study
is comparable. A new study queues its baselines before any sampled trial: the reference
schedule (uniform) at ``noise_seeds`` seeds and every other baseline at the study's seed.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState
from pydantic import BaseModel, ConfigDict

from search.config import RunConfig
from space.schedule import Schedule
from space.spaces import SearchSpace
from space.spec import SpaceSpec, baseline_schedules

SETTINGS_ATTR = "hourglass_settings"

# Outcomes of a trial that count toward the target: the schedule got its answer (a loss, a
# pruning decision, or a deterministic failure that training it again would repeat).
COUNTED_FAILURES = frozenset({"diverged", "out_of_memory", "too_large", "error"})


class StudySettings(BaseModel):
    """What makes trials of one study comparable; stored with the study when it is created."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: str
    space: SpaceSpec
    objective: str
    base: RunConfig

    def comparable(self) -> dict[str, Any]:
        """The settings without what may change between runs of a study (code commit, version)."""
        data = self.model_dump(mode="json")
        provenance = data["base"].get("provenance") or {}
        for key in ("commit", "hourglass_version"):
            provenance.pop(key, None)
        return data


def open_study(
    storage: BaseStorage,
    name: str,
    settings: StudySettings,
    space: SearchSpace,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
) -> tuple[optuna.Study, bool]:
    """The study ``name``, created with its baselines queued if new; (study, created).

    Raises ValueError, leaving the stored study untouched, when it exists with other settings.
    """
    try:
        study = optuna.create_study(
            study_name=name, storage=storage, sampler=sampler, pruner=pruner, direction="minimize"
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        _check_same_settings(study, settings)
        return study, False
    study.set_user_attr(SETTINGS_ATTR, settings.model_dump(mode="json"))
    enqueue_baselines(study, settings, space)
    return study, True


def _check_same_settings(study: optuna.Study, settings: StudySettings) -> None:
    stored_data = study.user_attrs.get(SETTINGS_ATTR)
    if stored_data is None:
        raise ValueError(f"study '{study.study_name}' was not made by Hourglass; choose another --study")
    stored = StudySettings.model_validate(stored_data).comparable()
    wanted = settings.comparable()
    differences = sorted(_differences(stored, wanted))
    if differences:
        shown = "; ".join(f"{path}: stored {old!r}, now {new!r}" for path, old, new in differences[:5])
        raise ValueError(
            f"study '{study.study_name}' was created with other settings ({shown}); "
            "run it with the same options, or start a new --study"
        )


def _differences(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new)):
            found += _differences(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        return found
    return [] if old == new else [(path, old, new)]


def enqueue_baselines(study: optuna.Study, settings: StudySettings, space: SearchSpace) -> None:
    """Queue the baselines: the first (reference) one at every noise seed, the others once."""
    seed = settings.base.seed
    for index, (name, schedule) in enumerate(baseline_schedules(settings.space, space)):
        seeds = range(seed, seed + settings.space.noise_seeds) if index == 0 else [seed]
        for run_seed in seeds:
            enqueue_schedule(study, space, schedule.mults, run_seed, {"baseline": name})


def enqueue_schedule(
    study: optuna.Study,
    space: SearchSpace,
    mults: tuple[int | float, ...],
    seed: int,
    extra_attrs: dict[str, Any],
) -> None:
    """Queue one schedule at one seed; the sampler sees it as its parameters where it can."""
    schedule = Schedule(budget=space.budget, mults=mults)
    params = space.params_for(schedule)
    key = trial_key(schedule.key, seed)
    attrs = {**extra_attrs, "queued_mults": list(mults), "seed": seed, "schedule_key": key}
    study.enqueue_trial(params or {}, user_attrs=attrs, skip_if_exists=False)


def trial_key(schedule_key: str, seed: int) -> str:
    """What must never be trained twice: a schedule at a seed."""
    return f"{schedule_key}@seed{seed}"


def counts(trial: FrozenTrial) -> bool:
    """Whether a trial counts toward ``--trials``: it trained its schedule to an answer."""
    attrs = trial.user_attrs
    if "repeat_of" in attrs:
        return False
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and attrs.get("outcome") in COUNTED_FAILURES


def holds(trial: FrozenTrial, key: str) -> bool:
    """Whether a trial has trained, is training, or is queued to train ``key``."""
    if trial.user_attrs.get("schedule_key") != key or "repeat_of" in trial.user_attrs:
        return False
    return counts(trial) or trial.state in (TrialState.RUNNING, TrialState.WAITING)


def study_settings(study: optuna.Study) -> StudySettings:
    """The settings a study was created with."""
    data = study.user_attrs.get(SETTINGS_ATTR)
    if data is None:
        raise ValueError(f"study '{study.study_name}' was not made by Hourglass")
    return StudySettings.model_validate(data)
