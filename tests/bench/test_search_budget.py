import json

import numpy as np
import optuna
import pytest

import bench.search_budget as search_budget
from bench.search import STUCK, make_problems
from bench.search_budget import (
    BudgetRun,
    Cell,
    baseline_regret,
    baselines,
    gap_in_sds,
    goals,
    main,
    observe,
    recommend,
    run_study,
)
from search.findings.recommend import recommend as product_recommendation
from space.budget import Budget
from space.spec import HAND_FOUND

PROBLEMS = {p.name: p for p in make_problems(0.03, Budget())}


def test_baselines_come_first_as_search_run_queues_them():
    assert baselines(Budget()) == [(4,) * 12] * 3 + [HAND_FOUND]


def test_after_the_baselines_alone_the_recommendation_is_the_best_baseline():
    problem = PROBLEMS["wide-first"]
    (regret,) = run_study(BudgetRun(problem, "random", 0, (4,))).regrets.values()
    assert regret == pytest.approx(baseline_regret(problem)) and regret > 0


def test_the_recommendation_never_gets_worse_without_noise_and_the_default_improves():
    problem = PROBLEMS["ramp"]
    found = run_study(BudgetRun(problem, "moves", 0, (4, 10, 30))).regrets
    assert found[4] >= found[10] >= found[30]
    assert found[30] < 0.1 * baseline_regret(problem)


class Repeating(optuna.samplers.RandomSampler):
    """Proposes the uniform schedule, forever."""

    def sample_independent(self, study, trial, param_name, param_distribution):
        return 4


@pytest.fixture
def created(monkeypatch) -> list[optuna.Study]:
    """Every study ``optuna.create_study`` makes during the test, in order."""
    studies: list[optuna.Study] = []
    real_create = optuna.create_study

    def recording(**kwargs):
        studies.append(real_create(**kwargs))
        return studies[-1]

    monkeypatch.setattr(optuna, "create_study", recording)
    return studies


def test_repeats_do_not_count_and_a_stuck_run_keeps_its_last_recommendation(monkeypatch, created):
    monkeypatch.setattr(search_budget, "make_sampler", lambda name, seed, study_seed: Repeating(seed=seed))
    problem = PROBLEMS["near-uniform"]
    result = run_study(BudgetRun(problem, "random", 0, (4, 50)))
    assert result.regrets[50] == result.regrets[4] == pytest.approx(baseline_regret(problem))
    assert len(created[0].trials) == 4 + STUCK == 4 + result.repeats


def test_several_workers_keep_that_many_trials_out_and_still_tell_the_baselines_first(created):
    problem = PROBLEMS["wide-first"]
    result = run_study(BudgetRun(problem, "moves", 0, (4, 20), workers=5))
    assert result.regrets[4] == pytest.approx(baseline_regret(problem))
    assert result.regrets[20] < result.regrets[4]
    trials = created[0].trials
    # the last trial told leaves the other four out
    assert sum(t.state == optuna.trial.TrialState.RUNNING for t in trials) == 4
    assert [t.state for t in trials[:4]] == [optuna.trial.TrialState.COMPLETE] * 4


def test_observations_are_noisy_once_per_seed_schedule_and_copy():
    noisy, clean = PROBLEMS["ramp +noise"], PROBLEMS["ramp"]
    uniform = (4,) * 12
    assert (
        observe(clean, 0, uniform, 0)
        == observe(clean, 0, uniform, 1)
        == clean.objective.values(np.array(uniform))[0]
    )
    assert observe(noisy, 0, uniform, 0) == observe(noisy, 0, uniform, 0)
    assert observe(noisy, 0, uniform, 0) != observe(noisy, 0, uniform, 1)
    assert observe(noisy, 0, uniform, 0) != observe(noisy, 1, uniform, 0)


