"""bench.fidelity on the CPU: budgets x paired seeds in a spawned process, the parts merged, and
the figures checked against the runs they come from."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from scipy import stats

from bench import fidelity
from bench.panel import PANEL
from search.study import record
from search.study.storage import load_existing_study
from tests.search.test_confirm import STUDY, build_tiny_study

SCHEDULES = ["uniform", "hand-found", "wide-first"]


@pytest.fixture(scope="module")
def data_args(corpus: Path) -> list[str]:
    return [
        "--data", str(corpus / "tiny" / "train-00000.jsonl.zst"),
        "--val-data", str(corpus / "tiny" / "val-00000.jsonl.zst"),
        "--preset", "tiny", "--gpus", "0", "--schedules", *SCHEDULES,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def parts(data_args: list[str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two short budgets at seeds 0 and 1, and a longer one at seed 0 alone: two parts."""
    folder = tmp_path_factory.mktemp("fidelity")
    short, long = folder / "short.json", folder / "long.json"
    assert fidelity.main([*data_args, "--tokens", "3k", "6k", "--seeds", "0", "1", "--out", str(short)]) == 0
    assert fidelity.main([*data_args, "--tokens", "12k", "--seeds", "0", "--out", str(long)]) == 0
    return short, long


def test_each_budget_reports_paired_differences_and_tau_against_the_longest(parts) -> None:
    report = json.loads(parts[0].read_text())
    assert [b["tokens"] for b in report["budgets"]] == [3000, 6000] and report["longest"] == 6000
    assert len(report["runs"]) == 3 * 2 * 2 and not report["failed"]
    for budget in report["budgets"]:
        assert budget["seeds"] == [0, 1] and budget["paired_sd_from"] == budget["tokens"]
        runs = [r for r in report["runs"] if r["tokens"] == budget["tokens"]]
        assert budget["passes"] == max(r["passes"] for r in runs) > 0
        assert budget["schedules"]["uniform"]["difference"] is None
        for name in SCHEDULES[1:]:
            mine = {r["seed"]: r["val_loss"] for r in runs if r["schedule"] == name}
            uniform = {r["seed"]: r["val_loss"] for r in runs if r["schedule"] == "uniform"}
            entry = budget["schedules"][name]
            assert entry["mean"] == pytest.approx(statistics.fmean(mine.values()))
            diff = entry["difference"]
            assert diff["mean"] == pytest.approx(statistics.fmean(mine[s] - uniform[s] for s in (0, 1)))
            # Pooled over the two non-reference schedules: 2 df, so the t quantile of 2 df.
            half = stats.t.ppf(0.975, 2) * budget["paired_sd"]["sd"] / 2**0.5
            assert budget["paired_sd"]["df"] == 2
            assert (diff["low"], diff["high"]) == pytest.approx((diff["mean"] - half, diff["mean"] + half))
        assert budget["ranking"] == sorted(SCHEDULES, key=lambda n: budget["schedules"][n]["mean"])
        # Two seeds of each of three schedules: one df each.
        spreads = [statistics.stdev(budget["schedules"][n]["losses"].values()) for n in SCHEDULES]
        assert budget["seed_sd"]["df"] == 3
        assert budget["seed_sd"]["sd"] == pytest.approx(statistics.fmean(v**2 for v in spreads) ** 0.5)
    shorter, longest = report["budgets"]
    means = [shorter["schedules"][n]["mean"] for n in SCHEDULES]
    long_means = [longest["schedules"][n]["mean"] for n in SCHEDULES]
    assert shorter["tau_vs_longest"] == pytest.approx(stats.kendalltau(means, long_means).statistic)
    assert shorter["tau_over"] == 3 and longest["tau_vs_longest"] == pytest.approx(1.0)


def test_merged_parts_report_as_one_and_a_single_seed_budget_borrows_the_nearest_spread(
    parts, tmp_path, capsys
) -> None:
    picture = tmp_path / "fidelity.png"
    assert fidelity.main(["--merge", *map(str, parts), "--plot", str(picture)]) == 0
    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    assert report["longest"] == 12000 and [b["tokens"] for b in report["budgets"]] == [3000, 6000, 12000]
    longest = report["budgets"][-1]
    # One seed at 12k: no spread of its own; the interval uses 6k's (the nearest), and says so.
    assert longest["seeds"] == [0] and longest["paired_sd_from"] == 6000
    assert longest["paired_sd"] == report["budgets"][1]["paired_sd"]
    assert longest["schedules"]["hand-found"]["difference"]["low"] is not None
    assert "taken from 6,000 tokens" in out and "Kendall's tau" in out
    assert picture.read_bytes().startswith(b"\x89PNG")


def test_parts_of_other_recipes_are_not_merged(parts, tmp_path) -> None:
    other = json.loads(parts[1].read_text())
    other["recipe"]["lr"] *= 2
    changed = tmp_path / "other.json"
    changed.write_text(json.dumps(other))
    with pytest.raises(SystemExit):
        fidelity.main(["--merge", str(parts[0]), str(changed)])


@pytest.mark.parametrize(
    ("schedules", "message"),
    [
        (["uniform", "8,4,4"], "--schedules 8,4,4"),
        (["uniform", "widest"], "'widest' is neither a panel schedule"),
        (["uniform", "uniform"], "given twice"),
        (["uniform", "a/b=8,4,4,4,3,3,3,3,4,4,4,4"], "a name without '/'"),
        (["uniform", "mine=8,4,4,4,3,3,3,3,4,4,4,5"], "--schedules mine=8,4,4,4,3,3,3,3,4,4,4,5"),
    ],
)
def test_bad_schedules_are_refused_before_any_data_is_read(
    schedules: list[str], message: str, tmp_path: Path, capsys
) -> None:
    missing = tmp_path / "nowhere.jsonl.zst"
    argv = ["--data", str(missing), "--preset", "tiny", "--tokens", "3k", "--schedules", *schedules]
    with pytest.raises(SystemExit):
        fidelity.main(argv)
    assert message in capsys.readouterr().err
    assert not missing.exists()


def test_a_studys_top_schedules_are_its_model_ranking_without_baselines(
    tmp_path_factory: pytest.TempPathFactory, corpus: Path
) -> None:
    storage = build_tiny_study(tmp_path_factory, corpus)
    top = fidelity.study_top(str(storage), STUDY, 3)
    study = load_existing_study(str(storage), STUDY)
    sampled = [t for t in record.completed(study.get_trials()) if record.baseline(t) is None]
    assert {f"{STUDY}-trial-{t.number}": tuple(record.mults(t)) for t in sampled} == top
    assert not set(top) & set(PANEL)
