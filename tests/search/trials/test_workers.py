import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from search.options.search_options import read_search_options
from search.study.record import counts
from search.study.storage import open_storage
from search.training.run_config import RunConfig
from search.trials.plan import make_plan, open_worker_plan, plan_for_worker
from search.trials.spawning import cores_per_worker
from tests.search.trials.test_faults import POSTGRES, needs_postgres

PROJECT = Path(__file__).resolve().parents[3]
# The folder where meet() leaves one file per worker process, and how long it then holds a trial.
MEETING = "HOURGLASS_TEST_MEETING"
HOLD_S = "HOURGLASS_TEST_HOLD_S"


def meet(config: RunConfig, report: object) -> float:
    """An objective that waits until two worker processes run a trial each, then holds its trial
    for $HOURGLASS_TEST_HOLD_S seconds: both workers get trials, however fast this machine."""
    folder = Path(os.environ[MEETING])
    (folder / str(os.getpid())).touch()
    deadline = time.monotonic() + 120
    while len(list(folder.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(float(os.environ.get(HOLD_S, "0")))
    return float(config.model.schedule.mults[0])


def test_workers_share_the_cores_and_each_gets_at_least_one():
    cores = len(os.sched_getaffinity(0))
    assert cores_per_worker(1) == cores
    assert cores_per_worker(cores) == 1
    assert cores_per_worker(4 * cores) == 1
    assert cores_per_worker(2) * 2 <= max(2, cores)


def test_a_worker_receives_the_checked_plan_without_checking_it_again(tmp_path, tiny_args):
    options = read_search_options(
        None,
        [
            "--preset",
            "tiny",
            "--workers",
            "2",
            "--storage",
            str(tmp_path / "s.db"),
            "--time-limit",
            "1h",
            *tiny_args,
        ],
    )
    plan = make_plan(options, log=False)
    received = open_worker_plan(pickle.loads(pickle.dumps(plan_for_worker(plan))))
    assert received.workers == 1 and received.gpus == () and received.settings == plan.settings
    # Every worker finishes by the one deadline, set when the command was read.
    assert plan.deadline is not None and received.deadline == plan.deadline
    assert 0 < plan.deadline - time.time() <= 3600
    assert received.settings.base.provenance == plan.settings.base.provenance  # no second git call
    assert received.prepared is not None and plan.prepared is not None
    sent, got = plan.prepared.tokens, received.prepared.tokens
    assert isinstance(got.train, np.memmap) and got.key == sent.key and not got.built
    assert np.array_equal(got.train, sent.train) and np.array_equal(got.val, sent.val)
    assert received.prepared.tokenizer.sha256 == plan.prepared.tokenizer.sha256


def _start(
    tmp_path: Path, tiny_args: list[str], trials: int, hold_s: float, storage: str | None = None
) -> subprocess.Popen:
    """``search.run`` with 2 CPU workers and the meet() objective, in a session of its own."""
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    env = {**os.environ, MEETING: str(meeting), HOLD_S: str(hold_s), "PYTHONPATH": str(PROJECT)}
    command = [sys.executable, "-m", "search.run", "--trials", str(trials), "--workers", "2",
               "--preset", "tiny", "--storage", storage or str(tmp_path / "studies.db"), "--study", "W",
               "--objective", "tests.search.trials.test_workers:meet", *tiny_args]  # fmt: skip
    return subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _trials(storage: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name="W", storage=open_storage(storage)).get_trials()


@pytest.mark.parametrize(
    "postgres",
    [False, pytest.param(True, marks=needs_postgres)],
    ids=["journal", "postgresql"],
)
def test_with_two_workers_this_process_runs_trials_beside_a_spawned_one(tmp_path, tiny_args, postgres):
    storage = POSTGRES if postgres and POSTGRES else str(tmp_path / "studies.db")
    if postgres and "W" in optuna.get_all_study_names(open_storage(storage)):
        optuna.delete_study(study_name="W", storage=open_storage(storage))
    process = _start(tmp_path, tiny_args, trials=4, hold_s=0, storage=storage)
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    assert "2 workers finished (exit codes [0, 0])" in output and "Traceback" not in output
    trials = _trials(storage)
    assert sum(counts(t) for t in trials) == 4
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    pids = {t.system_attrs["hourglass_pid"] for t in trials if counts(t)}
    assert len(pids) == 2 and process.pid in pids


def _interrupt(process: subprocess.Popen, meeting: Path, signals: list[tuple[float, bool]]) -> str:
    """Once both workers met, send each (delay in seconds, whether to the whole group) as SIGINT to
    the group (a terminal's Ctrl-C) or SIGTERM to the parent alone; its output once it ended."""
    try:
        deadline = time.monotonic() + 300
        while len(list(meeting.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        for delay_s, group in signals:
            time.sleep(delay_s)
            if group:
                os.killpg(process.pid, signal.SIGINT)
            else:
                process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return output


@pytest.mark.parametrize("ctrl_c", [True, False], ids=["ctrl-c", "sigterm-to-the-parent"])
def test_an_interrupt_records_every_workers_trial_and_leaves_none_running(tmp_path, tiny_args, ctrl_c):
    process = _start(tmp_path, tiny_args, trials=4, hold_s=600)
    output = _interrupt(process, tmp_path / "meeting", [(0.0, ctrl_c)])
    assert process.returncode == 130, output
    trials = _trials(str(tmp_path / "studies.db"))
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    interrupted = [t for t in trials if t.user_attrs.get("outcome") == "interrupted"]
    pids = {t.system_attrs["hourglass_pid"] for t in interrupted}
    assert len(interrupted) == 2 and len(pids) == 2 and process.pid in pids


@pytest.mark.parametrize(
    "signals",
    [[(0.0, True)], [(0.6, True)], [(1.3, True), (0.2, True)], [(2.1, True)]],
    ids=["at-once", "0.6s", "1.3s-twice", "2.1s"],
)
def test_ctrl_c_at_any_moment_stops_the_study_cleanly(tmp_path, tiny_args, signals):
    """Trials here take a moment of training and much more bookkeeping (the journal, the note), so
    interrupts at these delays land in writes to the study as often as in training."""
    process = _start(tmp_path, tiny_args, trials=500, hold_s=0)
    output = _interrupt(process, tmp_path / "meeting", signals)
    assert process.returncode == 130, output
    trials = _trials(str(tmp_path / "studies.db"))  # the journal still reads
    assert not [t for t in trials if t.state == TrialState.RUNNING], output
    assert sum(counts(t) for t in trials) < 500
