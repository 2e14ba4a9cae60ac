import itertools
import json
import math
import random
import statistics
from collections import Counter

import numpy as np
import optuna
import pytest

from bench.search import (
    MODEL_EVERY,
    SHAPES,
    SIMULATED,
    Cell,
    ModelRule,
    censored_median,
    family_members,
    hourglass_units,
    main,
    make_families,
    make_problems,
    parameter_grid,
    parse_args,
    plan_runs,
    random_composition_pool,
    recommended,
    requirement,
    simulate_random,
    trials_to_target,
    uniform_valid_schedules,
    verdict,
)
from search.study.schedule_model import MIN_TRIALS, posterior
from space.budget import Budget
from space.schedule import Schedule
from space.spaces import CompositionSpace, HourglassSpace, RampSpace, layer_param_name


@pytest.fixture(scope="module")
def valid_draws() -> np.ndarray:
    return uniform_valid_schedules(Budget(), 5000, np.random.default_rng(1))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_optimum_is_a_valid_schedule_that_no_other_beats(shape, valid_draws):
    Schedule(budget=Budget(), mults=shape.optimum)  # raises when it does not meet the budget
    assert shape.values(np.array(shape.optimum)) == pytest.approx([0.0])
    # every schedule one unit away, and thousands of random ones, are strictly worse
    optimum = np.array(shape.optimum)
    neighbours = []
    for give, take in itertools.permutations(range(12), 2):
        moved = optimum.copy()
        moved[give] -= 1
        moved[take] += 1
        if moved.min() >= 1 and moved.max() <= 16:
            neighbours.append(moved)
    assert shape.values(np.array(neighbours)).min() > 0
    assert shape.values(valid_draws).min() > 0


def test_uniform_valid_schedules_are_valid_and_uniform():
    budget = Budget(n_layers=3, total=6, max_mult=3)
    everything = [c for c in itertools.product(range(1, 4), repeat=3) if sum(c) == 6]
    drawn = uniform_valid_schedules(budget, 7000, np.random.default_rng(0))
    counts = Counter(map(tuple, drawn.tolist()))
    assert set(counts) == set(everything)  # 7 schedules: (2,2,2), the 6 orders of (1,2,3)
    assert all(abs(c - 1000) < 120 for c in counts.values())


def test_draws_meet_the_default_budget(valid_draws):
    assert (valid_draws.sum(axis=1) == 48).all()
    assert valid_draws.min() >= 1 and valid_draws.max() <= 16


def test_recommendation_is_the_best_observed_and_first_on_ties():
    # noisy observations: trial 2 looks best but is not; trial 3 ties it and comes later
    observed, true = [5.0, 1.0, 1.0, 3.0], [0.4, 0.2, 0.0, 0.001]
    trace = [recommended(observed[:n], true[:n]) for n in range(1, 5)]
    assert trace == [0.4, 0.2, 0.2, 0.2]
    assert trials_to_target(trace, 0.01) is None
    assert trials_to_target([0.5, 0.3, 0.01, 0.2, 0.0], 0.01) == 3
    assert trials_to_target([], 0.01) is None


def cell(runs, cap):
    return Cell("composition", "x", "p", cap, 0.0, runs, [])


def test_censored_median_counts_misses_as_above_the_cap():
    assert censored_median([10, 20, None]) == 20
    assert censored_median([10, None, None]) is None
    assert censored_median([10, 30, None, None]) is None
    assert censored_median([10, 30, 40, None]) == 35


def test_verdict_on_censored_medians():
    holds = verdict(cell([10, 20, None], 200), cell([None, None, 100], 600))
    assert holds["holds"] is True and holds["ratio_is_upper_bound"]
    assert holds["ratio"] == pytest.approx(20 / 600)
    fails = verdict(cell([100, 120, 130], 200), cell([200, 300, 300], 600))
    assert fails["holds"] is False and fails["ratio"] == pytest.approx(0.4)
    # both above their caps: nothing is known
    assert verdict(cell([None] * 3, 200), cell([None] * 3, 600))["holds"] is None
    # TPE above its cap of 200, random's median 450 < 3 x 200: fails for sure
    assert verdict(cell([None] * 3, 200), cell([450] * 3, 600))["holds"] is False
    # TPE above its cap of 200, random's median 900 >= 3 x 200: TPE may still make it
    assert verdict(cell([None] * 3, 200), cell([900] * 3, 2000))["holds"] is None


def test_a_lower_bound_on_random_search_can_show_the_requirement_holds_but_never_fails():
    bound = cell([600] * 3, 20000)
    assert verdict(cell([150] * 3, 1500), bound, lower_bound=True)["holds"] is True
    assert verdict(cell([250] * 3, 1500), bound, lower_bound=True)["holds"] is None
    assert verdict(cell([None] * 3, 1500), bound, lower_bound=True)["holds"] is None
    assert verdict(cell([250] * 3, 1500), bound)["holds"] is False


