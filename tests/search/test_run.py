"""The search loop end to end on CPU: python -m search.run, the dashboard, export and reproduce."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from optuna_dashboard import get_note

from model.presets import get_preset
from search.best import main as best_main
from search.run import main as run_main
from search.study import record
from search.study.record import counts
from search.study.storage import is_url, open_storage
from search.train import main as train_main
from search.training.run_config import RunConfig
from search.trials.runner import EXIT_OUT_OF_TIME

HAND = [8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4]


def run(folder: Path, tiny_args: list[str], *extra: str, trials: int = 5, study: str = "S") -> int:
    settings = folder / "settings.json"
    settings.write_text(json.dumps({"space": "composition", "noise_seeds": 2}))
    return run_main(
        ["--trials", str(trials), "--preset", "tiny", "--storage", str(folder / "studies.db"),
         "--study", study, "--space", str(settings), *tiny_args, *extra]
    )  # fmt: skip


def load(folder: Path, name: str = "S") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(str(folder / "studies.db")))


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory, tiny_args: list[str]) -> Path:
    folder = tmp_path_factory.mktemp("study")
    assert run(folder, tiny_args) == 0
    return folder


def test_study_has_its_trials_baselines_first_with_everything_stored(study_dir: Path):
    trials = load(study_dir).get_trials()
    assert sum(counts(t) for t in trials) == 5
    assert [t.user_attrs.get("baseline") for t in trials[:3]] == ["uniform", "uniform", "hand-found"]
    assert [t.user_attrs["seed"] for t in trials[:3]] == [0, 1, 0]
    assert trials[2].user_attrs["mlp_mults"] == HAND
    for trial in trials:
        attrs = trial.user_attrs
        assert sum(attrs["mlp_mults"]) == 48 and len(attrs["mlp_mults"]) == 12
        assert [attrs[f"mlp_mult_l{i:02d}"] for i in range(12)] == attrs["mlp_mults"]
        if trial.state == TrialState.COMPLETE:
            for key in ("params", "val_loss", "val_bpb", "tokens_per_s", "wall_s", "compile_s", "loss_curve"):
                assert key in attrs, key
            assert attrs["val_loss"] == trial.value
            seconds = record.training_seconds(trial)
            assert seconds is not None and 0 < seconds < attrs["wall_s"]
            assert trial.intermediate_values  # the checkpoint before the final one
            config = RunConfig.model_validate(attrs["config"])
            assert config.train.checkpoints == get_preset("tiny").train.checkpoints  # median pruner
            assert list(config.model.schedule.mults) == attrs["mlp_mults"]
            assert config.provenance is not None and config.provenance.data_hash
            assert len(trial.system_attrs.get("artifacts", {}) or _artifact_ids(trial)) == 2
        else:
            assert attrs["reason"]


def _artifact_ids(trial: optuna.trial.FrozenTrial) -> list[str]:
    return [k for k in trial.system_attrs if k.startswith("artifacts:")]


def test_study_note_compares_best_with_baselines_and_noise(study_dir: Path):
    note = get_note(load(study_dir))
    assert "Best" in note and "uniform" in note and "hand-found" in note and "Seed noise" in note


def test_running_again_completes_the_remainder_and_then_nothing(study_dir: Path, tiny_args: list[str]):
    assert run(study_dir, tiny_args, trials=6) == 0
    assert sum(counts(t) for t in load(study_dir).get_trials()) == 6
    before = len(load(study_dir).get_trials())
    assert run(study_dir, tiny_args, trials=6) == 0
    assert len(load(study_dir).get_trials()) == before


HOLD_S = 1.0


def hold(config: RunConfig, report: object) -> float:
    """An objective that takes HOLD_S seconds a trial."""
    time.sleep(HOLD_S)
    return float(config.model.schedule.mults[0])


def test_a_time_limit_starts_no_trial_that_would_not_fit_and_the_same_command_continues(
    tmp_path: Path, tiny_args: list[str], capsys
):
    objective = ("--objective", "tests.search.test_run:hold")
    started = time.monotonic()
    assert run(tmp_path, tiny_args, *objective, "--time-limit", "6s", trials=50) == EXIT_OUT_OF_TIME
    took = time.monotonic() - started
    trials = load(tmp_path).get_trials()
    done = sum(counts(t) for t in trials)
    assert 2 <= done < 50 and not [t for t in trials if t.state == TrialState.RUNNING]
    out = capsys.readouterr().out
    stopped = "a trial takes about 1 s, so none starts; run the same command to continue"
    assert f"{stopped}; the study has {done} of 50 trials" in out
    # Each trial takes a second: without the limit the run would have lasted 50.
    assert took < 6 + 2 * HOLD_S + 5
    assert run(tmp_path, tiny_args, *objective, trials=done + 2) == 0
    assert sum(counts(t) for t in load(tmp_path).get_trials()) == done + 2


def test_other_settings_are_refused_and_the_study_is_untouched(study_dir: Path, tiny_args: list[str], capsys):
    before = len(load(study_dir).get_trials())
    assert run(study_dir, tiny_args, "--seed", "3", trials=9) == 2
    assert "created with other settings" in capsys.readouterr().err
    assert len(load(study_dir).get_trials()) == before


def test_a_refused_run_leaves_its_compile_cache_unmade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)  # restored after the test: search.run sets them
    kernels = tmp_path / "kernels"
    argv = ["--compile-cache", str(kernels), "--data", str(tmp_path / "missing.jsonl")]
    assert run_main([*argv, "--storage", str(tmp_path / "studies.db")]) == 2
    assert not kernels.exists() and not (tmp_path / "studies.db").exists()


def test_a_repeated_schedule_is_not_trained_again(study_dir: Path, tiny_args: list[str]):
    study = load(study_dir)
    uniform = study.get_trials()[0]
    study.enqueue_trial(
        uniform.params,
        user_attrs={"queued_mults": [4] * 12, "seed": 0, "schedule_key": uniform.user_attrs["schedule_key"]},
    )
    target = sum(counts(t) for t in study.get_trials()) + 1
    assert run(study_dir, tiny_args, trials=target) == 0
    repeats = [t for t in load(study_dir).get_trials() if t.user_attrs.get("repeat_of") == 0]
    assert len(repeats) == 1
    assert repeats[0].state == TrialState.COMPLETE and repeats[0].value == uniform.value
    assert "val_bpb" not in repeats[0].user_attrs  # nothing was trained
    assert sum(counts(t) for t in load(study_dir).get_trials()) == target


def test_dashboard_opens_the_study_file_as_given(study_dir: Path):
    port = _free_port()
    dashboard = Path(sys.executable).with_name("optuna-dashboard")
    process = subprocess.Popen(
        [str(dashboard), str(study_dir / "studies.db"), "--port", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        studies = _get_json(f"http://127.0.0.1:{port}/api/studies", wait_s=30)
        [summary] = [s for s in studies["study_summaries"] if s["study_name"] == "S"]
        detail = _get_json(f"http://127.0.0.1:{port}/api/studies/{summary['study_id']}", wait_s=5)
        assert len(detail["trials"]) == len(load(study_dir).get_trials())
        attrs = {a["key"] for a in detail["trials"][0]["user_attrs"]}
        assert {"mlp_mults", "val_loss", "params"} <= attrs
        # Every trial's schedule and loss curve, shown with no --artifact-dir.
        figures = {g["id"]: json.loads(g["graph_object"]) for g in detail["plotly_graph_objects"]}
        completed = record.completed(load(study_dir).get_trials())
        [heatmap] = figures["schedules"]["data"]
        assert sorted(heatmap["z"]) == sorted(t.user_attrs["mlp_mults"] for t in completed)
        curves = figures["loss-curves"]["data"]
        assert len(curves) == len(completed) and all(len(c["y"]) > 1 for c in curves)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_best_config_exports_and_trains_to_the_same_loss(study_dir: Path, tmp_path: Path):
    out = tmp_path / "best.json"
    assert best_main(["--study", "S", "--storage", str(study_dir / "studies.db"), "--out", str(out)]) == 0
    best = min(
        (
            t
            for t in load(study_dir).get_trials()
            if t.state == TrialState.COMPLETE and t.user_attrs["seed"] == 0
        ),
        key=lambda t: t.value,
    )
    results = tmp_path / "repro.json"
    assert train_main(["--config", str(out), "--out", str(results)]) == 0
    reproduced = json.loads(results.read_text())["result"]["val_loss"]
    assert reproduced == best.value
    assert results.with_suffix(".curve.png").exists() and results.with_suffix(".curve.csv").exists()


def test_without_a_pruner_trials_validate_only_at_the_end_and_export_so(tmp_path: Path, tiny_args: list[str]):
    assert run(tmp_path, tiny_args, "--pruner", "none", trials=2, study="N") == 0
    completed = record.completed(load(tmp_path, "N").get_trials())
    assert len(completed) == 2
    for trial in completed:
        assert RunConfig.model_validate(record.run_config(trial)).train.checkpoints == 0
        assert trial.intermediate_values == {}
        assert len(_artifact_ids(trial)) == 2  # the loss curve is drawn with its one validation
    assert "at the end of each trial only" in get_note(load(tmp_path, "N"))
    out, results = tmp_path / "best.json", tmp_path / "repro.json"
    assert best_main(["--study", "N", "--storage", str(tmp_path / "studies.db"), "--out", str(out)]) == 0
    exported = RunConfig.model_validate_json(out.read_text())
    assert exported.train.checkpoints == 0 and exported.origin is not None
    assert train_main(["--config", str(out), "--out", str(results)]) == 0
    assert json.loads(results.read_text())["result"]["val_loss"] == exported.origin.observed_loss


def test_a_resumed_study_keeps_its_checkpoints_whatever_the_pruner(
    tmp_path: Path, tiny_args: list[str], capsys
):
    # A study created with a pruner validates as every study did before --pruner none skipped the
    # checkpoints; resumed without one, it keeps validating so.
    assert run(tmp_path, tiny_args, trials=1, study="P") == 0
    assert run(tmp_path, tiny_args, "--pruner", "none", trials=2, study="P") == 0
    assert "train.checkpoints 2 (now 0)" in capsys.readouterr().out
    [_, resumed] = record.completed(load(tmp_path, "P").get_trials())
    assert RunConfig.model_validate(record.run_config(resumed)).train.checkpoints == 2
    assert resumed.intermediate_values
    # The other way round: a study made without a pruner gives one asked later nothing to act on.
    assert run(tmp_path, tiny_args, "--pruner", "none", trials=1, study="N") == 0
    assert run(tmp_path, tiny_args, "--pruner", "median", trials=2, study="N") == 0
    assert "--pruner median prunes no trial" in capsys.readouterr().out
    [_, resumed] = record.completed(load(tmp_path, "N").get_trials())
    assert RunConfig.model_validate(record.run_config(resumed)).train.checkpoints == 0
    assert resumed.intermediate_values == {}


def test_a_deterministic_study_exports_deterministic_training(tmp_path: Path, tiny_args: list[str], capsys):
    assert run(tmp_path, tiny_args, "--deterministic", trials=2, study="D") == 0
    out = tmp_path / "best.json"
    assert best_main(["--study", "D", "--storage", str(tmp_path / "studies.db"), "--out", str(out)]) == 0
    assert RunConfig.model_validate_json(out.read_text()).train.deterministic
    # Resuming it with other kernels would mix two kinds of trials in one study.
    assert run(tmp_path, tiny_args, trials=3, study="D") == 2
    assert "created with other settings" in capsys.readouterr().err


def test_a_worker_killed_mid_trial_costs_only_its_trial(tmp_path: Path, tiny_args: list[str]):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"space": "composition", "noise_seeds": 1}))
    command = [
        sys.executable,
        "-m",
        "search.run",
        "--trials",
        "4",
        "--preset",
        "tiny",
        "--tokens",
        "64k",
        "--storage",
        str(tmp_path / "studies.db"),
        "--study",
        "K",
        "--space",
        str(settings),
        *tiny_args,
    ]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        victim = wait_for_running_trial(str(tmp_path / "studies.db"), "K", timeout_s=120)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert run_main(command[3:]) == 0
    trials = load(tmp_path, "K").get_trials()
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    killed = trials[victim]
    assert killed.state == TrialState.FAIL and killed.user_attrs["outcome"] == "crashed"
    assert "worker died" in killed.user_attrs["reason"]
    retried = [t for t in trials if t.user_attrs.get("retry_of") == victim]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE
    assert retried[0].user_attrs["schedule_key"] == killed.user_attrs["schedule_key"]
    assert sum(counts(t) for t in trials) == 4


def test_a_users_objective_replaces_the_trainer(tmp_path: Path, tiny_args: list[str]):
    assert run(tmp_path, tiny_args, "--objective", "tests.search.plugin_objective:score", trials=6) == 0
    trials = load(tmp_path).get_trials()
    for trial in trials:
        expected = sum((m - t) ** 2 for m, t in zip(trial.user_attrs["mlp_mults"], HAND, strict=True))
        assert trial.value == expected
    assert min(t.value for t in trials) == 0.0  # the hand-found baseline is the target
    out = tmp_path / "best.json"
    assert best_main(["--study", "S", "--storage", str(tmp_path / "studies.db"), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["model"]["schedule"]["mults"] == HAND


@pytest.mark.parametrize(
    "spec", ["nomodule_at_all:score", "tests.search.plugin_objective:missing", "nocolon"]
)
def test_a_bad_objective_is_refused_before_the_study_is_created(
    tmp_path: Path, tiny_args: list[str], spec, capsys
):
    assert run(tmp_path, tiny_args, "--objective", spec) == 2
    assert "objective" in capsys.readouterr().err
    assert not (tmp_path / "studies.db").exists() or not optuna.get_all_study_names(
        open_storage(str(tmp_path / "studies.db"))
    )


def test_wandb_logs_one_offline_run_per_trial(tmp_path: Path, tiny_args: list[str], monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    assert run(tmp_path, tiny_args, "--wandb", trials=1) == 0
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    # An offline run keeps its config, history and summary in one record log until it is synced.
    [log] = runs[0].glob("run-*.wandb")
    records = log.read_bytes()
    assert b"mults" in records and b"train/loss" in records and b"val_loss" in records


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str, wait_s: float) -> dict:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def wait_for_running_trial(storage: str, name: str, timeout_s: float) -> int:
    """The number of the first trial that is running with its worker registered."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if is_url(storage) or Path(storage).exists():
            opened = open_storage(storage)
            if name in optuna.get_all_study_names(opened):
                for trial in optuna.load_study(study_name=name, storage=opened).get_trials(
                    states=(TrialState.RUNNING,)
                ):
                    if "hourglass_pid" in trial.system_attrs and "config" in trial.user_attrs:
                        return trial.number
        time.sleep(0.2)
    raise TimeoutError("no trial started running")
