import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from model.presets import get_preset
from search.data.prepare import PreparedData
from search.training import compiling
from search.training.compiling import CompileMode
from search.training.run_config import DataSpec, RunConfig
from search.trials.background_compiling import (
    WarmUp,
    background_warm_up,
    cache_folder,
    compiling_in_background,
)
from search.trials.objective import TrainingObjective

PROJECT = Path(__file__).resolve().parents[3]
TINY = get_preset("tiny").model
# The tiny preset's uniform schedule has one width; a run of it compiles that width and the loss.
UNIFORM_WIDTH = TINY.mlp_widths[0]

# A fresh process that trains tiny's uniform schedule once on a device, compiled per width as on a
# GPU, and prints Inductor's cache counters.
_TRAIN_ONCE = textwrap.dedent(
    """
    import json, sys
    from torch._dynamo.utils import counters
    from search.data.prepare import prepare_data
    from search.training.run_config import DataSpec, RunConfig
    from search.training.trainer import train
    import torch

    spec = DataSpec(train=(sys.argv[1],), val=(sys.argv[2],))
    data = prepare_data(spec, 512, progress=False)
    run = RunConfig.from_preset("tiny", spec, data, 0).variant(tokens=4096)
    result = train(run, data.tokens, data.tokenizer, torch.device(sys.argv[3]), compile_mode="static")
    print(json.dumps({**counters["inductor"], "compile_s": result.compile_s}))
    """
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty Inductor and Triton cache folders of this test's own, for this process and those it
    starts; returns Inductor's."""
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "triton"))
    folder = tmp_path / "inductor"
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(folder))
    return folder


def _warm_up(*widths: int, device: str = "cpu") -> WarmUp:
    return WarmUp(TINY, widths, get_preset("tiny").train.batch_size, False, device)


def _train_once(tiny_spec: DataSpec, device: str) -> dict[str, float]:
    command = [sys.executable, "-c", _TRAIN_ONCE, *tiny_spec.train, *tiny_spec.val, device]
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie (ended, not yet reaped by its parent) counts as gone.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.slow
@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param(
            "cuda",
            marks=[
                pytest.mark.gpu,
                pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
            ],
        ),
    ],
)
def test_a_warm_up_fills_the_cache_so_a_fresh_processs_run_compiles_nothing_anew(
    cache: Path, tiny_spec: DataSpec, tiny_data: PreparedData, device: str
) -> None:
    said: list[str] = []
    with compiling_in_background(_warm_up(UNIFORM_WIDTH, device=device), said.append) as warming:
        assert warming is not None and warming.wait(timeout=300)
    assert said == [] and all(p.exitcode == 0 for p in warming.processes)
    assert cache_folder() == cache and list(cache.glob("hourglass-warm-up-*.done"))
    counters = _train_once(tiny_spec, device)
    # Every graph of the run (the block's and the loss's, training and evaluation) came from the cache.
    assert counters["fxgraph_cache_hit"] >= 6 and counters.get("fxgraph_cache_miss", 0) == 0
    assert counters["compile_s"] > 0
    # Done once for this cache folder: a later study starts nothing.
    with compiling_in_background(_warm_up(UNIFORM_WIDTH, device=device), said.append) as again:
        assert again is None


def test_one_warm_up_at_a_time_in_a_cache_folder_and_none_left_when_it_is_stopped(cache: Path) -> None:
    said: list[str] = []
    with compiling_in_background(_warm_up(*TINY.budget.allowed_widths), said.append) as warming:
        assert warming is not None and len(warming.processes) >= 1
        with compiling_in_background(_warm_up(*TINY.budget.allowed_widths), said.append) as second:
            assert second is None  # another worker on the host is warming this shape
    assert all(not p.is_alive() and p.exitcode == -signal.SIGTERM for p in warming.processes)
    assert said == [] and not list(cache.glob("*.done"))  # stopped, not failed, and not done
    with compiling_in_background(_warm_up(*TINY.budget.allowed_widths), said.append, processes=1) as third:
        assert third is not None  # the lock went with the stopped warm-up


