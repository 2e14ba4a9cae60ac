import warnings

import optuna
import pytest

from search.study.samplers import GOOD_MOST, SAMPLERS, good_trials, make_sampler


def test_good_set_is_a_quarter_of_the_trials_at_most_fifty():
    assert [good_trials(n) for n in (1, 4, 5, 40, 199, 200, 1000)] == [1, 1, 2, 10, 50, 50, 50]
    assert good_trials(10_000) == GOOD_MOST


def test_every_sampler_builds_without_warnings_users_cannot_act_on():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        samplers = [make_sampler(name, 0) for name in SAMPLERS]
    assert [w for w in caught if issubclass(w.category, FutureWarning)] == []
    assert isinstance(samplers[0], optuna.samplers.TPESampler)


def test_unknown_sampler_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown sampler 'anneal'"):
        make_sampler("anneal", 0)
