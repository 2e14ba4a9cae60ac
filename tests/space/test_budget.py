import pytest
from pydantic import ValidationError

from space.budget import Budget, mult_to_width


def test_defaults_are_the_uniform_4x_model_of_12_layers():
    budget = Budget()
    assert (budget.n_layers, budget.total, budget.min_mult, budget.max_mult) == (12, 48, 1, 16)
    assert budget.uniform_units == (4,) * 12
    assert budget.width(4) == 2048


def test_total_defaults_to_four_per_layer():
    assert Budget(n_layers=6).total == 24


def test_granularity_gives_fractional_steps():
    budget = Budget(granularity=4)
    assert budget.total_units == 192
    assert budget.width(13) == 13 * 128
    assert budget.units_to_mult(13) == 3.25
    assert budget.units_to_mult(12) == 3


def test_mult_to_width_rejects_fractional_neurons():
    assert mult_to_width(3, 512, 4) == 384
    with pytest.raises(ValueError, match="not a whole number of neurons"):
        mult_to_width(1, 30, 4)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"min_mult": 5, "max_mult": 4}, "min_mult 5 is above max_mult 4"),
        ({"total": 300}, "cannot be spent by 12 layers of 1..16"),
        ({"total": 5}, "cannot be spent by 12 layers of 1..16"),
        ({"d_model": 30, "granularity": 4}, "does not split into 4 equal steps"),
        ({"d_model": 96, "total": 47}, "multiples of width_align 64"),
        ({"unknown": 1}, "Extra inputs are not permitted"),
    ],
)
def test_infeasible_budgets_are_rejected_with_the_numbers(fields, message):
    with pytest.raises(ValidationError, match=message):
        Budget(**fields)


def test_alignment_steps_when_d_model_is_not_a_multiple_of_the_alignment():
    budget = Budget(d_model=96, total=48)
    assert budget.step_units == 2  # two units of 96 neurons make 192, a multiple of 64
    assert budget.min_steps == 1 and budget.max_steps == 8


def test_budget_is_frozen():
    with pytest.raises(ValidationError):
        Budget().total = 50


def test_widths_nearest_the_mean_layers_come_first():
    budget = Budget()  # d_model 512, 4x a layer on average: 2048 wide
    widths = budget.widths_nearest_mean
    assert sorted(widths) == list(budget.allowed_widths)
    assert widths[:5] == (2048, 1536, 2560, 1024, 3072)  # a tie goes to the narrower
