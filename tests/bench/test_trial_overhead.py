import json
from pathlib import Path

import optuna
import pytest

from bench import scaling, trial_overhead
from search.study import record


def test_a_studys_later_trials_cycle_and_training_are_reported_with_the_pooled_share(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, corpus: Path
) -> None:
    storage = tmp_path / "studies.db"
    tiny = ["--preset", "tiny", "--tokens", "4k", "--data", str(corpus / "tiny" / "train-00000.jsonl.zst"),
            "--val-data", str(corpus / "tiny" / "val-00000.jsonl.zst")]  # fmt: skip
    assert scaling.main(["--workers", "1", "--trials", "3", "--storage", str(storage), "--", *tiny]) == 0
    capsys.readouterr()
    assert trial_overhead.main([str(storage)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    # One worker, three trials: its first carries the start-up, so two cycles.
    assert result["study"] == scaling.STUDY and result["trials"] == 2 and len(lines) == 4
    assert 0 < result["pure_training_s"] < result["cycle_s"]
    assert 0 < result["overhead_share"] <= result["overhead_share_at_most"] < 1
    # The mean trial's parts add up to its mean cycle, training first.
    parts = result["mean_s"]
    assert parts["training"] == pytest.approx(result["pure_training_s"] / 2, abs=5e-3)
    assert sum(parts.values()) == pytest.approx(result["cycle_s"] / 2, abs=1e-2)
    assert parts["setting_up"] > 0 and parts["evaluating"] > 0
    # The queue starts with uniform at three seeds: the later two bring no new width.
    compiling = result["compiling"]
    assert compiling["no_new_width"]["trials"] == 2 and compiling["new_widths"]["trials"] == 0
    assert compiling["new_widths"]["per_width"] == {"min_s": None, "max_s": None}


def test_a_width_is_new_to_a_worker_until_one_of_its_trials_has_trained_it() -> None:
    schedules = [(4, 4, 4), (8, 2, 2), (2, 8, 2), (4, 3, 5), (8, 4, 0)]
    study = optuna.create_study()
    for mults in schedules:
        study.add_trial(optuna.trial.create_trial(value=1.0, user_attrs={record.MLP_MULTS: list(mults)}))
    trials = study.get_trials()
    new = trial_overhead.new_widths_by_trial(trials)
    assert [new[t.number] for t in trials] == [1, 2, 0, 2, 1]


def test_compiling_is_split_by_new_widths_with_seconds_per_new_width() -> None:
    rows = [
        {"compile_s": 0.1, "new_widths": 0},
        {"compile_s": 0.2, "new_widths": 0},
        {"compile_s": 1.2, "new_widths": 3},
        {"compile_s": 0.5, "new_widths": 1},
    ]
    split = trial_overhead.compiling_by_new_widths(rows)
    assert split["no_new_width"] == {"trials": 2, "min_s": 0.1, "max_s": 0.2}
    assert split["new_widths"] == {
        "trials": 2, "widths": 4, "min_s": 0.5, "max_s": 1.2, "per_width": {"min_s": 0.4, "max_s": 0.5},
    }  # fmt: skip


def test_a_storage_that_does_not_exist_is_refused_and_not_created(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    storage = tmp_path / "studies.db"
    with pytest.raises(SystemExit) as refused:
        trial_overhead.main([str(storage), "--study", "absent"])
    assert refused.value.code == 2
    assert "does not exist" in capsys.readouterr().err
    assert not storage.exists()  # a refused command writes nothing
