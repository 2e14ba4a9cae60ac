"""Shared test fixtures (the shipped sample corpus, a fresh cache per test session) and the rule that
.ci/run sets: there, a CPU test that skips fails."""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import optuna
import pytest

from search.data.sample_corpus import sample_corpus

optuna.logging.set_verbosity(optuna.logging.WARNING)

# pytester runs a test session inside a test: how the rule below is tested.
pytest_plugins = ["pytester"]

# Set by .ci/run: every test that can run on a CPU-only machine must run there, so a skip of a test
# not marked ``gpu`` (missing data, a missing service or program) is turned into a failure.
NO_CPU_SKIPS = "HOURGLASS_NO_CPU_SKIPS"


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus folder whose ``tiny/train-00000.jsonl.zst`` and ``tiny/val-00000.jsonl.zst`` are the
    sample corpus shipped in ``search/data/sample/`` (the shard names the tests were written for)."""
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "tiny").mkdir()
    train, val = sample_corpus()
    (folder / "tiny" / "train-00000.jsonl.zst").symlink_to(train)
    (folder / "tiny" / "val-00000.jsonl.zst").symlink_to(val)
    return folder


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep tokenizers and token caches of the test run out of the user's cache folder."""
    os.environ["HOURGLASS_CACHE"] = str(tmp_path_factory.mktemp("hourglass-cache"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under ``HOURGLASS_NO_CPU_SKIPS=1``, report a skipped test that is not a GPU test as failed."""
    report = yield
    skipped = report.skipped and not hasattr(report, "wasxfail")
    if os.environ.get(NO_CPU_SKIPS) == "1" and skipped and item.get_closest_marker("gpu") is None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"{reason}: skipped, but {NO_CPU_SKIPS}=1 requires every CPU test to run"
    return report
