"""A run config and its variants: one method derives every run, and validates the result whole."""

from __future__ import annotations

import pytest

from model.presets import get_preset
from search.data.spec import DataSpec
from search.training.run_config import RunConfig, load_run_config, save_run_config
from space.schedule import Schedule

DATA = DataSpec(train=("corpus.jsonl",))
HAND = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)


def test_a_preset_run_is_the_uniform_schedule_with_the_presets_recipe() -> None:
    run = RunConfig.from_preset("small", DATA, None, seed=3)
    assert run.model == get_preset("small").model and run.train == get_preset("small").train
    assert run.seed == 3 and run.params == run.model.params and run.provenance is None
    assert run.tokens_per_step == 32 * 1024 and run.steps == 20_000_000 // (32 * 1024)


def test_a_variant_replaces_only_what_is_given() -> None:
    run = RunConfig.from_preset("tiny", DATA, None)
    schedule = Schedule(budget=run.model.budget, mults=HAND)
    changed = run.variant(schedule=schedule, seed=2, tokens=1000, lr=5e-3, warmup_frac=0.2)
    assert changed.model.schedule == schedule and changed.seed == 2
    assert (changed.train.tokens, changed.train.lr, changed.train.warmup_frac) == (1000, 5e-3, 0.2)
    assert changed.train.batch_size == run.train.batch_size and changed.data == run.data
    assert changed.params == changed.model.params
    assert run.variant() == run
    assert run.variant(deterministic=None).train.deterministic is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lr": -1.0}, "train.lr"),
        ({"warmup_frac": 1.5}, "train.warmup_frac"),
        ({"colour": 1}, "train.colour"),
    ],
)
def test_a_bad_variant_is_refused_naming_the_field(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RunConfig.from_preset("tiny", DATA, None).variant(**changes)


def test_a_saved_config_reads_back_equal(tmp_path) -> None:
    run = RunConfig.from_preset("tiny", DATA, None).variant(tokens=4096)
    save_run_config(run, tmp_path / "run.json")
    assert load_run_config(tmp_path / "run.json") == run
