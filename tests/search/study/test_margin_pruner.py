import math
from typing import Any

import optuna
import pytest

from search.study import record
from search.study.margin_pruner import MarginPruner

STEP = 200
# Checkpoint losses and how much each trial gained from there to its end.
CHECKPOINT = [2.0, 2.1, 2.2, 2.3, 2.4, 2.5]
GAIN = [1.0, 1.2, 0.8, 1.1, 0.9, 1.0]
T_975_5DF = 2.570582  # Student's t, one-sided 97.5%, 5 degrees of freedom


def study_of(pruner: optuna.pruners.BasePruner, checkpoint: list[float], gain: list[float]) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(pruner=pruner)
    for loss, gained in zip(checkpoint, gain, strict=True):
        trial = study.ask()
        trial.report(loss, STEP)
        study.tell(trial, loss - gained)
    return study


def pruned_at(study: optuna.Study, loss: float, step: int = STEP) -> bool:
    trial = study.ask()
    trial.report(loss, step)
    return trial.should_prune()


def expected_bound() -> float:
    finals = sorted(c - g for c, g in zip(CHECKPOINT, GAIN, strict=True))
    median = (finals[2] + finals[3]) / 2
    mean_gain = sum(GAIN) / len(GAIN)
    sd_gain = math.sqrt(sum((g - mean_gain) ** 2 for g in GAIN) / (len(GAIN) - 1))
    return median + mean_gain + T_975_5DF * sd_gain * math.sqrt(1 + 1 / len(GAIN))


def test_a_trial_is_pruned_only_beyond_the_catching_up_the_finished_trials_showed():
    study = study_of(MarginPruner(start=STEP), CHECKPOINT, GAIN)
    bound = expected_bound()
    assert bound == pytest.approx(MarginPruner(start=STEP).bound(study.get_trials(), STEP))
    assert not pruned_at(study, bound - 1e-6)
    assert pruned_at(study, bound + 1e-6)


def test_where_the_checkpoint_ranks_poorly_it_keeps_what_the_median_pruner_stops():
    # The finished trials' ranks swap between the checkpoint and the end (gains 0.5 to 1.5).
    checkpoint, gain = [2.0, 2.2, 2.4, 2.6, 2.8, 3.0], [0.5, 1.5, 0.7, 1.3, 0.9, 1.6]
    margin = study_of(MarginPruner(start=STEP), checkpoint, gain)
    median = study_of(optuna.pruners.MedianPruner(n_startup_trials=5), checkpoint, gain)
    assert pruned_at(median, 2.7) and not pruned_at(margin, 2.7)
    assert pruned_at(margin, 9.0)


def test_nothing_is_pruned_before_its_start_or_before_enough_trials_finished():
    study = study_of(MarginPruner(start=STEP), CHECKPOINT, GAIN)
    assert not pruned_at(study, 9.0, step=STEP - 1)
    few = study_of(MarginPruner(start=STEP, min_trials=7), CHECKPOINT, GAIN)
    assert not pruned_at(few, 9.0)


def test_repeats_and_trials_without_the_step_do_not_count_toward_the_judgment():
    study = study_of(MarginPruner(start=STEP, min_trials=6), CHECKPOINT[:5], GAIN[:5])
    repeat = study.ask()
    repeat.set_user_attr(record.REPEAT_OF, 0)
    study.tell(repeat, 1.0)
    elsewhere = study.ask()
    elsewhere.report(2.0, STEP + 1)
    study.tell(elsewhere, 1.0)
    assert not pruned_at(study, 9.0)


def test_a_non_finite_checkpoint_is_pruned_at_once():
    study = study_of(MarginPruner(start=STEP), CHECKPOINT[:2], GAIN[:2])
    assert pruned_at(study, float("nan"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"min_trials": 2}, "min_trials must be 3 or more"), ({"confidence": 1.0}, "confidence must lie")],
)
def test_settings_that_measure_no_spread_are_refused(kwargs: dict[str, Any], message: str):
    with pytest.raises(ValueError, match=message):
        MarginPruner(start=0, **kwargs)
