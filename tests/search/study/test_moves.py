import math

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution

from search.study import record
from search.study.moves import (
    MAX_RADIUS,
    SHRINK_AFTER,
    START_RADIUS,
    Grid,
    History,
    MoveSampler,
    expected_improvement,
    neighbours,
    trust_radius,
)
from search.study.opening import enqueue_schedule
from search.study.samplers import make_sampler
from search.study.schedule_model import predict
from space.budget import Budget
from space.schedule import Schedule
from space.spaces import CompositionSpace, HourglassSpace, layer_param_name
from space.spec import HAND_FOUND

BUDGET = Budget()
SPACE = CompositionSpace(BUDGET)
UNIFORM = (4,) * 12
WHOLE = Grid(step=1.0, low=1, high=16, whole=True)
TARGET = np.array([9, 6, 5, 4, 3, 3, 3, 3, 3, 3, 3, 3])


def loss(mults: tuple[int | float, ...]) -> float:
    """Smooth in the cumulative shape, lowest at TARGET."""
    return float((np.cumsum(np.array(mults) - TARGET)[[0, 3, 7]] ** 2).sum())


def queue(
    study: optuna.Study, space: CompositionSpace, mults: tuple[int | float, ...], seed: int = 0
) -> None:
    """Queue ``mults`` as search.run queues a schedule: its parameters and its record."""
    schedule = Schedule(budget=space.budget, mults=mults)
    enqueue_schedule(study, space, schedule, record.queued_attrs(schedule, seed=seed))


def study_with_baselines(seed: int = 0, space: CompositionSpace = SPACE) -> optuna.Study:
    """A study whose queued baselines (uniform, hand-found) are trained and told, as search.run starts."""
    study = optuna.create_study(sampler=MoveSampler(0, seed=seed))
    for mults in (UNIFORM, HAND_FOUND):
        queue(study, space, mults)
    for _ in range(2):
        trial = study.ask()
        study.tell(trial, loss(space.suggest(trial).mults))
    return study


def moved_units(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) // 2


def test_first_proposal_moves_at_most_the_start_radius_from_the_best_baseline():
    study = study_with_baselines()
    trial = study.ask()
    proposed = SPACE.suggest(trial).mults
    assert 1 <= moved_units(proposed, HAND_FOUND) <= START_RADIUS
    # the proposal is the sampler's own joint one, already a valid schedule
    assert trial.relative_params == {layer_param_name(i): m for i, m in enumerate(proposed)}


def test_a_study_improves_on_its_baselines_and_never_proposes_a_schedule_twice():
    study = study_with_baselines(seed=3)
    seen = {UNIFORM, HAND_FOUND}
    for _ in range(40):
        trial = study.ask()
        mults = SPACE.suggest(trial).mults
        assert mults not in seen
        seen.add(mults)
        study.tell(trial, loss(mults))
    assert study.best_value < 0.25 * loss(HAND_FOUND)


def test_trials_asked_before_any_is_told_are_all_different():
    for workers in (2, 8):
        study = study_with_baselines(seed=workers)
        asked = [study.ask() for _ in range(workers)]
        proposed = {SPACE.suggest(trial).mults for trial in asked}
        assert len(proposed) == workers and not proposed & {UNIFORM, HAND_FOUND}


def test_a_pending_schedule_is_not_proposed_again():
    alone = study_with_baselines(seed=5)
    first = SPACE.suggest(alone.ask()).mults
    # The same history and seed, but with that schedule running in another worker.
    busy = study_with_baselines(seed=5)
    queue(busy, SPACE, first)
    SPACE.suggest(busy.ask())
    busy.sampler = MoveSampler(0, seed=5)
    assert SPACE.suggest(busy.ask()).mults != first


