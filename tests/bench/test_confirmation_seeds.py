import statistics
from pathlib import Path

import optuna
import pytest
from scipy import stats

from bench import confirmation_seeds
from search.findings.confirmation import Confirmation, ScheduleResult, store_confirmation
from search.study.storage import open_storage

LOSSES = {
    "uniform": {1: 3.50, 2: 3.52, 3: 3.49},
    "hand-found": {1: 3.51, 2: 3.50, 3: 3.50},
    "trial 7": {1: 3.48, 2: 3.50, 3: 3.47},
}


def confirmation(seeds: list[int], confidence: float, missing: int = 0) -> Confirmation:
    results = [
        ScheduleResult(name=name, schedule=name, mults=(4, 4), losses=losses, status="within noise")
        for name, losses in LOSSES.items()
    ]
    return Confirmation(
        created=f"2026-12-01 look at {confidence}",
        study_tokens=1000,
        tokens=1000,
        seeds=seeds,
        confidence=confidence,
        reference="uniform",
        schedules=results,
        winner=None,
        verdict="no schedule beat uniform beyond noise",
        trained=0,
        reused=9,
        missing=missing,
    )


def study_with(tmp_path: Path, *records: Confirmation) -> Path:
    storage = tmp_path / "studies.db"
    study = optuna.create_study(study_name="S", storage=open_storage(str(storage)))
    for record in records:
        store_confirmation(study, record)
    return storage


def t_interval(values: list[float], level: float) -> str:
    half = stats.t.ppf((1 + level) / 2, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    mean = statistics.fmean(values)
    return f"[{mean - half:+.4f}, {mean + half:+.4f}]"


def test_every_pair_is_differenced_by_seed_at_the_looks_level_and_at_95_percent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The later record is unfinished: the figures are the finished one's, held to 97.5% (look 2).
    finished, unfinished = confirmation([1, 2, 3], 0.975), confirmation([1, 2, 3, 4], 0.983, missing=3)
    storage = study_with(tmp_path, finished, unfinished)
    assert confirmation_seeds.main([str(storage)]) == 0
    out = capsys.readouterr().out
    assert "seeds 1-3, held to 97.5%" in out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert rows[0] == "| seed | uniform `uniform` | hand-found `hand-found` | trial 7 `trial 7` |"
    assert rows[2] == "| 1 | 3.5000 | 3.5100 | 3.4800 |"
    assert rows[5] == "| mean | 3.5033 | 3.5033 | 3.4833 |"
    assert rows[6] == f"| sd | {statistics.stdev([3.50, 3.52, 3.49]):.4f} | 0.0058 | 0.0153 |"
    assert rows[7] == "| difference | mean | sd | 97.5% | 95% | seeds lower |"
    # The last confirmed schedule against each earlier one first, then the rest.
    names = [row.split(" | ")[0].removeprefix("| ") for row in rows[9:]]
    assert names == ["trial 7 − uniform", "trial 7 − hand-found", "hand-found − uniform"]
    pick_less_uniform = [LOSSES["trial 7"][s] - LOSSES["uniform"][s] for s in (1, 2, 3)]
    cells = rows[9].split(" | ")
    assert cells[1] == "-0.0200" and cells[4] == t_interval(pick_less_uniform, 0.95)
    assert cells[3] == t_interval(pick_less_uniform, 0.975) and cells[5] == "3 of 3 |"
    hand_less_uniform = [LOSSES["hand-found"][s] - LOSSES["uniform"][s] for s in (1, 2, 3)]
    assert rows[11].split(" | ")[3] == t_interval(hand_less_uniform, 0.975)
    assert rows[11].endswith("| 1 of 3 |")


def test_a_study_without_a_finished_confirmation_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = study_with(tmp_path, confirmation([1, 2, 3], 0.95, missing=2))
    with pytest.raises(SystemExit) as exit_info:
        confirmation_seeds.main([str(storage)])
    assert exit_info.value.code == 2
    assert "study 'S' holds no finished confirmation" in capsys.readouterr().err
