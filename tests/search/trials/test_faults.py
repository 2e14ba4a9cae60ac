"""Faults: bad input refused before any training (existing studies untouched), crashed workers,
several workers on one storage, and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from search.run import main as run_main
from search.study.record import counts
from search.study.storage import open_storage, trial_id
from search.train import main as train_main
from search.trials.liveness import WorkerIdentity, dead_reason
from tests.search.test_run import wait_for_running_trial

POSTGRES = os.environ.get("HOURGLASS_TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(
    not POSTGRES, reason="HOURGLASS_TEST_POSTGRES_URL is not set (.ci/run sets it)"
)
PLUGIN = ["--objective", "tests.search.plugin_objective:score"]


def search(storage: str, *args: str, trials: int = 4, study: str = "S") -> int:
    return run_main(
        ["--trials", str(trials), "--preset", "tiny", "--storage", storage, "--study", study, *args]
    )


def snapshot(storage: str, study: str = "S") -> list[tuple]:
    loaded = optuna.load_study(study_name=study, storage=open_storage(storage))
    return [(t.number, t.state, t.value, sorted(t.user_attrs)) for t in loaded.get_trials()]


@pytest.fixture
def existing(tmp_path: Path, tiny_args: list[str]) -> str:
    """A study S with four finished trials, made with the fast plug-in objective."""
    storage = str(tmp_path / "studies.db")
    assert search(storage, *PLUGIN, *tiny_args) == 0
    return storage


BAD_RUN_OPTIONS = [
    (["--trials", "0"], "--trials: must be at least 1"),
    (["--trials", "-3"], "--trials: must be at least 1"),
    (["--preset", "huge"], "unknown preset 'huge'"),
    (["--space", "spiral"], "unknown space 'spiral'"),
    (["--tokenizer", "/nonexistent/tokenizer.json"], "tokenizer"),
    (["--storage", "postgresql://nobody@127.0.0.1:1/none"], "cannot open storage"),
    (["--study", "../escape"], "study name '../escape'"),
    (["--study", "a/b"], "study name 'a/b'"),
    (["--seed", "5"], "created with other settings"),
    (["--data", "/nonexistent/corpus"], "/nonexistent/corpus"),
    (["--gpus", "3"], "visible GPU"),
    (["--space", "hourglass", "--sampler", "moves"], "the moves sampler moves width between layers"),
]


@pytest.mark.parametrize(("options", "message"), BAD_RUN_OPTIONS, ids=[m for _, m in BAD_RUN_OPTIONS])
def test_bad_search_options_fail_before_training_and_leave_the_study(
    existing, tiny_args, options, message, capsys
):
    before = snapshot(existing)
    args = [*tiny_args, *options]
    if "--trials" in options:
        args = options + tiny_args
        assert run_main(["--preset", "tiny", "--storage", existing, "--study", "S", *args]) == 2
    else:
        assert search(existing, *args, trials=8) == 2
    assert message in capsys.readouterr().err
    assert snapshot(existing) == before


@pytest.mark.parametrize("option", ["--sampler", "--pruner"])
def test_unknown_sampler_or_pruner_is_refused(existing, option, capsys):
    with pytest.raises(SystemExit) as caught:
        search(existing, option, "nope")
    assert caught.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("problem", ["truncated zstd", "bad JSON line", "missing field", "empty file"])
def test_bad_data_is_refused_with_file_and_line_before_anything_is_stored(
    tmp_path, bad_data, problem, capsys
):
    storage = str(tmp_path / "fresh.db")
    path = bad_data[problem]
    assert search(storage, "--data", str(path), study="new") == 2
    err = capsys.readouterr().err
    assert path.name in err
    expected = {
        "truncated zstd": "truncated or corrupt zstd",
        "bad JSON line": "line 2: not valid JSON",
        "missing field": "line 1: no 'text' field",
        "empty file": "holds no documents",
    }[problem]
    assert expected in err
    assert not optuna.get_all_study_names(open_storage(storage))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"space": "composition", "baselines": [[4] * 11 + [5]]}, "sum is 49, budget is 48"),
        ({"space": "composition", "baselines": [[4] * 11]}, "schedule has 11 layers"),
        ({"space": "composition", "baselines": [[-1, 9] + [4] * 10]}, "below the minimum 1"),
        ({"space": "composition", "baselines": [[4.5, 3.5] + [4] * 10]}, "not a whole number"),
        ({"space": "composition", "baselines": [[17, 1, 1] + [3] * 9]}, "above the maximum 16"),
        ({"space": "composition", "colour": "blue"}, "Extra inputs are not permitted"),
        ({"space": "composition", "min_mult": 9}, "cannot be spent"),
    ],
)
def test_bad_settings_files_are_refused(tmp_path, tiny_args, settings, message, capsys):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings))
    assert search(str(tmp_path / "s.db"), "--space", str(path), *tiny_args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("mults", "message"),
    [
        ("4,4,4,4,4,4,4,4,4,4,4,5", "sum is 49, budget is 48"),
        ("4,4,4,4,4,4,4,4,4,4,4", "schedule has 11 layers"),
        ("-1,9,4,4,4,4,4,4,4,4,4,4", "layer 0: multiplier -1 is below the minimum 1"),
        ("4.5,3.5,4,4,4,4,4,4,4,4,4,4", "layer 0: multiplier 4.5 is not a whole number"),
        ("17,1,1,3,3,3,3,3,3,3,3,3", "layer 0: multiplier 17 is above the maximum 16"),
        ("4,x,4,4,4,4,4,4,4,4,4,4", "layer 1: 'x' is not a number"),
    ],
)
def test_bad_schedules_are_refused_by_search_train(tiny_args, mults, message, capsys):
    assert train_main(["--preset", "tiny", f"--mults={mults}", *tiny_args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c | {"learning_rate": 1.0}, "Extra inputs are not permitted"),
        (lambda c: c | {"params": c["params"] + 1}, "but the model has"),
        (
            lambda c: {
                **c,
                "model": {**c["model"], "schedule": {**c["model"]["schedule"], "mults": [5] * 12}},
            },
            "sum is 60, budget is 48",
        ),
        (lambda c: {**c, "model": {**c["model"], "dropout": 0.1}}, "model.dropout"),
    ],
)
def test_bad_config_files_are_refused(tmp_path, existing, change, message, capsys):
    from search.best import main as best_main

    good = tmp_path / "good.json"
    assert best_main(["--study", "S", "--storage", existing, "--out", str(good)]) == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(change(json.loads(good.read_text()))))
    assert train_main(["--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(bad) in err


def _in_memory_study() -> tuple[optuna.Study, optuna.storages.BaseStorage]:
    storage = optuna.storages.InMemoryStorage()
    return optuna.create_study(storage=storage), storage


def test_a_dead_worker_on_another_host_is_found_by_its_heartbeat():
    study, storage = _in_memory_study()
    trial = study.ask()
    held = trial_id(storage, study.study_name, trial.number)
    for key, value in {
        "hourglass_host": "elsewhere",
        "hourglass_boot": "b",
        "hourglass_pid": 1,
        "hourglass_start": "1",
        "hourglass_heartbeat": time.time(),
    }.items():
        storage.set_trial_system_attr(held, key, value)
    me = WorkerIdentity.current()
    frozen = storage.get_trial(held)
    assert dead_reason(frozen, me) is None
    assert "sent no heartbeat" in dead_reason(frozen, me, now=time.time() + 3600)


def test_a_live_worker_on_this_host_is_alive_and_a_gone_one_is_dead():
    study, storage = _in_memory_study()
    mine = trial_id(storage, study.study_name, study.ask().number)
    me = WorkerIdentity.current()
    me.register(storage, mine)
    assert dead_reason(storage.get_trial(mine), me) is None
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    gone = WorkerIdentity(me.host, me.boot, child.pid, "0", me.pid_namespace)
    other = trial_id(storage, study.study_name, study.ask().number)
    gone.register(storage, other)
    assert "is gone" in dead_reason(storage.get_trial(other), me)


def soak(storage: str, tiny_args: list[str], workers: int, trials: int, tmp_path: Path) -> list:
    command = [
        sys.executable,
        "-m",
        "search.run",
        "--trials",
        str(trials),
        "--workers",
        str(workers),
        "--preset",
        "tiny",
        "--tokens",
        "2k",
        "--storage",
        storage,
        "--study",
        "soak",
        *tiny_args,
    ]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "locked" not in output.lower() and "Traceback" not in output
    return optuna.load_study(study_name="soak", storage=open_storage(storage)).get_trials()


def check_soaked(trials: list, target: int) -> None:
    assert sum(counts(t) for t in trials) == target
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    trained = [t.user_attrs["schedule_key"] for t in trials if counts(t)]
    assert len(trained) == len(set(trained)), "a schedule was trained twice"
    assert not [t for t in trials if t.user_attrs.get("outcome") == "error"]


def test_four_workers_share_the_default_storage(tmp_path, tiny_args):
    check_soaked(soak(str(tmp_path / "studies.db"), tiny_args, workers=4, trials=12, tmp_path=tmp_path), 12)


@needs_postgres
def test_two_workers_share_a_postgresql_study(tmp_path, tiny_args):
    _drop_study(POSTGRES, "soak")
    check_soaked(soak(POSTGRES, tiny_args, workers=2, trials=6, tmp_path=tmp_path), 6)


@needs_postgres
def test_a_worker_killed_mid_trial_on_postgresql_costs_only_its_trial(tmp_path, tiny_args):
    _drop_study(POSTGRES, "K")
    command = [
        sys.executable,
        "-m",
        "search.run",
        "--trials",
        "3",
        "--preset",
        "tiny",
        "--tokens",
        "64k",
        "--storage",
        POSTGRES,
        "--study",
        "K",
        *tiny_args,
    ]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        victim = wait_for_running_trial(POSTGRES, "K", timeout_s=120)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert run_main(command[3:]) == 0
    trials = optuna.load_study(study_name="K", storage=open_storage(POSTGRES)).get_trials()
    assert trials[victim].user_attrs["outcome"] == "crashed"
    assert [t for t in trials if t.user_attrs.get("retry_of") == victim]
    assert sum(counts(t) for t in trials) == 3 and not [t for t in trials if t.state == TrialState.RUNNING]


def _drop_study(url: str, name: str) -> None:
    storage = open_storage(url)
    if name in optuna.get_all_study_names(storage):
        optuna.delete_study(study_name=name, storage=storage)


def test_a_worker_in_another_pid_namespace_is_judged_by_its_heartbeat():
    """Containers on one host share hostname and boot id: a pid there is not a process here."""
    study, storage = _in_memory_study()
    held = trial_id(storage, study.study_name, study.ask().number)
    me = WorkerIdentity.current()
    assert me.pid_namespace.startswith("pid:")
    elsewhere = WorkerIdentity(me.host, me.boot, 999_999, "1", "pid:[1]")  # no such process here
    elsewhere.register(storage, held)
    frozen = storage.get_trial(held)
    assert dead_reason(frozen, me) is None  # its heartbeat is fresh
    assert "sent no heartbeat" in dead_reason(frozen, me, now=time.time() + 3600)
