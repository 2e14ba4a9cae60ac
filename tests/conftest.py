"""Shared test fixtures: the corpus beside the project and a fresh cache per test session."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest

optuna.logging.set_verbosity(optuna.logging.WARNING)

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus folder (../shared/corpus), or skip when it is not beside the project."""
    if not (CORPUS / "tiny").is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep tokenizers and token caches of the test run out of the user's cache folder."""
    os.environ["HOURGLASS_CACHE"] = str(tmp_path_factory.mktemp("hourglass-cache"))
