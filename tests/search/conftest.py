"""Fixtures for the search package: the sample corpus (as the tiny shards) prepared once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.presets import get_preset
from search.data.prepare import PreparedData, prepare_data
from search.training.run_config import DataSpec


@pytest.fixture(scope="session")
def tiny_spec(corpus: Path) -> DataSpec:
    """The sample corpus's train and val files as a data spec."""
    return DataSpec(
        train=(str(corpus / "tiny" / "train-00000.jsonl.zst"),),
        val=(str(corpus / "tiny" / "val-00000.jsonl.zst"),),
    )


@pytest.fixture(scope="session")
def tiny_data(tiny_spec: DataSpec) -> PreparedData:
    """Tokenizer and token cache of the sample corpus at the tiny preset's vocabulary."""
    return prepare_data(tiny_spec, get_preset("tiny").model.vocab_size, progress=False)


@pytest.fixture(scope="session")
def tiny_args(corpus: Path) -> list[str]:
    """Command-line data options for the sample corpus."""
    return [
        "--data", str(corpus / "tiny" / "train-00000.jsonl.zst"),
        "--val-data", str(corpus / "tiny" / "val-00000.jsonl.zst"),
    ]  # fmt: skip
