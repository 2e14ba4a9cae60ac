import pytest
from pydantic import ValidationError

from space.budget import Budget
from space.schedule import Schedule, parse_mults

HAND = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)


def test_uniform_and_hand_found_schedules_validate():
    budget = Budget()
    assert Schedule.uniform(budget).mults == (4,) * 12
    hand = Schedule(budget=budget, mults=HAND)
    assert hand.widths == (4096, 2048, 2048, 2048, 1536, 1536, 1536, 1536, 2048, 2048, 2048, 2048)
    assert hand.key == "8,4,4,4,3,3,3,3,4,4,4,4"


@pytest.mark.parametrize(
    ("budget", "mults", "message"),
    [
        (Budget(), (4,) * 11, "schedule has 11 layers, the budget has 12"),
        (Budget(), (4,) * 13, "schedule has 13 layers, the budget has 12"),
        (Budget(), (4.5, 3.5) + (4,) * 10, "layer 0: multiplier 4.5 is not a whole number"),
        (Budget(granularity=4), (4.3,) + (4,) * 11, "layer 0: multiplier 4.3 is not a multiple of 1/4"),
        (Budget(), (17, 1, 1) + (3,) * 9, "layer 0: multiplier 17 is above the maximum 16"),
        (Budget(), (-1, 9) + (4,) * 10, "layer 0: multiplier -1 is below the minimum 1"),
        (Budget(), (0, 8) + (4,) * 10, "layer 0: multiplier 0 is below the minimum 1"),
        (Budget(), (4,) * 11 + (5,), "sum is 49, budget is 48"),
        (Budget(), (4,) * 11 + (3,), "sum is 47, budget is 48"),
        (Budget(granularity=4), (4.25,) + (4,) * 11, "sum is 48.25, budget is 48"),
        (Budget(d_model=96), (3, 5) + (4,) * 10, "layer 0: MLP width 288 .* is not a multiple of 64"),
        (Budget(), (float("nan"),) + (4,) * 11, "layer 0: multiplier nan is not a number"),
    ],
)
def test_invalid_schedules_are_rejected_naming_layer_and_numbers(budget, mults, message):
    with pytest.raises(ValidationError, match=message):
        Schedule(budget=budget, mults=mults)


def test_every_bad_layer_is_named():
    with pytest.raises(ValidationError) as caught:
        Schedule(budget=Budget(), mults=(17, 4, 4, 0) + (4,) * 8)
    text = str(caught.value)
    assert "layer 0: multiplier 17" in text and "layer 3: multiplier 0" in text


def test_non_numbers_are_rejected():
    with pytest.raises(ValidationError, match=r"mults\.2"):
        Schedule(budget=Budget(), mults=(4, 4, "x") + (4,) * 9)


def test_zero_is_allowed_when_the_budget_allows_attention_only_layers():
    schedule = Schedule(budget=Budget(min_mult=0), mults=(0, 8) + (4,) * 10)
    assert schedule.widths[0] == 0


def test_quarter_steps():
    schedule = Schedule(budget=Budget(granularity=4), mults=(4.25, 3.75) + (4,) * 10)
    assert schedule.units[:2] == (17, 15)
    assert schedule.widths[:2] == (2176, 1920)


def test_uniform_needs_an_even_split():
    with pytest.raises(ValueError, match="does not split evenly"):
        Schedule.uniform(Budget(total=50))


def test_parse_mults_names_the_layer_of_a_non_number():
    assert parse_mults("8, 4,3.5") == [8, 4, 3.5]
    with pytest.raises(ValueError, match="layer 1: 'a' is not a number"):
        parse_mults("8,a,4")
