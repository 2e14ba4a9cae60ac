"""The built decoder's count, and the check that refuses a config whose count it does not have."""

from __future__ import annotations

import pytest

from model.config import ModelConfig
from model.counting import built_params, check_built_params
from model.presets import PRESETS, get_preset
from space.budget import Budget
from space.schedule import Schedule


class MiscountedConfig(ModelConfig):
    """A config that counts one parameter more than its decoder has; its budget counts the same one,
    so it still validates (as a count and a budget wrong in the same way would)."""

    @property
    def params(self) -> int:
        """One above the decoder's count."""
        return super().params + 1

    @property
    def budget_params(self) -> int:
        """One above the budget's count, so that validation passes."""
        return super().budget_params + 1


def miscounted(config: ModelConfig) -> MiscountedConfig:
    """``config`` as a MiscountedConfig."""
    return MiscountedConfig.model_validate(config.model_dump())


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_builds_the_parameters_it_counts(preset):
    config = PRESETS[preset].model
    assert built_params(config) == config.params
    check_built_params(config)


def test_a_tied_head_is_counted_once():
    tied = get_preset("tiny").model
    untied = tied.replace(tie_embeddings=False)
    assert built_params(untied) - built_params(tied) == tied.vocab_size * tied.d_model


def test_attention_only_layers_build_without_their_mlp_norm():
    budget = Budget(d_model=64, min_mult=0, width_align=32)
    schedule = Schedule(budget=budget, mults=(0, 0, 12) + (4,) * 9)
    config = ModelConfig(vocab_size=300, n_heads=4, context=32, schedule=schedule)
    uniform = config.with_schedule(Schedule.uniform(budget))
    # Equal MLP widths in all; two layers fewer MLP norms of d_model gains each.
    assert built_params(uniform) - built_params(config) == 2 * 64
    check_built_params(config)


def test_a_config_whose_count_the_decoder_does_not_have_is_refused():
    config = miscounted(get_preset("tiny").model)
    built = built_params(config)
    assert config.params == built + 1
    with pytest.raises(ValueError, match=f"has {built:,} parameters, the config counts {built + 1:,} \\(-1;"):
        check_built_params(config)
