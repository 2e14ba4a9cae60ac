import json
import sys
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import FrozenTrial, TrialState

from bench import scaling
from search.study import record
from tests.search.trials.test_workers import HOLD_S, MEETING

PROJECT = Path(__file__).resolve().parents[2]


def test_steady_rate_sums_each_workers_rate_after_its_first_trial() -> None:
    workers = [
        {"worker": "a", "finished": 3, "first_start_s": 0.0, "first_done_s": 10.0, "last_done_s": 20.0},
        {"worker": "b", "finished": 5, "first_start_s": 6.0, "first_done_s": 16.0, "last_done_s": 56.0},
        {"worker": "c", "finished": 1, "first_start_s": 9.0, "first_done_s": 19.0, "last_done_s": 19.0},
    ]
    assert scaling.steady_trials_per_hour(workers) == pytest.approx((2 / 10 + 4 / 40) * 3600)


def test_study_efficiency_is_pure_training_time_over_gpu_time() -> None:
    def finished(tokens: int, rate: float) -> FrozenTrial:
        attrs = {record.TOKENS: tokens, record.TOKENS_PER_S: rate}
        return optuna.trial.create_trial(value=4.0, user_attrs=attrs)

    trials = [finished(20_000_000, 1_000_000.0), finished(20_000_000, 800_000.0)]
    pruned = optuna.trial.create_trial(state=TrialState.PRUNED, user_attrs={record.TOKENS: 4_000_000})
    # 20 s + 25 s of training on 2 GPUs over 30 s; a pruned trial's partial run does not count.
    assert scaling.study_efficiency([*trials, pruned], devices=2, wall_s=30.0) == pytest.approx(45 / 60)
    assert scaling.study_efficiency([optuna.trial.create_trial(value=1.0)], devices=1, wall_s=1.0) is None


def test_two_cpu_workers_report_the_study_they_ran(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(PROJECT)  # search.run imports the objective from the tests package
    (tmp_path / "meeting").mkdir()
    monkeypatch.setenv(MEETING, str(tmp_path / "meeting"))  # both workers get trials
    monkeypatch.setenv(HOLD_S, "0.2")
    storage = tmp_path / "studies.db"
    objective = "tests.search.trials.test_workers:meet"
    options = ["--", "--preset", "tiny", "--objective", objective]
    code = scaling.main(["--workers", "2", "--trials", "6", "--storage", str(storage), *options])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["finished"] == 6 and result["trials_per_hour"] > 0
    assert len(result["workers"]) == 2 and result["devices"] == 2
    assert result["study_efficiency"] is None  # the function objective records no training time
    assert sum(w["finished"] for w in result["workers"]) == 6
    first, second = result["workers"]
    assert 0 <= first["first_start_s"] <= second["first_start_s"] < result["wall_s"]
    assert all(w["first_done_s"] <= w["last_done_s"] < result["wall_s"] for w in result["workers"])
    last_done_s = max(w["last_done_s"] for w in result["workers"])
    assert result["exit_after_last_trial_s"] == pytest.approx(result["wall_s"] - last_done_s, abs=0.01)
    # A function objective records no compiling.
    assert all(w["first_trial_compile_s"] is None and w["later_compile_s"] is None for w in result["workers"])
    assert all(w["first_training_s"] is None for w in result["workers"])
    assert result["cold_caches"] is False


def test_a_cold_study_gets_empty_compile_caches_and_reports_its_compiling(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, corpus: Path
) -> None:
    env = scaling.cold_cache_env(tmp_path / "caches")
    for name in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR"):
        folder = Path(env[name])
        assert folder.is_relative_to(tmp_path) and folder.is_dir() and not any(folder.iterdir())
    tiny = ["--preset", "tiny", "--tokens", "4k", "--data", str(corpus / "tiny" / "train-00000.jsonl.zst"),
            "--val-data", str(corpus / "tiny" / "val-00000.jsonl.zst")]  # fmt: skip
    assert scaling.main(["--workers", "1", "--trials", "2", "--cold", "--", *tiny]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["cold_caches"] is True and result["finished"] == 2
    (worker,) = result["workers"]
    assert worker["first_trial_compile_s"] >= 0 and worker["later_compile_s"] >= 0
    assert worker["first_start_s"] < worker["first_training_s"] < worker["first_done_s"]


def test_a_cold_study_gets_an_empty_bytecode_folder_where_hourglass_keeps_bytecode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert "PYTHONPYCACHEPREFIX" not in scaling.cold_cache_env(tmp_path / "python-keeps-it")
    # As search.bytecode leaves a process on a host that writes no bytecode of its own.
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "kept"))
    monkeypatch.setattr(sys, "flags", SimpleNamespace(dont_write_bytecode=1))
    env = scaling.cold_cache_env(tmp_path / "caches")
    folder = Path(env["PYTHONPYCACHEPREFIX"])
    assert folder.is_relative_to(tmp_path / "caches") and folder.is_dir() and not any(folder.iterdir())
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"  # so the study's command keeps it as on a fresh host
