"""Spawned workers start as soon as the options say how many: they import while this process checks
and prepares, then receive its checked plan, or end without a word if the run is refused or its
parent is gone."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import search.run
from search.options.search_options import SearchOptions, read_search_options
from search.run import main as run_main
from search.study.record import counts
from search.study.storage import open_storage
from search.training.devices import driver_gpu_count
from search.trials import spawning, workers
from search.trials.plan import SearchPlan, make_plan, open_plan_study, plan_for_worker
from search.trials.spawning import Children, early_children, expected_workers, start_children
from tests.search.trials.test_workers import MEETING, PROJECT

PLUGIN = ["--objective", "tests.search.plugin_objective:score"]
# search.run's arguments up to the storage's path.
_ARGV = ["--preset", "tiny", "--study", "E", "--trials", "4", "--storage"]


def _options(tmp_path: Path, tiny_args: list[str], *extra: str) -> SearchOptions:
    return read_search_options(None, [*_ARGV, str(tmp_path / "studies.db"), *tiny_args, *extra])


def _catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler for ``signum`` (SigCgt in /proc: its bits 1, 2, ...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    raise AssertionError(f"no SigCgt line for process {pid}")


def _environment(pid: int) -> list[str]:
    """The environment process ``pid`` was started with (empty in /proc for a moment after exec)."""
    deadline = time.monotonic() + 60
    while not (entries := Path(f"/proc/{pid}/environ").read_bytes()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return entries.decode().split("\0")


def test_the_workers_expected_follow_the_gpus_else_the_workers_option(tmp_path, tiny_args, monkeypatch):
    def expected(gpus_seen: int, *extra: str) -> tuple[tuple[int, ...], int]:
        monkeypatch.setattr(spawning, "driver_gpu_count", lambda: gpus_seen)
        return expected_workers(_options(tmp_path, tiny_args, *extra))

    assert expected(0) == ((), 1)
    assert expected(0, "--workers", "3") == ((), 3)
    assert expected(2) == ((0, 1), 2)
    assert expected(2, "--workers", "3") == ((0, 1), 2)  # one per GPU, as make_plan does
    assert expected(4, "--gpus", "1,3") == ((1, 3), 2)
    assert expected(4, "--gpus", "2") == ((2,), 1)
    assert expected(2, "--gpus", "0,2") == ((), 1)  # refused by make_plan: nothing to start
    assert expected(0, "--gpus", "0,1", "--workers", "2") == ((), 1)


def test_the_driver_counts_the_gpus_torch_counts():
    import torch

    assert driver_gpu_count() == torch.cuda.device_count()


def test_a_single_worker_starts_no_child(tmp_path, tiny_args):
    with early_children(_options(tmp_path, tiny_args)) as children:
        assert children is None
    assert not multiprocessing.active_children()


def _record_starts(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[Children]]:
    """Spy on ``search.run``: the order in which children are started and the plan is made, and
    every set of children started."""
    events: list[str] = []
    started: list[Children] = []

    def start(gpus: tuple[int, ...], workers: int) -> Children:
        events.append("children")
        started.append(start_children(gpus, workers))
        return started[-1]

    def plan(options: SearchOptions, log: bool = True) -> SearchPlan:
        events.append("plan")
        return make_plan(options, log)

    monkeypatch.setattr(spawning, "start_children", start)
    monkeypatch.setattr(workers, "start_children", start)
    monkeypatch.setattr(search.run, "make_plan", plan)
    return events, started


def test_children_start_before_the_plan_is_made_then_run_its_trials(tmp_path, tiny_args, monkeypatch):
    events, started = _record_starts(monkeypatch)
    (tmp_path / "meeting").mkdir()
    monkeypatch.setenv(MEETING, str(tmp_path / "meeting"))
    meet = ["--objective", "tests.search.trials.test_workers:meet"]
    options = _options(tmp_path, tiny_args, "--workers", "2", *meet)
    assert run_main([*_ARGV, options.storage, *tiny_args, "--workers", "2", *meet]) == 0
    assert events == ["children", "plan"]
    [child] = started[0].processes
    assert child.exitcode == 0
    trials = optuna.load_study(study_name="E", storage=open_storage(options.storage)).get_trials()
    assert sum(counts(t) for t in trials) == 4
    assert {t.system_attrs["hourglass_pid"] for t in trials} == {os.getpid(), child.pid}


def test_children_started_for_other_gpus_than_torch_sees_are_replaced(tmp_path, tiny_args, monkeypatch):
    events, started = _record_starts(monkeypatch)
    monkeypatch.setattr(spawning, "driver_gpu_count", lambda: 2)  # torch sees none here
    storage = str(tmp_path / "studies.db")
    assert run_main([*_ARGV, storage, *tiny_args, "--workers", "2", *PLUGIN]) == 0
    assert events == ["children", "plan", "children"]
    [early], [late] = (children.processes for children in started)
    assert early.exitcode == -signal.SIGTERM and late.exitcode == 0
    trials = optuna.load_study(study_name="E", storage=open_storage(storage)).get_trials()
    assert {t.system_attrs["hourglass_pid"] for t in trials if counts(t)} <= {os.getpid(), late.pid}


def test_children_see_their_own_gpu_from_their_start(tmp_path, tiny_args, monkeypatch):
    monkeypatch.setattr(spawning, "driver_gpu_count", lambda: 3)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with early_children(_options(tmp_path, tiny_args, "--gpus", "0,2")) as children:
        assert children is not None
        [child] = children.processes
        assert "CUDA_VISIBLE_DEVICES=2" in _environment(child.pid)
        assert "CUDA_VISIBLE_DEVICES" not in os.environ
    assert child.exitcode == -signal.SIGTERM  # never given a plan (make_plan would refuse here)


@pytest.mark.parametrize("refusal", ["missing data", "other settings"])
def test_a_refused_run_ends_its_children_and_writes_nothing(tmp_path, tiny_args, refusal, capfd, monkeypatch):
    storage = tmp_path / "studies.db"
    args = ["--preset", "tiny", "--storage", str(storage), "--study", "E", "--trials", "8", *tiny_args]
    if refusal == "other settings":
        assert run_main([*args, *PLUGIN]) == 0
        args += [*PLUGIN, "--seed", "5"]
    else:  # the built-in trainer's data, checked in make_plan
        args += ["--data", str(tmp_path / "missing.jsonl")]
    capfd.readouterr()
    before = storage.read_bytes() if storage.exists() else None
    events, started = _record_starts(monkeypatch)
    assert run_main([*args, "--workers", "2"]) == 2
    assert events == ["children", "plan"]
    [children] = started
    [child] = children.processes
    assert child.exitcode == -signal.SIGTERM and not multiprocessing.active_children()
    out, err = capfd.readouterr()
    assert out == "" and err.startswith("error: ") and "Traceback" not in err and "[worker" not in err, err
    assert (storage.read_bytes() if storage.exists() else None) == before


def test_a_ctrl_c_while_a_child_waits_stops_it_before_its_first_trial(tmp_path, tiny_args, capfd):
    options = _options(tmp_path, tiny_args, "--workers", "2", *PLUGIN)
    children = start_children((), 2)
    [child] = children.processes
    try:
        deadline = time.monotonic() + 120
        while not _catches(child.pid, signal.SIGINT):  # ignored until its entry notes it
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGINT)
        plan = make_plan(options, log=False)
        open_plan_study(plan, 0)
        children.send(plan_for_worker(plan))
        child.join(timeout=120)
    finally:
        children.dismiss()
    assert child.exitcode == 130
    trials = optuna.load_study(study_name="E", storage=open_storage(options.storage)).get_trials()
    assert {t.state for t in trials} == {TrialState.WAITING}  # the baselines, queued and never run
    assert "Traceback" not in capfd.readouterr().err


def test_a_child_whose_parent_dies_before_sending_the_plan_ends_quietly(tmp_path):
    code = (
        "import os, signal\n"
        "from search.trials.spawning import start_children\n"
        "children = start_children((), 2)\n"
        "print(children.processes[0].pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    # The output pipe closes once the child, which shares it, has ended too.
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == -signal.SIGKILL
    assert done.stderr == "" and done.stdout.strip().isdigit(), done.stdout + done.stderr
    status = Path(f"/proc/{done.stdout.strip()}/status")
    assert not status.exists() or "State:\tZ" in status.read_text()
