"""The decoder's kernels compiled as a study launches, in a process of its own."""

from __future__ import annotations

import signal

import pytest
import torch

from search.options.search_options import read_search_options
from search.trials import kernels_ahead


@pytest.fixture
def one_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine whose driver shows one GPU."""
    monkeypatch.setattr(kernels_ahead, "expected_workers", lambda options: ((0,), 1))


def test_nothing_starts_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels_ahead, "expected_workers", lambda options: ((), 1))
    with kernels_ahead.kernels_compiled_ahead(read_search_options(None, ["--trials", "1"])) as process:
        assert process is None


@pytest.mark.usefixtures("one_gpu")
def test_nothing_starts_for_an_objective_that_does_not_train_the_decoder() -> None:
    options = read_search_options(
        None, ["--trials", "1", "--objective", "tests.search.plugin_objective:score"]
    )
    with kernels_ahead.kernels_compiled_ahead(options) as process:
        assert process is None


@pytest.mark.usefixtures("one_gpu")
def test_a_warm_up_still_running_when_the_run_ends_is_ended_with_it() -> None:
    with kernels_ahead.kernels_compiled_ahead(read_search_options(None, ["--trials", "1"])) as process:
        assert process is not None and process.args[-2:] == ["--device", "cuda:0"]
        assert "--preset" in process.args and process.args[process.args.index("--preset") + 1] == "small"
    assert process.returncode == -signal.SIGTERM  # still importing torch when the block ended


@pytest.mark.usefixtures("one_gpu")
def test_a_warm_up_runs_to_its_end_beside_the_run(capfd: pytest.CaptureFixture[str]) -> None:
    options = read_search_options(None, ["--trials", "1", "--preset", "tiny"])
    with kernels_ahead.kernels_compiled_ahead(options) as process:
        assert process is not None
        process.wait(timeout=300)
    if torch.cuda.is_available():
        assert process.returncode == 0
    else:  # no GPU behind the driver this test pretends: the one-line note, and the study goes on
        assert process.returncode == 1
        assert "note: the decoder's kernels were not compiled ahead" in capfd.readouterr().err
