"""The dashboard's note and figures, rewritten from a thread of their own after each trial."""

from __future__ import annotations

import optuna
import pytest
from optuna_dashboard import get_note

from search.trials.upkeep import FIGURES_EVERY, DashboardUpkeep
from tests.search.findings.test_candidates import small_study

TOKENS_PER_STEP = 32_768


def _study() -> tuple[optuna.Study, optuna.storages.InMemoryStorage]:
    """The findings tests' small study, in a storage this test can read the dashboard's data from."""
    source = small_study()
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, study_name="upkeep")
    for key, value in source.user_attrs.items():
        study.set_user_attr(key, value)
    study.add_trials(source.get_trials())
    return study, storage


def _figures(storage: optuna.storages.InMemoryStorage) -> list[str]:
    attrs = storage.get_study_system_attrs(storage.get_study_id_from_name("upkeep"))
    return sorted({key.split(":")[2] for key in attrs if key.startswith("dashboard:plot_data:")})


def test_the_note_shows_the_trials_once_the_worker_ends() -> None:
    study, storage = _study()
    upkeep = DashboardUpkeep(study, TOKENS_PER_STEP)
    upkeep.after(4)
    upkeep.close(print)
    note = get_note(study)
    assert "Hourglass study" in note and "trials counted | 5" in note
    assert _figures(storage) == []  # trial 4: not a figures' turn


def test_the_figures_are_rewritten_every_tenth_trial() -> None:
    study, storage = _study()
    upkeep = DashboardUpkeep(study, TOKENS_PER_STEP)
    upkeep.after(FIGURES_EVERY)
    upkeep.close(print)
    assert _figures(storage) == ["loss-curves", "schedules"]


def test_a_failed_rewrite_is_raised_by_the_next_trial_and_logged_at_the_end() -> None:
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, study_name="gone")
    upkeep = DashboardUpkeep(study, TOKENS_PER_STEP)
    optuna.delete_study(study_name="gone", storage=storage)  # every rewrite now fails
    upkeep.after(0)
    with pytest.raises(KeyError):
        upkeep.after(1)
    logged: list[str] = []
    upkeep.close(logged.append)
    assert len(logged) == 1 and "could not be rewritten" in logged[0] and "KeyError" in logged[0]