def test_pending_schedules_count_at_the_models_prediction_which_lowers_their_improvement():
    study = study_with_baselines()
    for _ in range(10):
        trial = study.ask()
        study.tell(trial, loss(SPACE.suggest(trial).mults))
    names = [layer_param_name(i) for i in range(12)]
    told = History.read(study.get_trials(deepcopy=False), names, WHOLE, asking=-1, study_seed=0)
    best = tuple(int(u) for u in told.units[int(np.argmin(told.values))])
    near = neighbours(np.array(best), 1, 1, 16, 0, np.random.default_rng(0))
    pending = History(told.units, told.values, told.competing, told.outcomes, [tuple(near[0])], told.tried)
    fit = told.model()
    assert fit is not None
    without, with_lie = told.improvement(fit, near), pending.improvement(fit, near)
    assert with_lie[0] < 0.8 * without[0]
    # the lie is the model's own prediction there (kriging believer), not a value of the trials
    lie = predict(told.units, told.values, fit, near[:1])[0]
    mean, sd = predict(np.vstack([told.units, near[:1]]), np.concatenate([told.values, lie]), fit, near)
    incumbent = predict(told.units, told.values, fit, told.units)[0].min()
    np.testing.assert_allclose(with_lie, expected_improvement(mean, sd, incumbent))


def test_queued_trials_not_yet_run_are_pending_with_their_parameters():
    study = study_with_baselines()
    queue(study, SPACE, tuple(TARGET))
    names = [layer_param_name(i) for i in range(12)]
    history = History.read(study.get_trials(deepcopy=False), names, WHOLE, asking=-1, study_seed=0)
    assert history.pending == [tuple(TARGET)] and tuple(TARGET) in history.tried
    assert [queued for _, queued in history.outcomes] == [True, True]


def test_a_repeat_is_a_finished_trial_but_not_a_second_measurement():
    """A repeat reuses its earlier trial's loss: counted as a measurement, its zero spread would
    tell the model the study has no noise."""
    study = study_with_baselines()
    trial = study.ask()
    trial.set_user_attr(record.REPEAT_OF, 0)
    study.tell(trial, loss(SPACE.suggest(trial).mults))
    names = [layer_param_name(i) for i in range(12)]
    history = History.read(study.get_trials(deepcopy=False), names, WHOLE, asking=-1, study_seed=0)
    assert len(history.values) == 2 and len(history.outcomes) == 3


def test_losses_at_a_noise_seed_feed_the_model_but_are_never_the_loss_to_beat():
    """Uniform at a lucky noise seed (1) is no better schedule than at the study's seed (0): the
    incumbent is the lowest loss at seed 0, and a sampled trial below it there is a success."""
    study = optuna.create_study(sampler=MoveSampler(0, seed=0))
    for mults, seed in ((UNIFORM, 0), (UNIFORM, 1), (HAND_FOUND, 0)):
        queue(study, SPACE, mults, seed)
    for told in (5.0, 3.0, 4.0):  # uniform at seed 1 is lowest
        trial = study.ask()
        SPACE.suggest(trial)
        study.tell(trial, told)
    names = [layer_param_name(i) for i in range(12)]
    history = History.read(study.get_trials(deepcopy=False), names, WHOLE, asking=-1, study_seed=0)
    assert len(history.values) == 3 and history.competing.tolist() == [True, False, True]
    assert history.outcomes == [(5.0, True), (4.0, True)]
    assert tuple(history.incumbent(history.model())) == HAND_FOUND
    proposed = study.ask()
    assert moved_units(SPACE.suggest(proposed).mults, HAND_FOUND) <= START_RADIUS
    # every layer of a noise seed's run is known, so the sampler never proposes uniform again
    assert UNIFORM in history.tried
    # the study's seed decides: the same trials read at seed 1 compare uniform's 3.0 alone
    at_one = History.read(
        study.get_trials(deepcopy=False), names, WHOLE, asking=proposed.number, study_seed=1
    )
    assert at_one.outcomes == [(3.0, True)] and tuple(at_one.incumbent(at_one.model())) == UNIFORM


def test_trust_radius_grows_on_successes_and_shrinks_on_failures():
    baselines = [(10.0, True), (8.0, True)]
    assert trust_radius(baselines) == START_RADIUS
    assert trust_radius([*baselines, (7.0, False), (6.0, False)]) == 2 * START_RADIUS
    assert trust_radius([*baselines, *[(9.0, False)] * SHRINK_AFTER]) == START_RADIUS // 2
    # a pruned trial (infinite loss) is a failure; a queued one never counts
    assert trust_radius([*baselines, *[(math.inf, False)] * SHRINK_AFTER]) == START_RADIUS // 2
    assert trust_radius([*baselines, *[(9.0, True)] * SHRINK_AFTER]) == START_RADIUS
    assert trust_radius([*baselines, *[(9.0, False)] * 100]) == 1
    wins = [(float(-k), False) for k in range(100)]
    assert trust_radius([*baselines, *wins]) == MAX_RADIUS