def test_noisy_problems_without_a_simulation_are_judged_against_their_noise_free_twin():
    def at(sampler, problem, runs, cap):
        return Cell("composition", sampler, problem, cap, 0.0, runs, [])

    cells = [
        at("tpe", "ramp", [50] * 10, 300),
        at("tpe", "ramp +noise", [120] * 10, 1500),
        at(SIMULATED, "ramp", [600] * 1000, 20000),
    ]
    rows = {row["problem"]: row for row in requirement(cells)["per_problem"]}
    assert rows["ramp +noise"]["random_problem"] == "ramp"
    assert rows["ramp +noise"]["holds"] is True and rows["ramp +noise"]["ratio_is_upper_bound"]
    assert rows["ramp"]["holds"] is True and not rows["ramp"]["ratio_is_upper_bound"]


def test_model_rule_follows_the_posterior_mean_at_its_checkpoints_only():
    rule = ModelRule()
    rng = np.random.default_rng(0)
    draws = uniform_valid_schedules(Budget(), 3 * MODEL_EVERY, rng)
    observed: dict[tuple[int, ...], float] = {}
    for n, row in enumerate(draws, 1):
        observed[tuple(int(m) for m in row)] = float(rng.normal(5.0, 0.3))
        choice = rule.choose(observed)
        values = np.fromiter(observed.values(), dtype=float)
        if n < MIN_TRIALS:
            assert choice == int(np.argmin(values))
        elif n == MIN_TRIALS or n % MODEL_EVERY == 0:
            mults = np.array(list(observed), dtype=float)
            assert choice == int(np.argmin(posterior(mults, values, rule.fit)[0]))  # no baselines
            at_checkpoint = choice
        else:
            assert choice == at_checkpoint  # held until the next checkpoint


def test_simulated_random_search_follows_the_recommendation_rule():
    problem = make_problems(0.0, Budget())[0]
    # half the pool is the optimum: reached at the first draw of it (geometric, p = 1/2)
    runs = simulate_random(problem, np.array([0.0, 0.5]), 400, 50, seed=0)
    assert None not in runs and 160 < runs.count(1) < 240 and 60 < runs.count(2) < 140
    # nothing within the target: never reached; the optimum alone: always at trial 1
    assert simulate_random(problem, np.array([0.5, 0.2]), 5, 50, seed=0) == [None] * 5
    assert simulate_random(problem, np.array([0.0]), 5, 50, seed=0) == [1] * 5


def test_simulated_random_search_with_noise_can_be_misled():
    clean, noisy = make_problems(0.03, Budget())[:2]
    assert noisy.noise_sd > 0 and clean.noise_sd == 0
    # the optimum and a schedule 2% worse: within the noise (3% of the spread)
    regret = np.array([0.0, 0.02])
    missed_clean = simulate_random(clean, regret, 400, 3, seed=1).count(None)
    missed_noisy = simulate_random(noisy, regret, 400, 3, seed=1).count(None)
    assert missed_noisy > missed_clean + 40  # the worse one often looks better


def test_random_pool_is_what_the_random_sampler_draws_on_the_composition_space():
    budget = Budget()
    pool = random_composition_pool(budget, 300, seed=2)
    assert (pool.sum(axis=1) == 48).all() and pool.min() >= 1 and pool.max() <= 16
    space = CompositionSpace(budget)
    rng = np.random.default_rng(2)
    raw = rng.integers(16, size=(300, 12)) + 1
    for row, mults in zip(raw[:50], pool[:50], strict=True):
        params = {layer_param_name(i): int(v) for i, v in enumerate(row)}
        assert space.suggest(optuna.trial.FixedTrial(params)).mults == tuple(mults)


def test_no_noise_gives_one_problem_per_shape():
    names = [p.name for p in make_problems(0.0, Budget())]
    assert names == [s.name for s in SHAPES]
    assert len(make_problems(0.03, Budget())) == 2 * len(SHAPES)


def test_fast_hourglass_fitting_matches_the_space():
    budget = Budget()
    space = HourglassSpace(budget)
    levels = parameter_grid(space)["first_mult"]
    rng = random.Random(0)
    for _ in range(40):
        start, end = sorted(rng.sample(range(1, 11), 2)) if rng.random() < 0.8 else [rng.randint(1, 10)] * 2
        triples = np.array([[rng.choice(levels) for _ in range(3)] for _ in range(20)])
        triples[:5, 2] = triples[:5, 0]  # symmetric ends: ties in the rounding
        units = hourglass_units(budget, triples, start, end)
        for row, (first, waist, last) in zip(units, triples, strict=True):
            params = {"first_mult": first, "waist_mult": waist, "last_mult": last}
            expected = space.schedule_from_params(params | {"waist_start": start, "waist_end": end})
            assert tuple(row) == expected.units


def test_ramp_family_is_every_schedule_of_its_grid():
    space = RampSpace(Budget())
    members = family_members(space)
    grid = np.arange(1, 7.25, 0.25)
    expected = {space.suggest(optuna.trial.FixedTrial({"first_mult": f})).mults for f in grid}
    assert {tuple(m) for m in members.tolist()} == expected


def above_cap_median(runs: list[int | None]) -> float | None:
    """The median number of trials, a run that missed counting as more than any; None: above the cap."""
    value = statistics.median(sorted(math.inf if r is None else r for r in runs))
    return None if math.isinf(value) else value


