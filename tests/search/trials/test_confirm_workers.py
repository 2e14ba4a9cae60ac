"""search.confirm on several workers: the same runs as in one process, stored by the parent; a
worker that dies costs its run only. A confirmation stopped early stores an unfinished record."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from optuna_dashboard import get_note

from search import confirm as confirm_command
from search.findings.confirmation import CONFIRMATIONS_ATTR, RUNS_ATTR
from search.run import main as run_main
from tests.search.test_confirm import STUDY, copy_study, load, one_torch_thread


def stored_losses(storage: Path) -> dict[tuple[str, int], float]:
    return {(r["schedule"], r["seed"]): r["val_loss"] for r in load(storage).user_attrs[RUNS_ATTR]}


def test_two_workers_train_and_store_what_one_process_does(
    tmp_path_factory: pytest.TempPathFactory, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = copy_study(tmp_path_factory, corpus, tmp_path / "one")
    two = copy_study(tmp_path_factory, corpus, tmp_path / "two")
    args = ["--study", STUDY, "--top", "1", "--seeds", "2"]
    with one_torch_thread():
        assert confirm_command.main([*args, "--storage", str(one)]) == 0
    capsys.readouterr()
    assert confirm_command.main([*args, "--storage", str(two), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "training 5 runs on 2 workers" in out and out.count(": val_loss ") == 5
    # Every run stored once, each with the loss the same run had in one process (1 CPU thread each).
    assert stored_losses(two) == pytest.approx(stored_losses(one), abs=1e-6)
    assert len(load(two).user_attrs[RUNS_ATTR]) == 5
    (first,) = load(one).user_attrs[CONFIRMATIONS_ATTR]
    (second,) = load(two).user_attrs[CONFIRMATIONS_ATTR]
    assert second["verdict"] == first["verdict"] and second["trained"] == 5


DYING = "confirm_dying_objective"
DYING_SOURCE = '''
"""Scores a schedule by its distance from the hand-found one; its process dies on hand-found at seed 2."""
import os

HAND = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)


def score(config, report):
    mults = tuple(config.model.schedule.mults)
    if mults == HAND and config.seed == 2:
        os._exit(3)
    return float(sum((m - t) ** 2 for m, t in zip(mults, HAND, strict=True))) + 0.001 * config.seed
'''


@pytest.fixture
def dying_study(tmp_path: Path, tiny_args: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / f"{DYING}.py").write_text(DYING_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    storage = tmp_path / "studies.db"
    args = ["--trials", "4", "--preset", "tiny", "--study", STUDY, "--storage", str(storage)]
    assert run_main([*args, "--pruner", "none", "--objective", f"{DYING}:score", *tiny_args]) == 0
    yield storage
    sys.modules.pop(DYING, None)


def test_a_worker_that_dies_fails_its_run_and_the_others_train_the_rest(
    dying_study: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--study", STUDY, "--storage", str(dying_study), "--top", "1", "--seeds", "3", "--workers", "2"]
    assert confirm_command.main([*args, "--objective", f"{DYING}:score"]) == 0
    out = capsys.readouterr().out
    assert "ended with exit code 3" in out
    (record,) = load(dying_study).user_attrs[CONFIRMATIONS_ATTR]
    hand_found = next(r for r in record["schedules"] if r["name"] == "hand-found")
    assert set(hand_found["failed"]) == {"2"} and "ended with exit code 3" in hand_found["failed"]["2"]
    assert set(hand_found["losses"]) == {"1", "3"}
    for result in record["schedules"]:
        if result["name"] != "hand-found":
            assert set(result["losses"]) == {"1", "2", "3"}
    stored = stored_losses(dying_study)
    assert len(stored) == record["trained"] and all(seed != 0 for _, seed in stored)


def confirm_dying_on(storage: Path, condition: str) -> int:
    """``search.confirm`` of ``storage``'s study, top 1 at 3 seeds on 2 workers, whose objective's
    process dies on every run meeting ``condition``; its exit code."""
    module = storage.parent / f"{DYING}.py"
    module.write_text(DYING_SOURCE.replace("if mults == HAND and config.seed == 2:", f"if {condition}:"))
    sys.modules.pop(DYING, None)
    args = ["--study", STUDY, "--storage", str(storage), "--top", "1", "--seeds", "3", "--workers", "2"]
    return confirm_command.main([*args, "--objective", f"{DYING}:score"])


def test_when_every_worker_dies_the_runs_left_are_named_and_nothing_hangs(
    dying_study: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every run dies from now on: the confirmation's seeds are never the study's seed 0.
    assert confirm_dying_on(dying_study, "config.seed > 0") == 1
    captured = capsys.readouterr()
    assert captured.out.count("ended with exit code 3") == 2
    assert "error: every worker ended (exit codes 3, 3) with" in captured.err
    assert "run(s) not trained; finished runs are stored" in captured.err
    assert RUNS_ATTR not in load(dying_study).user_attrs
    assert CONFIRMATIONS_ATTR not in load(dying_study).user_attrs


def test_when_the_workers_die_after_some_runs_an_unfinished_record_shows_those_runs(
    dying_study: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Uniform and hand-found at seeds 1-3, uniform's 1 and 2 from the study. Seed by seed:
    # hand-found's seed 1 finishes, then each worker dies on a run of seed 2 or 3 (failed, not
    # missing) and the last run is left.
    assert confirm_dying_on(dying_study, "config.seed >= 2") == 1
    assert "finished runs are stored" in capsys.readouterr().err
    (record,) = load(dying_study).user_attrs[CONFIRMATIONS_ATTR]
    assert record["missing"] == 1 and record["winner"] is None and record["winner_against"] == {}
    assert record["verdict"].startswith("unfinished, 1 of 6 runs still to train")
    assert all("1" in r["losses"] for r in record["schedules"])
    assert record["trained"] == len(stored_losses(dying_study))


def test_a_confirmation_stopped_by_sigterm_stores_an_unfinished_record_and_continues_to_a_verdict(
    dying_study: Path,
) -> None:
    # As `timeout` stops it: SIGTERM, here sent by the objective itself as hand-found's seed 2 starts.
    module = dying_study.parent / f"{DYING}.py"
    module.write_text(
        DYING_SOURCE.replace("os._exit(3)", "os.kill(os.getpid(), __import__('signal').SIGTERM)")
    )
    args = ["--study", STUDY, "--storage", str(dying_study), "--top", "1", "--seeds", "3"]
    command = [sys.executable, "-m", "search.confirm", *args, "--objective", f"{DYING}:score"]
    path = os.pathsep.join([str(dying_study.parent), os.getcwd()])
    stopped = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path})
    assert stopped.returncode == 130, stopped.stderr
    assert "unfinished record in the study's note" in stopped.stderr
    (unfinished,) = load(dying_study).user_attrs[CONFIRMATIONS_ATTR]
    assert unfinished["missing"] == 3  # hand-found's seed 2, cut, and seed 3 of both
    assert unfinished["verdict"].startswith("unfinished, 3 of 6 runs still to train")
    assert "unfinished, 3 of 6 runs" in get_note(load(dying_study))

    module.write_text(DYING_SOURCE.replace("os._exit(3)", "pass"))
    finished = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path})
    assert finished.returncode == 0, finished.stderr
    assert "3 to train" in finished.stdout
    unfinished_again, complete = load(dying_study).user_attrs[CONFIRMATIONS_ATTR]
    assert unfinished_again == unfinished and complete["missing"] == 0
    assert not complete["verdict"].startswith("unfinished")


SLOW_SOURCE = '''
"""Scores a schedule slowly, holding a multiprocessing lock as the trainer's progress bar does."""
import time

from tqdm import tqdm


def score(config, report):
    tqdm(disable=True).close()
    time.sleep(0.5)
    return float(sum(config.model.schedule.mults[:3])) + 0.001 * config.seed
'''


def test_workers_ended_by_sigterm_exit_cleanly_and_leak_no_semaphores(dying_study: Path) -> None:
    # As `timeout` ends a command: SIGTERM to its whole process group, workers included.
    (dying_study.parent / f"{DYING}.py").write_text(SLOW_SOURCE)
    args = ["--study", STUDY, "--storage", str(dying_study), "--top", "1", "--seeds", "40", "--workers", "2"]
    command = [sys.executable, "-m", "search.confirm", *args, "--objective", f"{DYING}:score"]
    path = os.pathsep.join([str(dying_study.parent), os.getcwd()])
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
        start_new_session=True,
    ) as process:
        assert process.stdout is not None
        while "val_loss" not in process.stdout.readline():
            assert process.poll() is None, "the confirmation ended before its first run"
        os.killpg(process.pid, signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "leaked semaphore" not in err and "Traceback" not in err
