import json
from pathlib import Path

import optuna
import pytest

from bench import pruning
from search.run import main as run_main
from search.study.storage import open_storage


@pytest.fixture
def tiny_args(corpus: Path) -> list[str]:
    return ["--data", str(corpus / "tiny" / "train-00000.jsonl.zst"),
            "--val-data", str(corpus / "tiny" / "val-00000.jsonl.zst")]  # fmt: skip


def test_a_replay_prunes_a_trial_far_worse_than_five_earlier_ones_where_the_rule_judges():
    curves = [{100: loss, 200: loss, 300: loss} for loss in (1.0, 1.1, 1.2, 1.3, 1.4)] + [
        {100: 9.0, 200: 9.0, 300: 9.0},  # far worse throughout
        {100: 9.0, 200: 1.0, 300: 1.0},  # worse only at the first checkpoint
    ]
    finals = [1.0, 1.1, 1.2, 1.3, 1.4, 9.0, 0.9]
    rules = pruning.rules(marks=[100, 200, 300, 400], warmup_end=150)
    before = pruning.replay(curves, finals, rules["median from the first checkpoint (before 2026-11-30)"])
    assert before == [None] * 5 + [100, 100]
    assert pruning.replay(curves, finals, rules["median (now)"]) == [None] * 5 + [200, None]
    assert pruning.replay(curves, finals, rules["margin (now, the default)"]) == [None] * 5 + [200, None]


def test_rank_correlations_are_per_checkpoint_with_the_final_loss():
    curves = [{1: 1.0, 2: 3.0}, {1: 2.0, 2: 2.0}, {1: 3.0, 2: 1.0}]
    assert pruning.rank_correlations(curves, [1.0, 2.0, 3.0]) == pytest.approx({1: 1.0, 2: -1.0})


def test_a_real_studys_completed_trials_are_replayed_under_every_rule(tmp_path: Path, tiny_args, capsys):
    storage = tmp_path / "studies.db"
    argv = ["--preset", "tiny", "--trials", "7", "--storage", str(storage), "--study", "P", *tiny_args]
    assert run_main(argv) == 0
    capsys.readouterr()
    assert pruning.main([str(storage)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    completed = optuna.load_study(study_name="P", storage=open_storage(str(storage))).get_trials(
        states=(optuna.trial.TrialState.COMPLETE,)
    )
    assert figures["trials"] == len(completed) and figures["checkpoints"] == [10_752, 22_016]
    assert list(figures["rank_correlation"]) == ["10752", "22016"]
    assert len(figures["rules"]) == 4 and all(
        r["pruned"] <= figures["trials"] for r in figures["rules"].values()
    )
    # tiny's warm-up ends after 3 steps: today's rules judge only the second checkpoint.
    assert figures["rules"]["median (now)"]["pruned_at"]["10752"] == 0
    assert figures["rules"]["margin (now, the default)"]["pruned_at"]["10752"] == 0


def test_a_study_without_checkpoints_is_refused(tmp_path: Path, tiny_args, capsys):
    storage = tmp_path / "studies.db"
    argv = ["--preset", "tiny", "--trials", "2", "--pruner", "none", "--storage", str(storage), *tiny_args]
    assert run_main(argv) == 0
    with pytest.raises(SystemExit):
        pruning.main([str(storage)])
    assert "0 completed trials with checkpoints: 2 or more needed" in capsys.readouterr().err
