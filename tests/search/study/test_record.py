"""The trial record: its key built once and parsed one way, and the typed reading of a trial."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState, create_trial

from search.study import record
from space.budget import Budget
from space.schedule import Schedule

HAND = Schedule(budget=Budget(), mults=(8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4))


def made(state: TrialState = TrialState.COMPLETE, value: float | None = 5.0, **attrs: object):
    return create_trial(state=state, value=value if state == TrialState.COMPLETE else None, user_attrs=attrs)


def test_a_key_names_schedule_and_seed_and_parses_back() -> None:
    key = record.trial_key(HAND, 3)
    assert key == "8,4,4,4,3,3,3,3,4,4,4,4@seed3"
    assert record.parse_trial_key(key) == (HAND.key, 3)


def test_a_queued_trial_carries_its_schedule_seed_and_why() -> None:
    attrs = record.queued_attrs(HAND, 1, baseline="hand-found")
    trial = made(TrialState.WAITING, **attrs)
    assert record.queued_mults(trial) == HAND.mults and record.known_mults(trial) == HAND.mults
    assert record.seed(trial) == 1 and record.baseline(trial) == "hand-found"
    assert record.key(trial) == record.trial_key(HAND, 1)
    assert record.RETRY_OF not in attrs
    assert record.queued_attrs(HAND, 1, retry_of=7)[record.RETRY_OF] == 7


def test_a_trained_trial_records_its_multipliers_per_layer_and_its_config() -> None:
    attrs = record.schedule_attrs(HAND, 0, params=123, config={"seed": 0})
    trial = made(**attrs)
    assert record.mults(trial) == HAND.mults and attrs["mlp_mult_l00"] == 8 and attrs["mlp_mult_l11"] == 4
    assert record.schedule_key(trial) == HAND.key and record.run_config(trial) == {"seed": 0}
    assert record.outcome(trial) == "complete"


def test_a_sampled_trial_before_its_schedule_takes_the_default_seed() -> None:
    trial = made(TrialState.RUNNING)
    assert record.seed(trial, 4) == 4 and record.key(trial) is None and record.known_mults(trial) is None


def test_what_counts_toward_the_target() -> None:
    key = record.trial_key(HAND, 0)
    assert record.counts(made(schedule_key=key))
    assert record.counts(made(TrialState.FAIL, outcome="diverged"))
    assert not record.counts(made(TrialState.FAIL, outcome="crashed"))
    assert not record.counts(made(repeat_of=2))
    assert record.holds(made(TrialState.WAITING, schedule_key=key), key)
    assert not record.holds(made(schedule_key=key, repeat_of=0), key)


def test_completed_and_at_seed_leave_out_repeats_failures_and_other_seeds() -> None:
    trials = [made(seed=0), made(seed=1), made(seed=0, repeat_of=0), made(TrialState.FAIL, seed=0)]
    for number, trial in enumerate(trials):
        trial.number = number
    assert [t.number for t in record.completed(trials)] == [0, 1]
    assert [t.number for t in record.at_seed(record.completed(trials), 0)] == [0]


def test_a_live_trial_is_read_the_same_way() -> None:
    study = optuna.create_study()
    study.enqueue_trial({}, user_attrs=record.queued_attrs(HAND, 2))
    trial = study.ask()
    assert record.queued_mults(trial) == HAND.mults and record.seed(trial) == 2


def test_of_two_trials_holding_one_key_the_lower_number_trains_it() -> None:
    key = record.trial_key(HAND, 0)
    first, second = made(TrialState.RUNNING, schedule_key=key), made(TrialState.RUNNING, schedule_key=key)
    first.number, second.number = 3, 4
    trials = [first, second]
    assert record.earlier_holder(trials, 4, key) is first
    assert record.earlier_holder(trials, 3, key) is None


def test_a_trial_says_why_it_exists() -> None:
    assert record.role(made(**record.queued_attrs(HAND, 0, baseline="hand-found")), 0) == "hand-found"
    uniform = Schedule.uniform(Budget())
    assert (
        record.role(made(**record.queued_attrs(uniform, 2, baseline="uniform")), 0)
        == "uniform at noise seed 2"
    )
    assert record.role(made(**record.queued_attrs(HAND, 0, retry_of=7)), 0) == "retry of 7"
    assert record.role(made(repeat_of=1), 0) == "repeat of 1"
    assert record.role(made(seed=0), 0) == "sampled"


def test_trials_still_choosing_are_earlier_running_ones_without_a_key() -> None:
    key = record.trial_key(HAND, 0)
    choosing, claimed, done, later = (
        made(TrialState.RUNNING),
        made(TrialState.RUNNING, schedule_key=key),
        made(TrialState.FAIL),
        made(TrialState.RUNNING),
    )
    for number, trial in enumerate([choosing, claimed, done, later]):
        trial.number = number
    assert record.still_choosing([choosing, claimed, done, later], 3) == [choosing]