def test_a_failed_warm_up_is_said_once_and_does_not_stop_the_study(
    cache: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    said: list[str] = []
    with compiling_in_background(_warm_up(-32), said.append, processes=1) as warming:
        assert warming is not None and warming.wait(timeout=120)
    (line,) = said
    assert "compiling widths in the background failed" in line and "compile-0 exit code 1" in line
    assert "Traceback" in capfd.readouterr().err  # the process's own error, above that line
    assert not list(cache.glob("*.done"))


_WORKER = textwrap.dedent(
    """
    import os, signal, sys, time
    from model.presets import get_preset
    from search.trials.background_compiling import WarmUp, compiling_in_background
    from search.trials.signals import stop_on_sigterm

    if __name__ == "__main__":
        stop_on_sigterm()
        tiny = get_preset("tiny").model
        warm_up = WarmUp(tiny, tiny.budget.allowed_widths, 8, False, "cpu")
        with compiling_in_background(warm_up, print, processes=2) as warming:
            print(*(p.pid for p in warming.processes), flush=True)
            if sys.argv[1] == "killed":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(600)
    """
)


@pytest.mark.parametrize("how", ["ctrl-c", "killed"])
def test_a_worker_that_ends_leaves_no_compiling_process_behind(cache: Path, tmp_path: Path, how: str) -> None:
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    worker = subprocess.Popen(
        [sys.executable, str(script), how], stdout=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    assert worker.stdout is not None
    pids = [int(pid) for pid in worker.stdout.readline().split()]
    assert len(pids) == 2
    if how == "ctrl-c":
        os.killpg(worker.pid, signal.SIGINT)  # as a terminal sends it: to every process of the group
    worker.wait(timeout=60)
    deadline = time.monotonic() + 60
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(_gone(pid) for pid in pids)


def test_only_per_width_compiling_warms_widths_in_the_background(
    tiny_spec: DataSpec, tiny_data: PreparedData
) -> None:
    run = RunConfig.from_preset("tiny", tiny_spec, tiny_data, 0)
    cpu = torch.device("cpu")
    warm_up = background_warm_up(run, cpu, "static")
    assert warm_up is not None and sorted(warm_up.widths) == list(TINY.budget.allowed_widths)
    assert warm_up.widths[:3] == (UNIFORM_WIDTH, UNIFORM_WIDTH - 32, UNIFORM_WIDTH + 32)  # nearest first
    assert background_warm_up(run, cpu, "dynamic") is None and background_warm_up(run, cpu, "none") is None
    # The trainer's default on CPU compiles nothing, so nothing is warmed.
    assert TrainingObjective(tiny_data, cpu, progress=False).background_warm_up(run) is None
    assert TrainingObjective(tiny_data, cpu, False, "static").background_warm_up(run) == warm_up


def test_compile_workers_are_started_before_the_first_trial_and_stopped_after_the_last_where_trials_compile(
    tiny_spec: DataSpec, tiny_data: PreparedData, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    monkeypatch.setattr(compiling, "start_compile_workers", lambda: started.append("start"))
    monkeypatch.setattr(compiling, "stop_compile_workers", lambda: started.append("stop"))
    run = RunConfig.from_preset("tiny", tiny_spec, tiny_data, 0)
    cpu = torch.device("cpu")
    on_cpu = TrainingObjective(tiny_data, cpu, progress=False)
    on_cpu.prepare_compiling(run)  # CPU: nothing compiles
    on_cpu.finish_compiling()
    assert started == []
    modes: tuple[CompileMode, ...] = ("static", "dynamic")
    for mode in modes:
        objective = TrainingObjective(tiny_data, cpu, False, mode)
        objective.prepare_compiling(run)
        # Stopped when the worker's trials are done, once.
        objective.finish_compiling()
        objective.finish_compiling()
    assert started == ["start", "stop", "start", "stop"]