def test_a_noise_seed_shifts_every_schedule_trained_at_it_alike_and_the_study_seed_none():
    noisy, clean = PROBLEMS["ramp +noise"], PROBLEMS["ramp"]
    uniform, other = (4,) * 12, (5,) + (4,) * 10 + (3,)

    def shift(mults: tuple[int, ...], copy: int, run_seed: int = 3) -> float:
        return observe(noisy, run_seed, mults, copy, 2.0) - observe(noisy, run_seed, mults, copy)

    assert shift(uniform, 0) == shift(other, 0) == 0.0
    assert shift(uniform, 1) == pytest.approx(shift(other, 1)) and shift(uniform, 1) != 0.0
    assert shift(uniform, 2) != pytest.approx(shift(uniform, 1))
    assert shift(uniform, 1, run_seed=4) != pytest.approx(shift(uniform, 1))
    draws = [shift(uniform, 1, run_seed) / noisy.noise_sd for run_seed in range(400)]
    assert np.std(draws) == pytest.approx(2.0, rel=0.15)
    assert observe(clean, 3, uniform, 1, 2.0) == observe(clean, 3, uniform, 1)


def test_the_recommendation_is_the_products_pick_with_the_baselines_marked():
    rng = np.random.default_rng(0)
    trained = baselines(Budget()) + [
        tuple(int(v) for v in row) for row in rng.permuted(np.tile(HAND_FOUND, (12, 1)), axis=1)
    ]
    observed = list(rng.normal(size=len(trained)))
    marked = np.arange(len(trained)) < 4
    found = product_recommendation(np.array(trained, dtype=float), np.array(observed), marked)
    assert recommend(trained, observed, 4) == trained[found.pick]
    by_regret = product_recommendation(
        np.array(trained, dtype=float), np.array(observed), marked, rule="expected-regret"
    )
    assert recommend(trained, observed, 4, "expected-regret") == trained[by_regret.pick]
    # below the model's minimum of trials, the lowest loss
    assert recommend(trained[:6], observed[:6], 4) == trained[int(np.argmin(observed[:6]))]


def test_goals_compare_medians_with_random_search_and_require_beating_baselines_only_past_the_gap():
    hand, near = PROBLEMS["hand-found +noise"], PROBLEMS["near-uniform +noise"]
    assert baseline_regret(hand) == 0 and gap_in_sds(hand) == 0
    assert gap_in_sds(near) == pytest.approx(baseline_regret(near) * near.spread / near.noise_sd)
    cells = {}
    for problem in (hand, near):
        beaten = baseline_regret(problem)
        cells[(problem.name, "moves", 50)] = Cell(problem, "moves", 50, [0.0, 0.01, 0.02, beaten, beaten])
        cells[(problem.name, "random", 50)] = Cell(problem, "random", 50, [0.0, 0.03, 0.04, 0.05, 0.06])
    rows = {row["problem"]: row for row in goals(cells, [hand, near], 50)}
    assert rows[hand.name]["beat_required"] is False and rows[hand.name]["beat_met"] is None
    assert rows[near.name]["beat_required"] is True
    # three of five runs beat the baseline: below 80%
    assert rows[near.name]["beats"] == 3 and rows[near.name]["beat_met"] is False
    # medians 0.02 against 0.04: exactly half
    assert rows[near.name]["regret_met"] is True
    cells[(near.name, "random", 50)] = Cell(near, "random", 50, [0.0, 0.03, 0.039, 0.05, 0.06])
    assert goals(cells, [near], 50)[0]["regret_met"] is False


def test_quick_run_prints_tables_then_json_whose_goals_follow_from_its_cells(capsys):
    assert main(["--quick", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "### After 12 trials" in out and "### Goals at 12 trials: moves against random search" in out
    result = json.loads(out.strip().splitlines()[-1])
    cells = {(c["problem"], c["sampler"], c["trials"]): c for c in result["cells"]}
    assert len(cells) == 4 * 2 * 2
    assert all(len(c["repeats"]) == 2 for c in result["cells"])
    for row in result["goals"]:
        default, random = cells[(row["problem"], "moves", 12)], cells[(row["problem"], "random", 12)]
        assert row["median"] == np.median(default["regrets"]) and row["runs"] == 2
        assert row["regret_met"] == (row["median"] <= 0.5 * np.median(random["regrets"]))
