import pytest
from pydantic import ValidationError

from model.config import ModelConfig
from model.counting import built_params
from model.presets import PRESETS, get_preset
from space.budget import Budget
from space.schedule import Schedule
from space.spaces import SPACES
from tests.space.test_spaces import random_schedules

HAND = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize(("preset", "count"), [("small", 200), ("baka", 50)])
def test_built_count_equals_analytic_count_equals_budget(space_name, preset, count):
    base = PRESETS[preset].model
    for schedule in random_schedules(space_name, base.budget, count, seed=7):
        config = base.with_schedule(schedule)
        assert built_params(config) == config.params == config.budget_params


@pytest.mark.parametrize("preset", list(PRESETS))
def test_uniform_and_hand_found_have_the_same_count_in_every_preset(preset):
    base = PRESETS[preset].model
    hand = base.with_schedule(Schedule(budget=base.budget, mults=HAND))
    assert base.schedule.mults == (4,) * 12
    assert hand.params == base.params == base.budget_params == built_params(hand) == built_params(base)


@pytest.mark.parametrize("residual", ["sequential", "parallel"])
@pytest.mark.parametrize("tie", [True, False])
def test_attention_only_layers_and_untied_heads_are_counted_exactly(residual, tie):
    budget = Budget(d_model=64, min_mult=0, width_align=32)
    config = ModelConfig(
        vocab_size=300,
        n_heads=4,
        context=32,
        residual=residual,
        tie_embeddings=tie,
        schedule=Schedule(budget=budget, mults=(0, 0, 12) + (4,) * 9),
    )
    assert built_params(config) == config.params
    # the width budget is equal; a sequential layer without MLP also has no MLP norm
    assert config.params == config.budget_params - config.dropped_norm_params
    assert config.dropped_norm_params == (2 * 64 if residual == "sequential" else 0)


def test_non_embedding_params_and_flops():
    config = get_preset("small").model
    assert config.non_embedding_params == config.params - 16384 * 512
    assert config.flops_per_token == 6 * config.params + 12 * 12 * 512 * 1024


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_heads": 7}, "d_model 512 is not divisible by n_heads 7"),
        ({"n_heads": 512}, "head dimension 1 must be even"),
        ({"residual": "diagonal"}, "residual"),
        ({"vocab_size": 1}, "vocab_size"),
        ({"dropout": 0.1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_model_configs_are_rejected(changes, message):
    with pytest.raises(ValidationError, match=message):
        get_preset("small").model.replace(**changes)


def test_a_schedule_off_the_budget_is_rejected_inside_a_model_config():
    data = get_preset("small").model.model_dump()
    data["schedule"]["mults"] = [8] + [4] * 11
    with pytest.raises(ValidationError, match="sum is 52, budget is 48"):
        ModelConfig.model_validate(data)


def test_config_round_trips_through_json():
    base = get_preset("baka").model
    config = base.with_schedule(Schedule(budget=base.budget, mults=HAND))
    assert ModelConfig.model_validate_json(config.model_dump_json()) == config
    assert '"mults":[8,4,4,4' in config.model_dump_json()


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown preset 'huge'; choose from tiny, small, base, baka"):
        get_preset("huge")
