import random

import pytest

from space.budget import Budget
from space.fit import fit_to_budget


def random_valid_units(budget: Budget, rng: random.Random) -> list[int]:
    """A random vector that meets the budget, built by moving units between random layers."""
    units = [budget.min_units] * budget.n_layers
    for _ in range(budget.total_units - sum(units)):
        open_layers = [i for i, u in enumerate(units) if u < budget.max_units]
        units[rng.choice(open_layers)] += 1
    return units


@pytest.mark.parametrize("budget", [Budget(), Budget(min_mult=0), Budget(granularity=4), Budget(max_mult=5)])
def test_valid_vectors_map_to_themselves(budget):
    rng = random.Random(0)
    for _ in range(200):
        units = random_valid_units(budget, rng)
        assert fit_to_budget(units, budget) == tuple(units)


@pytest.mark.parametrize("budget", [Budget(), Budget(min_mult=0), Budget(max_mult=6), Budget(d_model=96)])
def test_any_profile_lands_on_the_budget_within_bounds(budget):
    rng = random.Random(1)
    for _ in range(500):
        profile = [rng.choice([0.0, rng.random(), rng.random() * 100]) for _ in range(budget.n_layers)]
        units = fit_to_budget(profile, budget)
        assert sum(units) == budget.total_units
        assert all(budget.min_units <= u <= budget.max_units for u in units)
        assert all(u % budget.step_units == 0 for u in units)


def test_proportions_are_kept_and_ties_go_to_earlier_layers():
    budget = Budget()
    # 48 units in proportion 3:1:1:... is 10.29 and 3.43 for the rest: floors 10 and 3 leave
    # 5 units, which go to the largest remainders (0.43), earliest layers first.
    assert fit_to_budget([3.0] + [1.0] * 11, budget) == (10,) + (4,) * 5 + (3,) * 6
    assert fit_to_budget([1.0] * 12, budget) == (4,) * 12
    assert fit_to_budget([16.0] * 12, budget) == (4,) * 12
    # 50 units over 12 equal layers: 4 each and the 2 left over go to layers 0 and 1.
    assert fit_to_budget([1.0] * 12, Budget(total=50)) == (5, 5) + (4,) * 10


def test_ties_left_by_the_scale_go_to_earlier_layers():
    # Scaled by 48/46, layers 2..11 all keep a remainder of 6/46; one unit is left for them.
    assert fit_to_budget([2.0, 2.5] + [3.0] * 9 + [14.5], Budget()) == (2, 3, 4) + (3,) * 8 + (15,)
    # Clipped at 6, the scale is 1.5: six layers keep 0.5 and the first three of them grow.
    units = fit_to_budget([3, 1, 6, 2, 4, 3, 1, 2, 1, 4, 6, 3], Budget(max_mult=6))
    assert units == (5, 2, 6, 3, 6, 5, 1, 3, 1, 6, 6, 4)


def test_all_zero_profile_is_uniform():
    assert fit_to_budget([0.0] * 12, Budget()) == (4,) * 12


def test_zero_weights_stay_at_the_minimum_when_possible():
    units = fit_to_budget([0.0, 0.0] + [1.0] * 10, Budget(min_mult=0))
    assert units[:2] == (0, 0) and sum(units) == 48


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ([1.0] * 11, "profile has 11 layers"),
        ([-1.0] + [1.0] * 11, "non-negative"),
        ([float("nan")] * 12, "non-negative"),
    ],
)
def test_bad_profiles_are_rejected(profile, message):
    with pytest.raises(ValueError, match=message):
        fit_to_budget(profile, Budget())