def expected_holds(tpe: dict, reference: dict, lower_bound: bool) -> bool | None:
    """The README's rule: TPE needs at most a third of random search's trials. Undecided (None) where
    a median above its cap, or random's noise-free bound, cannot tell."""
    tpe_median, random_median = above_cap_median(tpe["trials"]), above_cap_median(reference["trials"])
    known = random_median is not None and not lower_bound
    if tpe_median is None:
        return False if known and 3 * tpe["cap"] > random_median else None
    if 3 * tpe_median <= (random_median if random_median is not None else reference["cap"]):
        return True
    return False if known else None


def requirement_of_a_run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    """Run the benchmark; check that each cell's median and share follow from its runs, and each
    verdict of the requirement, in the JSON and in the printed table, from the cells' runs."""
    assert main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == "### Objectives"
    result = json.loads(out[-1])
    cells = {(c["space"], c["sampler"], c["problem"]): c for c in result["cells"]}
    for cell in result["cells"]:
        runs = cell["trials"]
        assert cell["median"] == above_cap_median(runs)
        assert cell["reached"] == pytest.approx(sum(r is not None for r in runs) / len(runs))
        assert all(r is None or 1 <= r <= cell["cap"] for r in runs)
    heading = next(i for i, line in enumerate(out) if line.startswith("### Requirement"))
    table = {line.split(" | ")[0].removeprefix("| "): line for line in out[heading:] if line.startswith("| ")}
    requirement = result["requirement"]
    judged = []  # (row, TPE's cell, random search's cell, whether the latter is only a lower bound)
    for row in requirement["per_problem"]:
        problem = row["problem"]
        # A noisy objective is judged against random search on its noise-free twin, a lower bound.
        simulated = cells[("composition", SIMULATED, problem.removesuffix(" +noise"))]
        judged.append((row, cells[("composition", "tpe", problem)], simulated, problem.endswith(" +noise")))
    pooled_tpe = {"trials": [r for _, tpe, _, _ in judged for r in tpe["trials"]], "cap": judged[0][1]["cap"]}
    pooled_random = {
        "trials": [r for _, _, simulated, _ in judged for r in simulated["trials"]],
        "cap": judged[0][2]["cap"],
        "problem": "overall",
    }
    judged.append((requirement["overall"], pooled_tpe, pooled_random, any(bound for *_, bound in judged)))
    for row, tpe, simulated, lower_bound in judged:
        assert row["random_problem"] == simulated["problem"]
        tpe_median, random_median = above_cap_median(tpe["trials"]), above_cap_median(simulated["trials"])
        assert (row["tpe_median"], row["random_median"]) == (tpe_median, random_median)
        assert row["holds"] == expected_holds(tpe, simulated, lower_bound)
        if tpe_median is not None:
            assert row["ratio"] == pytest.approx(tpe_median / (random_median or simulated["cap"]))
        verdict_text = {True: "yes", False: "**NO**", None: "undecided"}[row["holds"]]
        assert table[row["problem"]].endswith(f" | {verdict_text} |")
    return result


def test_quick_run_prints_tables_and_one_json_object_with_verdicts_that_follow_from_its_runs(capsys):
    result = requirement_of_a_run(["--quick", "--jobs", "1"], capsys)
    assert {"settings", "objectives", "cells", "overall", "requirement"} <= set(result)
    cells = {(c["space"], c["sampler"], c["problem"]): c for c in result["cells"]}
    assert ("composition", "tpe", "hand-found +noise") in cells and ("ramp", "random", "ramp") in cells
    problems = [row["problem"] for row in result["requirement"]["per_problem"]]
    assert problems == ["hand-found", "hand-found +noise", "ramp", "ramp +noise"]
    ramp_on_ramp = cells[("ramp", "random", "ramp")]
    assert ramp_on_ramp["reachable"] and ramp_on_ramp["family_best_regret"] == 0


def test_a_run_where_tpe_reaches_the_target_decides_the_requirement(capsys):
    # Noise-free wide-first: TPE reaches it in about 47 trials, random search not within 2000.
    argv = ["--seeds", "2", "--budget", "80", "--spaces", "composition", "--samplers", "tpe,random"]
    argv += ["--objectives", "wide-first", "--noise", "0", "--sim-runs", "100", "--sim-cap", "2000"]
    result = requirement_of_a_run([*argv, "--sim-pool", "20000", "--jobs", "1"], capsys)
    (row,) = result["requirement"]["per_problem"]
    assert (row["problem"], row["holds"], result["requirement"]["overall"]["holds"]) == (
        "wide-first",
        True,
        True,
    )


def test_moves_searches_only_the_composition_space():
    families = make_families(["composition", "ramp"], Budget(), None)
    problems = make_problems(0.0, Budget())[:1]
    specs = plan_runs(problems, families, ["moves", "tpe"], parse_args(["--seeds", "1"]))
    assert {(s.space, s.sampler) for s in specs} == {
        ("composition", "moves"),
        ("composition", "tpe"),
        ("ramp", "tpe"),
    }
