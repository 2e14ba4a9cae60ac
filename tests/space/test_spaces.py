import random

import optuna
import pytest

from model.presets import PRESETS
from space.budget import Budget
from space.fit import fit_to_budget
from space.schedule import Schedule
from space.spaces import SPACES, CompositionSpace, HourglassSpace, RampSpace, layer_param_name, make_space
from tests.space.test_fit import random_valid_units

HAND = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)


def random_params(space, rng: random.Random, count: int = 1) -> list[dict]:
    """``count`` random parameter sets inside each parameter's fixed range."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=rng.randrange(2**31)))
    found = []
    for _ in range(count):
        trial = study.ask()
        space.suggest(trial)
        found.append(dict(trial.params))
    return found


def random_schedules(space_name: str, budget: Budget, count: int, seed: int = 0) -> list[Schedule]:
    """``count`` schedules from a space, through FixedTrial with random in-range parameters."""
    space = make_space(space_name, budget)
    all_params = random_params(space, random.Random(seed), count)
    return [space.suggest(optuna.trial.FixedTrial(params)) for params in all_params]


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("budget", [Budget(), Budget(min_mult=0), Budget(granularity=4), Budget(d_model=96)])
def test_every_suggestion_meets_the_budget(space_name, budget):
    for schedule in random_schedules(space_name, budget, 200):
        assert sum(schedule.units) == budget.total_units
        assert all(budget.min_mult <= m <= budget.max_mult for m in schedule.mults)
        assert all(w % budget.width_align == 0 for w in schedule.widths)


@pytest.mark.parametrize("space_name", list(SPACES))
def test_suggestions_are_deterministic(space_name):
    space = make_space(space_name, Budget())
    params = random_params(space, random.Random(3))[0]
    assert space.suggest(optuna.trial.FixedTrial(params)) == space.suggest(optuna.trial.FixedTrial(params))


@pytest.mark.parametrize("space_name", list(SPACES))
def test_parameter_names_and_ranges_are_fixed(space_name):
    """Whatever was suggested before, every trial asks the same parameters over the same ranges."""
    space = make_space(space_name, Budget())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = None
    for _ in range(30):
        trial = study.ask()
        space.suggest(trial)
        distributions = trial.distributions
        seen = seen or distributions
        assert distributions == seen
        study.tell(trial, 0.0)


@pytest.mark.parametrize("budget", [Budget(), Budget(min_mult=0), Budget(granularity=4), Budget(max_mult=6)])
def test_composition_reaches_every_valid_schedule(budget):
    space = CompositionSpace(budget)
    rng = random.Random(5)
    for _ in range(200):
        target = Schedule.from_units(budget, random_valid_units(budget, rng))
        params = space.params_for(target)
        assert space.suggest(optuna.trial.FixedTrial(params)) == target


def test_composition_parameters_are_named_by_layer_and_equal_the_multipliers():
    space = CompositionSpace(Budget())
    params = {layer_param_name(i): m for i, m in enumerate(HAND)}
    assert list(params)[:2] == ["mlp_mult_l00", "mlp_mult_l01"]
    assert space.suggest(optuna.trial.FixedTrial(params)).mults == HAND


def test_hourglass_shape():
    space = HourglassSpace(Budget())
    params = {"first_mult": 8.0, "waist_mult": 2.0, "last_mult": 8.0, "waist_start": 4, "waist_end": 7}
    mults = space.suggest(optuna.trial.FixedTrial(params)).mults
    assert mults[0] == max(mults) and mults[5] == min(mults)
    assert mults[4:8] == (mults[4],) * 4
    # reversed waist bounds describe the same hourglass
    swapped = params | {"waist_start": 7, "waist_end": 4}
    assert space.suggest(optuna.trial.FixedTrial(swapped)).mults == mults


def test_ramp_grows_or_shrinks_linearly():
    space = RampSpace(Budget())
    growing = space.suggest(optuna.trial.FixedTrial({"first_mult": 1.0})).mults
    shrinking = space.suggest(optuna.trial.FixedTrial({"first_mult": 7.0})).mults
    assert list(growing) == sorted(growing) and growing[0] < growing[-1]
    assert list(shrinking) == sorted(shrinking, reverse=True)
    assert space.suggest(optuna.trial.FixedTrial({"first_mult": 4.0})).mults == (4,) * 12


@pytest.mark.parametrize("space_name", list(SPACES))
def test_uniform_is_in_every_family_and_round_trips(space_name):
    space = make_space(space_name, Budget())
    uniform = Schedule.uniform(Budget())
    params = space.params_for(uniform)
    assert params is not None
    assert space.schedule_from_params(params) == uniform


def test_hand_found_schedule_is_only_in_the_composition_family():
    hand = Schedule(budget=Budget(), mults=HAND)
    assert CompositionSpace(Budget()).params_for(hand) is not None
    assert RampSpace(Budget()).params_for(hand) is None


def test_unknown_space_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown space 'spiral'; choose from composition, hourglass, ramp"):
        make_space("spiral", Budget())


def test_hourglass_needs_three_layers():
    with pytest.raises(ValueError, match="at least 3 layers"):
        HourglassSpace(Budget(n_layers=2))


@pytest.mark.parametrize("preset", list(PRESETS))
def test_spaces_work_over_every_preset_budget(preset):
    budget = PRESETS[preset].model.budget
    for name in SPACES:
        assert all(sum(s.units) == budget.total_units for s in random_schedules(name, budget, 20))


def _layer_params(trial) -> tuple:
    return tuple(trial.params[layer_param_name(i)] for i in range(len(trial.params)))


def _score(schedule: Schedule) -> float:
    return float(sum((m - h) ** 2 for m, h in zip(schedule.mults, HAND, strict=True)))


@pytest.mark.parametrize("sampler", ["tpe", "gp", "cmaes"])
@pytest.mark.parametrize("budget", [Budget(), Budget(granularity=2)])
def test_joint_proposals_are_recorded_as_the_schedule_they_give(sampler, budget):
    """Model-based samplers learn from the schedules trained, not from the raw vectors."""
    from search.study.samplers import make_sampler

    space = CompositionSpace(budget)
    study = optuna.create_study(sampler=make_sampler(sampler, 0, study_seed=0))
    fitted_first = 0
    for number in range(14 if sampler != "gp" else 12):
        trial = study.ask()
        schedule = space.suggest(trial)
        assert space.suggest(trial) == schedule  # asking again changes nothing
        recorded = _layer_params(trial)
        # whatever was recorded, the schedule is what these parameters give (FixedTrial agrees)
        assert space.schedule_from_params(trial.params) == schedule
        if trial.relative_params:
            assert recorded == schedule.mults
            fitted_first += 1
        study.tell(trial, _score(schedule))
        frozen = study.trials[number]
        assert frozen.params == trial.params
    assert fitted_first >= 2  # the samplers' joint phase was reached and checked


@pytest.mark.parametrize("sampler", ["random", "tpe", "gp", "cmaes"])
@pytest.mark.parametrize("budget", [Budget(), Budget(granularity=2)])
def test_draws_made_one_at_a_time_are_fitted_before_they_are_recorded(sampler, budget):
    """Random search and the samplers' first trials record the multipliers trained, not raw draws."""
    from search.study.samplers import make_sampler

    space = CompositionSpace(budget)
    study = optuna.create_study(sampler=make_sampler(sampler, 1, study_seed=0))
    for _ in range(6):
        trial = study.ask()
        schedule = space.suggest(trial)
        assert _layer_params(trial) == schedule.mults and sum(schedule.mults) == budget.total
        study.tell(trial, _score(schedule))
    schedules = {tuple(_layer_params(t)) for t in study.trials}
    assert len(schedules) == 6  # still random draws, not one fixed schedule


