"""A run config and its variants: one method derives every run, and validates the result whole."""

from __future__ import annotations

import pytest

from model.presets import get_preset
from search.data.spec import DataSpec
from search.training.run_config import ExportOrigin, RunConfig, load_run_config, save_run_config
from space.schedule import Schedule

DATA = DataSpec(train=("corpus.jsonl",))
HAND = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)


def test_a_preset_run_is_the_uniform_schedule_with_the_presets_recipe() -> None:
    run = RunConfig.from_preset("small", DATA, None, seed=3)
    assert run.model == get_preset("small").model and run.train == get_preset("small").train
    assert run.seed == 3 and run.params == run.model.params and run.provenance is None
    assert run.tokens_per_step == 32 * 1024 and run.steps == 100_000_000 // (32 * 1024)


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


ORIGIN = ExportOrigin(
    study="s",
    trial=7,
    rule="model",
    reason="the model's pick",
    observed_loss=4.0,
    tokens=4096,
    expected_loss=4.2,
    expected_tokens=4096,
)


def test_a_saved_config_reads_back_equal_with_its_multipliers_on_one_line(tmp_path) -> None:
    base = RunConfig.from_preset("tiny", DATA, None)
    run = base.variant(tokens=4096, schedule=Schedule(budget=base.model.budget, mults=HAND))
    run = run.model_copy(update={"origin": ORIGIN})
    save_run_config(run, tmp_path / "run.json")
    assert load_run_config(tmp_path / "run.json") == run
    text = (tmp_path / "run.json").read_text()
    assert '\n      "mults": [8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4]\n' in text
    assert '\n  "data": {\n    "train": [\n      "corpus.jsonl"\n    ],\n' in text  # the rest stays indented


def test_an_expected_loss_needs_its_budget() -> None:
    with pytest.raises(ValueError, match="expected_loss and expected_tokens go together"):
        ExportOrigin.model_validate(ORIGIN.model_dump() | {"expected_tokens": None})


@pytest.mark.parametrize(
    ("origin", "tokens", "other_data", "line"),
    [
        (ORIGIN, 4096, False, "val loss 4.2420 at 4,096 tokens; the model expected 4.2000 (+1.00%)"),
        (
            ORIGIN.model_copy(update={"rule": "confirmed", "expected_tokens": 8192}),
            8192,
            False,
            "val loss 4.2420 at 8,192 tokens; the confirmation's mean was 4.2000 (+1.00%)",
        ),
        (
            ORIGIN.model_copy(update={"rule": "observed", "expected_loss": None, "expected_tokens": None}),
            4096,
            False,
            "val loss 4.2420 at 4,096 tokens; trial 7 had 4.0000 (+6.05%)",
        ),
        (
            ORIGIN.model_copy(update={"expected_tokens": 8192}),
            20_000,
            False,
            "at 20,000 tokens; the export's losses are at 4,096 and 8,192 tokens, so none compares",
        ),
        (ORIGIN, 4096, True, "on other data than the export's: its losses in the study do not compare"),
    ],
)
def test_a_loss_is_compared_with_what_the_export_promised_at_its_budget(
    origin: ExportOrigin, tokens: int, other_data: bool, line: str
) -> None:
    assert line in origin.compare(4.242, tokens, other_data)
