"""A trial's record: every attribute Hourglass stores with a trial, named once, read through typed
accessors and written through the functions here.

A trial trains one schedule at one seed; its key (``schedule@seedN``) is what must never be
trained twice. Queued trials (baselines, retries) carry their schedule before they start; sampled
ones get it when the space suggests it. ``outcome`` says how a trial ended, ``reason`` why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from space.schedule import Schedule
from space.spaces import layer_param_name

MLP_MULTS = "mlp_mults"
SCHEDULE_KEY = "schedule_key"
SEED = "seed"
BASELINE = "baseline"
QUEUED_MULTS = "queued_mults"
REPEAT_OF = "repeat_of"
RETRY_OF = "retry_of"
OUTCOME = "outcome"
REASON = "reason"
CONFIG = "config"
PARAMS = "params"
VAL_LOSS = "val_loss"
VAL_BPB = "val_bpb"
PASSES = "passes"
TOKENS = "tokens"
TOKENS_PER_S = "tokens_per_s"
COMPILE_S = "compile_s"
SETUP_S = "setup_s"
EVAL_S = "eval_s"
FIRST_STEP_S = "first_step_s"  # from the run's start to its first step done: compiled, training
LOSS_CURVE = "loss_curve"
WALL_S = "wall_s"

_KEY_SEPARATOR = "@seed"

# Outcomes of a trial that count toward the target: the schedule got its answer (a loss, a
# pruning decision, or a deterministic failure that training it again would repeat).
COUNTED_FAILURES = frozenset({"diverged", "out_of_memory", "too_large", "error"})

AnyTrial = FrozenTrial | optuna.Trial


def trial_key(schedule: Schedule, seed: int) -> str:
    """What must never be trained twice: a schedule at a seed."""
    return f"{schedule.key}{_KEY_SEPARATOR}{seed}"


def parse_trial_key(key: str) -> tuple[str, int]:
    """(schedule key, seed) of a trial key."""
    schedule, _, seed = key.rpartition(_KEY_SEPARATOR)
    return schedule, int(seed)


def queued_attrs(
    schedule: Schedule, seed: int, baseline: str | None = None, retry_of: int | None = None
) -> dict[str, Any]:
    """The attributes a queued trial starts with: its schedule, seed and key, and why it was queued."""
    attrs: dict[str, Any] = {
        QUEUED_MULTS: list(schedule.mults),
        SEED: seed,
        SCHEDULE_KEY: trial_key(schedule, seed),
    }
    if baseline is not None:
        attrs[BASELINE] = baseline
    if retry_of is not None:
        attrs[RETRY_OF] = retry_of
    return attrs


def schedule_attrs(schedule: Schedule, seed: int, params: int, config: dict[str, Any]) -> dict[str, Any]:
    """The attributes of a trial whose schedule is known: multipliers (as a list and per layer),
    key, seed, parameter count and the resolved run config."""
    mults = list(schedule.mults)
    return {
        MLP_MULTS: mults,
        **{layer_param_name(i): m for i, m in enumerate(mults)},
        SCHEDULE_KEY: trial_key(schedule, seed),
        SEED: seed,
        PARAMS: params,
        CONFIG: config,
    }


def mults(trial: AnyTrial) -> tuple[int | float, ...]:
    """The multipliers the trial trained (or trains)."""
    return tuple(trial.user_attrs[MLP_MULTS])


def queued_mults(trial: AnyTrial) -> tuple[int | float, ...] | None:
    """The multipliers a queued trial was queued with; None for a sampled trial."""
    queued = trial.user_attrs.get(QUEUED_MULTS)
    return None if queued is None else tuple(queued)


def known_mults(trial: AnyTrial) -> tuple[int | float, ...] | None:
    """The trial's multipliers if they are known yet: trained, or queued."""
    found = trial.user_attrs.get(MLP_MULTS) or trial.user_attrs.get(QUEUED_MULTS)
    return None if found is None else tuple(found)


def seed(trial: AnyTrial, default: int | None = None) -> int:
    """The seed the trial trains at; ``default`` for a sampled trial whose schedule is not known yet."""
    found = trial.user_attrs.get(SEED, default)
    if found is None:
        raise KeyError(f"trial {trial.number} has no seed yet")
    return int(found)