def test_the_same_draws_as_one_at_a_time():
    """Drawing up front takes the sampler's own draws: the schedules are those the raw draws fit to."""
    names = [layer_param_name(i) for i in range(12)]
    raw = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=5))
    trial = raw.ask()
    drawn = [trial.suggest_int(name, 1, 16) for name in names]
    space = CompositionSpace(Budget())
    fitted = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=5))
    expected = Schedule.from_units(Budget(), fit_to_budget([float(d) for d in drawn], Budget()))
    assert space.suggest(fitted.ask()) == expected


def test_queued_schedules_keep_their_parameters_in_the_joint_phase(tmp_path):
    """As the product queues baselines: ``enqueue_trial(params_for(...))`` on a journal file."""
    from search.study.samplers import make_sampler

    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "studies.db"))
    )
    space = CompositionSpace(Budget())
    study = optuna.create_study(storage=storage, sampler=make_sampler("tpe", 0, study_seed=0))
    hand = Schedule(budget=Budget(), mults=HAND)
    for _ in range(12):
        trial = study.ask()
        study.tell(trial, _score(space.suggest(trial)))
    study.enqueue_trial(space.params_for(hand), user_attrs={"queued_mults": list(HAND)})
    queued = study.ask()
    assert space.suggest(queued) == hand and _layer_params(queued) == HAND
    study.tell(queued, 0.0)
    sampled = study.ask()
    schedule = space.suggest(sampled)
    study.tell(sampled, _score(schedule))
    stored = optuna.load_study(study_name=study.study_name, storage=storage).trials
    assert _layer_params(stored[12]) == HAND
    assert _layer_params(stored[13]) == schedule.mults


def test_fixed_trials_fit_whatever_they_are_given():
    space = CompositionSpace(Budget())
    raw = {layer_param_name(i): 16 for i in range(12)}
    assert space.suggest(optuna.trial.FixedTrial(raw)) == Schedule.uniform(Budget())
    doubled = {layer_param_name(i): 2 * m for i, m in enumerate(HAND)}
    assert space.suggest(optuna.trial.FixedTrial(doubled)).mults == HAND
