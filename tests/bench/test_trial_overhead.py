import json
from pathlib import Path

import pytest

from bench import scaling, trial_overhead


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


def test_a_storage_that_does_not_exist_is_refused_and_not_created(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    storage = tmp_path / "studies.db"
    with pytest.raises(SystemExit) as refused:
        trial_overhead.main([str(storage), "--study", "absent"])
    assert refused.value.code == 2
    assert "does not exist" in capsys.readouterr().err
    assert not storage.exists()  # a refused command writes nothing
