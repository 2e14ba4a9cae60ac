import warnings
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution

from search.study.moves import MoveSampler
from search.study.samplers import (
    GOOD_MOST,
    SAMPLERS,
    chosen_sampler,
    first_judged,
    good_trials,
    make_pruner,
    make_sampler,
)


class RecordingTPESampler(optuna.samplers.TPESampler):
    """Optuna's TPE sampler, unchanged, keeping the arguments it was built with."""

    def __init__(self, **arguments: Any) -> None:
        self.arguments = arguments
        super().__init__(**arguments)


def test_good_set_is_a_quarter_of_the_trials_at_most_fifty():
    assert [good_trials(n) for n in (1, 4, 5, 40, 199, 200, 1000)] == [1, 1, 2, 10, 50, 50, 50]
    assert good_trials(10_000) == GOOD_MOST


def test_tpe_is_built_with_the_broader_good_set_a_liar_and_the_seed(monkeypatch: pytest.MonkeyPatch):
    # Optuna keeps gamma private: what make_sampler hands the real sampler is the public trace of it.
    monkeypatch.setattr(optuna.samplers, "TPESampler", RecordingTPESampler)
    sampler = make_sampler("tpe", 7, study_seed=0)
    assert isinstance(sampler, RecordingTPESampler)
    gamma = sampler.arguments["gamma"]
    assert [gamma(n) for n in (1, 4, 5, 40, 199, 200, 1000)] == [1, 1, 2, 10, 50, 50, 50]
    assert sampler.arguments["constant_liar"] is True and sampler.arguments["seed"] == 7


@pytest.mark.parametrize("directions", [["minimize"], ["minimize", "minimize"]], ids=["single", "multi"])
def test_tpe_models_all_parameters_jointly(directions: list[str]):
    # Optuna is multivariate by default for one objective only: the multi-objective case tells an
    # explicit multivariate=True from the default.
    study = optuna.create_study(directions=directions, sampler=make_sampler("tpe", 0, study_seed=0))
    space = {"a": IntDistribution(1, 16), "b": FloatDistribution(0.0, 1.0), "c": IntDistribution(1, 16)}
    for value in range(3):
        study.tell(study.ask(space), [float(value)] * len(directions))
    joint = study.sampler.infer_relative_search_space(study, study.trials[-1])
    assert joint == space


def test_every_sampler_builds_without_warnings_users_cannot_act_on():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        samplers = [make_sampler(name, 0, study_seed=0) for name in SAMPLERS]
    assert [w for w in caught if issubclass(w.category, FutureWarning)] == []
    assert isinstance(samplers[0], MoveSampler)
    assert isinstance(samplers[1], optuna.samplers.TPESampler)


def test_unknown_sampler_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown sampler 'anneal'"):
        make_sampler("anneal", 0, study_seed=0)


def test_the_default_sampler_moves_width_on_the_composition_space_and_is_tpe_elsewhere():
    assert chosen_sampler(None, "composition") == "moves"
    assert chosen_sampler(None, "hourglass") == chosen_sampler(None, "ramp") == "tpe"
    assert chosen_sampler("cmaes", "composition") == "cmaes"
    with pytest.raises(ValueError, match="composition space, not ramp; choose from tpe, gp"):
        chosen_sampler("moves", "ramp")


def test_a_pruner_judges_neither_the_first_report_nor_one_inside_warm_up():
    assert first_judged([100, 200, 300], warmup_end=50) == 200
    assert first_judged([100, 200, 300], warmup_end=200) == 300
    assert first_judged([100, 200, 300], warmup_end=300) is None
    assert first_judged([100], warmup_end=0) is None


def finished_study(pruner: optuna.pruners.BasePruner, reports: list[int]) -> optuna.Study:
    """A study whose five finished trials reported losses 1.0 to 1.4 at every one of ``reports``,
    asking the pruner each time as the trainer does (Hyperband ranks only the trials that asked)."""
    study = optuna.create_study(pruner=pruner)
    for loss in (1.0, 1.1, 1.2, 1.3, 1.4):
        trial = study.ask()
        for step in reports:
            trial.report(loss, step)
            trial.should_prune()
        study.tell(trial, loss)
    return study


@pytest.mark.parametrize("name", ["margin", "median", "hyperband"])
def test_a_trial_far_worse_than_the_rest_is_pruned_first_where_judged(name: str):
    marks, warmup_end = [100, 200, 300, 400], 250
    study = finished_study(make_pruner(name, marks, warmup_end), marks[:-1])
    trial = study.ask()
    pruned_at = []
    for step in marks[:-1]:
        trial.report(9.0, step)
        pruned_at.append(trial.should_prune())
    assert pruned_at == [False, False, True]


@pytest.mark.parametrize("name", ["margin", "median", "hyperband", "none"])
def test_without_a_report_to_judge_nothing_is_pruned(name: str):
    assert isinstance(make_pruner(name, [100, 200], warmup_end=150), optuna.pruners.NopPruner)


def test_unknown_pruner_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown pruner 'asha'"):
        make_pruner("asha", [100, 200], warmup_end=0)
