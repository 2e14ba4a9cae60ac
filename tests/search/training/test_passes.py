"""How often a run goes over its training split, and the note that says so."""

from __future__ import annotations

import pytest
import torch

from search.data.spec import DataSpec
from search.training.passes import data_passes, passes_note
from search.training.run_config import RunConfig
from search.training.trainer import train

RUN = RunConfig.from_preset("tiny", DataSpec(train=("corpus.jsonl",)), None)  # batch 8, context 64


def test_passes_count_windows_of_one_context() -> None:
    run = RUN.variant(tokens=8 * 64 * 100)  # 100 steps of 8 windows
    assert data_passes(run, 64 * 400 + 1) == pytest.approx(2.0)
    assert data_passes(run, 64 * 1600 + 1) == pytest.approx(0.5)


def test_the_note_speaks_only_past_the_end_of_the_data() -> None:
    run = RUN.variant(tokens=8 * 64 * 100)
    assert passes_note(run, 64 * 1600 + 1) is None
    note = passes_note(run, 64 * 400 + 1)
    assert note is not None and "51,200 training tokens are 2.00 passes" in note and "25,601 unique" in note


def test_a_trained_run_records_its_passes(tiny_spec, tiny_data) -> None:
    run = RunConfig.from_preset("tiny", tiny_spec, tiny_data).variant(tokens=8 * 64 * 4)
    result = train(run, tiny_data.tokens, tiny_data.tokenizer, torch.device("cpu"))
    assert result.passes == pytest.approx(data_passes(run, len(tiny_data.tokens.train)))
    assert result.summary()["passes"] == result.passes and result.spike >= 0
