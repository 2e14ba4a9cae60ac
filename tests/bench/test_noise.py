"""bench.noise and bench.recipe on the CPU: the panel's runs in a spawned process, and the figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import noise, recipe
from bench.panel import PANEL


@pytest.fixture(scope="module")
def data_args(corpus: Path) -> list[str]:
    return [
        "--data", str(corpus / "tiny" / "train-00000.jsonl.zst"),
        "--val-data", str(corpus / "tiny" / "val-00000.jsonl.zst"),
        "--preset", "tiny", "--tokens", "6k", "--gpus", "0",
    ]  # fmt: skip


def test_the_noise_panel_reports_repeat_and_seed_noise(data_args, tmp_path, capsys) -> None:
    out = tmp_path / "noise.json"
    argv = [*data_args, "--repeats", "2", "--seeds", "2", "--variant-repeats", "1", "--out", str(out)]
    assert noise.main(argv) == 0
    report = json.loads(out.read_text())
    assert report == json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    schedules = report["schedules"]
    assert list(schedules) == list(PANEL)
    uniform = schedules["uniform"]
    # On the CPU a run repeats exactly: the repeat sd is 0, the seeds differ.
    assert len(uniform["repeats"]) == 2 and uniform["repeat"]["sd"] == 0.0
    assert uniform["seed"]["df"] == 1 and uniform["seed"]["sd"] > 0
    assert (
        set(uniform["variants"]) == {"tensor-code", "flash"}
        and "tensor-code" not in schedules["ramp"]["variants"]
    )
    # The tensor-code twins compute what the ops compute, to float rounding.
    assert uniform["variants"]["tensor-code"]["vs_default"] == pytest.approx(0.0, abs=1e-3)
    pooled = report["pooled"]
    assert pooled["repeat_sd"]["df"] == 6 and pooled["seed_sd"]["df"] == 6
    assert sorted(pooled["ranking"]) == sorted(PANEL) and pooled["spread_of_means"] >= 0
    assert len(report["runs"]) == 6 * 3 + 2 * 2 and not report["failed"]
    assert all(r["passes"] > 0 and r["spike"] >= 0 for r in report["runs"])


def test_the_recipe_sweep_ranks_recipes_by_their_worst_gap(data_args, capsys) -> None:
    argv = [
        *data_args,
        "--lr",
        "3e-3",
        "1e-2",
        "--warmup",
        "0.1",
        "0.3",
        "--schedules",
        "uniform",
        "wide-last",
    ]
    assert recipe.main(argv) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(report["runs"]) == 8 and set(report["best"]) == {"uniform", "wide-last"}
    gaps = [r["worst_gap"] for r in report["recipes"]]
    assert len(gaps) == 4 and min(gaps) >= 0
    for name, best in report["best"].items():
        assert best["val_loss"] == min(r["val_loss"] for r in report["runs"] if r["schedule"] == name)


def test_the_noise_panel_takes_chosen_schedules_by_name_or_multipliers(data_args, capsys) -> None:
    ramp_like = "2,2,3,3,3,4,4,5,5,5,7,5"
    argv = [*data_args, "--schedules", "hand-found", ramp_like, "--repeats", "2", "--seeds", "1"]
    assert noise.main([*argv, "--variant-schedules"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(report["schedules"]) == ["hand-found", ramp_like]
    assert report["schedules"][ramp_like]["mults"] == [2, 2, 3, 3, 3, 4, 4, 5, 5, 5, 7, 5]
    assert len(report["runs"]) == 4 and report["pooled"]["seed_sd"] is None


def test_variant_schedules_outside_the_chosen_ones_are_refused(data_args, capsys) -> None:
    with pytest.raises(SystemExit):
        noise.main([*data_args, "--schedules", "ramp", "--variant-schedules", "uniform"])
    assert "--variant-schedules uniform: not among --schedules" in capsys.readouterr().err