def key(trial: AnyTrial) -> str | None:
    """The trial's key (``schedule@seedN``), or None before its schedule is known."""
    return trial.user_attrs.get(SCHEDULE_KEY)


def schedule_key(trial: AnyTrial) -> str:
    """The trial's schedule key, without the seed."""
    return parse_trial_key(trial.user_attrs[SCHEDULE_KEY])[0]


def baseline(trial: AnyTrial) -> str | None:
    """The baseline's name when the trial trains one, else None."""
    return trial.user_attrs.get(BASELINE)


def repeat_of(trial: AnyTrial) -> int | None:
    """The number of the earlier trial this one repeats (same key), or None."""
    return trial.user_attrs.get(REPEAT_OF)


def role(trial: AnyTrial, study_seed: int) -> str:
    """Why the trial exists: a baseline (at a noise seed when not at the study's), a repeat, a
    retry, or sampled."""
    if repeat_of(trial) is not None:
        return f"repeat of {repeat_of(trial)}"
    name = baseline(trial)
    at = seed(trial, study_seed)
    parts = [name if at == study_seed else f"{name} at noise seed {at}"] if name else []
    retried = trial.user_attrs.get(RETRY_OF)
    if retried is not None:
        parts.append(f"retry of {retried}")
    return ", ".join(parts) or "sampled"


def outcome(trial: FrozenTrial) -> str:
    """How the trial ended (complete, pruned, diverged, repeat, ...) or its state while it runs."""
    return trial.user_attrs.get(OUTCOME, trial.state.name.lower())


def passes(trial: FrozenTrial) -> float | None:
    """How many times the trial's training went over its training data, when its objective said."""
    return trial.user_attrs.get(PASSES)


def training_seconds(trial: FrozenTrial) -> float | None:
    """The trial's pure training time: its tokens at its steady rate, without start-up, compiling
    or evaluation; None when its objective did not say (a user's function)."""
    tokens, rate = trial.user_attrs.get(TOKENS), trial.user_attrs.get(TOKENS_PER_S)
    return tokens / rate if tokens and rate else None


def run_config(trial: FrozenTrial) -> dict[str, Any]:
    """The resolved run config the trial trained, as stored (JSON)."""
    return trial.user_attrs[CONFIG]


def counts(trial: FrozenTrial) -> bool:
    """Whether a trial counts toward ``--trials``: it trained its schedule to an answer."""
    if repeat_of(trial) is not None:
        return False
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and trial.user_attrs.get(OUTCOME) in COUNTED_FAILURES


def holds(trial: FrozenTrial, wanted: str) -> bool:
    """Whether a trial has trained, is training, or is queued to train the key ``wanted``."""
    if key(trial) != wanted or repeat_of(trial) is not None:
        return False
    return counts(trial) or trial.state in (TrialState.RUNNING, TrialState.WAITING)


def earlier_holder(trials: Sequence[FrozenTrial], number: int, wanted: str) -> FrozenTrial | None:
    """The first trial numbered below ``number`` that holds the key ``wanted``, if any. Only earlier
    trials count: two workers that propose one schedule at once then agree that the lower number
    trains it, where each yielding to the other would leave it untrained. That needs the lower one's
    key recorded before the higher one looks (:func:`still_choosing`)."""
    return next((t for t in trials if t.number < number and holds(t, wanted)), None)


def still_choosing(trials: Sequence[FrozenTrial], number: int) -> list[FrozenTrial]:
    """Trials numbered below ``number`` that are running but have not recorded their key yet: asked,
    their schedule still being drawn. One of them may be about to claim the same key."""
    return [t for t in trials if t.number < number and t.state == TrialState.RUNNING and key(t) is None]


def completed(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """Finished trials with a finite value, repeats of earlier trials left out."""
    return [
        t
        for t in trials
        if t.state == TrialState.COMPLETE
        and repeat_of(t) is None
        and t.value is not None
        and math.isfinite(t.value)
    ]


def at_seed(trials: Sequence[FrozenTrial], wanted: int) -> list[FrozenTrial]:
    """The trials trained at seed ``wanted`` (the study's seed: where schedules compete)."""
    return [t for t in trials if seed(t, wanted) == wanted]


def value(trial: FrozenTrial) -> float:
    """The final value of a trial known to be complete."""
    if trial.value is None:
        raise ValueError(f"trial {trial.number} has no value")
    return trial.value