def test_neighbours_keep_the_budget_and_bounds_and_include_every_single_move():
    start = np.array(HAND_FOUND)
    rows = neighbours(start, 3, 3, 8, 500, np.random.default_rng(0))
    assert (rows.sum(axis=1) == start.sum()).all()
    assert rows.min() >= 3 and rows.max() <= 8
    assert (np.abs(rows - start).sum(axis=1) // 2 <= 3).all()
    assert len({tuple(r) for r in rows}) == len(rows) and not (rows == start).all(axis=1).any()
    singles = {tuple(r) for r in rows if np.abs(r - start).sum() == 2}
    # the 8 gives to any of 11 layers, each of the seven 4s to any of 10 (not the 8, at the top)
    assert len(singles) == 11 + 7 * 10


def test_quarter_steps_move_a_quarter_at_a_time():
    space = CompositionSpace(Budget(granularity=4))
    study = study_with_baselines(space=space)
    proposed = space.suggest(study.ask()).mults
    assert sum(proposed) == 48 and all((4 * m) % 1 == 0 for m in proposed)
    assert 0 < sum(abs(a - b) for a, b in zip(proposed, HAND_FOUND, strict=True)) / 2 <= START_RADIUS / 4


def test_a_study_without_baselines_starts_from_a_random_schedule_then_moves_from_it():
    study = optuna.create_study(sampler=make_sampler("moves", 0, study_seed=0))
    first = SPACE.suggest(study.ask()).mults
    study.tell(study.trials[0].number, loss(first))
    second_trial = study.ask()
    second = SPACE.suggest(second_trial).mults
    assert 1 <= moved_units(second, first) <= START_RADIUS
    assert set(study.sampler.infer_relative_search_space(study, study.trials[-1])) == set(second_trial.params)


def test_other_spaces_are_refused_by_name():
    space = HourglassSpace(BUDGET)
    study = optuna.create_study(sampler=MoveSampler(0, seed=0))
    trial = study.ask()
    space.suggest(trial)
    study.tell(trial, 1.0)
    with pytest.raises(ValueError, match="composition space"):
        space.suggest(study.ask())


def test_every_schedule_near_the_best_tried_widens_the_region_then_says_so(caplog):
    # A budget of 3 layers, each 1..2, sum 5: only three schedules exist.
    space = CompositionSpace(Budget(n_layers=3, total=5, min_mult=1, max_mult=2))
    study = optuna.create_study(sampler=MoveSampler(0, seed=0))
    queue(study, space, (2, 2, 1))
    trial = study.ask()
    study.tell(trial, loss_small(space.suggest(trial).mults))
    for _ in range(2):
        trial = study.ask()
        study.tell(trial, loss_small(space.suggest(trial).mults))
    assert {tuple(t.params.values()) for t in study.trials} == {(2, 2, 1), (2, 1, 2), (1, 2, 2)}
    with caplog.at_level("WARNING"):
        space.suggest(study.ask())
    assert "has been tried" in caplog.text


def loss_small(mults: tuple[int | float, ...]) -> float:
    return float(mults[0] - mults[2])


def test_the_grid_is_the_layers_common_step_and_range_in_units():
    quarter = FloatDistribution(0.25, 4.0, step=0.25)
    assert Grid.of({"a": IntDistribution(1, 16), "b": IntDistribution(1, 16)}) == WHOLE
    grid = Grid.of({"a": quarter, "b": quarter})
    assert grid == Grid(step=0.25, low=1, high=16, whole=False)
    assert grid.units({"a": 1.5, "b": 0.75}, ["a", "b"]) == (6, 3)
    assert grid.params(["a", "b"], np.array([6, 3])) == {"a": 1.5, "b": 0.75}
    with pytest.raises(ValueError, match="one step and range"):
        Grid.of({"a": IntDistribution(1, 16), "b": IntDistribution(1, 8)})
    with pytest.raises(ValueError, match="whole steps"):
        Grid.of({"a": FloatDistribution(1.0, 16.0)})
