"""The runner's claim on a schedule: a trial decides whether it repeats an earlier one only once
the earlier trials have recorded which schedule they train."""

from __future__ import annotations

import threading
import time

import optuna

from search.study import record
from search.trials.liveness import WorkerIdentity
from search.trials.runner import trials_once_chosen
from space.budget import Budget
from space.schedule import Schedule

HAND = Schedule(budget=Budget(), mults=(8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4))


def test_a_later_trial_waits_for_an_earlier_one_still_choosing_and_yields_to_its_claim() -> None:
    study = optuna.create_study()
    earlier, later = study.ask(), study.ask()
    key = record.trial_key(HAND, 0)
    later.set_user_attr(record.SCHEDULE_KEY, key)
    # The earlier trial's worker records the same schedule a moment after the later one looked.
    claim = threading.Timer(0.3, earlier.set_user_attr, (record.SCHEDULE_KEY, key))
    claim.start()
    logged: list[str] = []
    started = time.monotonic()
    trials = trials_once_chosen(study, later.number, WorkerIdentity.current(), logged.append)
    claim.join()
    assert time.monotonic() - started >= 0.3 and not logged
    holder = record.earlier_holder(trials, later.number, key)
    assert holder is not None and holder.number == earlier.number


def test_an_earlier_trial_that_never_chooses_is_waited_for_only_so_long_and_that_is_logged() -> None:
    study = optuna.create_study()
    silent, later = study.ask(), study.ask()
    logged: list[str] = []
    started = time.monotonic()
    trials = trials_once_chosen(study, later.number, WorkerIdentity.current(), logged.append, wait_s=0.2)
    assert 0.2 <= time.monotonic() - started < 5
    assert [t.number for t in trials] == [silent.number, later.number]
    assert len(logged) == 1 and f"trial(s) {silent.number} still drawing a schedule" in logged[0]
