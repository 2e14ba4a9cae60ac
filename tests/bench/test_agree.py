"""bench.agree on real tiny studies: a copy, and a copy whose baseline runs moved by known amounts."""

from __future__ import annotations

import copy
import json
import math
import statistics
from pathlib import Path

import optuna
import pytest

from bench.agree import against_reference, baseline_runs
from bench.agree import main as agree_main
from search.best import main as best_main
from search.findings.contents import gather_findings
from search.study import record
from search.study.storage import open_storage
from tests.search.test_best import add_trials
from tests.search.test_confirm import STUDY, copy_study, load

# How far each baseline run of the second study is moved from the first's.
SHIFTS = {"uniform seed 0": 0.003, "uniform seed 1": -0.004, "hand-found seed 0": 0.0}


@pytest.fixture
def first(tmp_path_factory: pytest.TempPathFactory, corpus: Path, tmp_path: Path) -> Path:
    """The session's tiny study with enough trials for the model, in a folder of its own."""
    folder = tmp_path / "first"
    folder.mkdir()
    storage = copy_study(tmp_path_factory, corpus, folder)
    add_trials(load(storage), 3)
    return storage


def shifted_copy(source: Path, target: Path, name: str, shifts: dict[str, float] = SHIFTS) -> Path:
    """``source``'s study as ``name`` in the journal file ``target``, its baseline runs moved by
    ``shifts`` (their attributes, as a worker stored them, unchanged)."""
    study = load(source)
    copied = optuna.create_study(study_name=name, storage=open_storage(str(target)))
    for key, value in study.user_attrs.items():
        copied.set_user_attr(key, value)
    for trial in study.get_trials():
        moved = copy.deepcopy(trial)
        if trial.value is not None and record.baseline(trial) is not None:
            moved.value = trial.value + shifts[f"{record.baseline(trial)} seed {record.seed(trial)}"]
        copied.add_trial(moved)
    return target


def report(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert agree_main(list(args)) == 0
    return json.loads(capsys.readouterr().out.splitlines()[-1])


def retrained_file(storage: Path, name: str, loss_of_expected: float, folder: Path) -> Path:
    """search.best's export of ``name``'s model pick, with a results section as search.train writes
    it: a loss ``loss_of_expected`` times the expected one."""
    export = folder / f"{name}-best.json"
    assert (
        best_main(["--study", name, "--storage", str(storage), "--rule", "model", "--out", str(export)]) == 0
    )
    config = json.loads(export.read_text())
    results = folder / f"{name}-retrained.json"
    loss = config["origin"]["expected_loss"] * loss_of_expected
    results.write_text(json.dumps({"config": config, "result": {"val_loss": loss}}))
    return results


def test_a_copy_agrees_exactly(first: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same = shifted_copy(first, tmp_path / "same.db", "same", dict.fromkeys(SHIFTS, 0.0))
    printed = report(capsys, str(first), str(same))
    assert all(row["range"] == 0 for row in printed["agreement"]["runs"].values())
    assert printed["agreement"]["repeat_sd_between_studies"]["sd"] == 0
    assert printed["picks"][0]["pick"] == printed["picks"][1]["pick"]


def test_moved_baselines_give_their_ranges_and_the_pooled_sd(
    first: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second = shifted_copy(first, tmp_path / "second.db", "second")
    printed = report(capsys, str(first), f"{second}::second", "--repeat-sd", "0.0035")
    runs = printed["agreement"]["runs"]
    assert set(runs) == set(SHIFTS)
    for key, shift in SHIFTS.items():
        assert runs[key]["range"] == pytest.approx(abs(shift), abs=1e-9)
    # Each run trained once per study: a pair's variance is its difference squared over 2, 1 df.
    spread = printed["agreement"]["repeat_sd_between_studies"]
    expected_sd = math.sqrt(sum(s**2 / 2 for s in SHIFTS.values()) / len(SHIFTS))
    assert (spread["df"], spread["sd"]) == (3, pytest.approx(expected_sd))
    assert spread["low"] < spread["sd"] < spread["high"]
    uniform = [t.value for t in load(first).get_trials() if record.baseline(t) == "uniform"]
    floor = printed["picks"][0]["noise_floor"]
    assert (floor["baseline"], floor["df"]) == ("uniform", len(uniform) - 1)
    assert floor["sd"] == pytest.approx(statistics.stdev(uniform))
    assert printed["agreement"]["within_repeat_sd"] == 2  # 0.003 and 0.0: 0.004 is beyond 0.0035
    assert printed["agreement"]["within_band"] == 3  # 1.96 x sqrt(2) x 0.0035 = 0.0097


def test_a_retrained_pick_is_held_to_half_a_percent_of_its_expected_loss(
    first: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second = shifted_copy(first, tmp_path / "second.db", "second")
    close = retrained_file(first, STUDY, 1.004, tmp_path)
    far = retrained_file(second, "second", 0.99, tmp_path)
    printed = report(capsys, str(first), str(second), "--retrained", str(close), str(far))
    by_study = {p["study"]: p for p in printed["picks"]}
    assert by_study[STUDY]["retrained_gap"] == pytest.approx(0.004)
    assert by_study[STUDY]["gap_met"] is True
    assert by_study["second"]["retrained_gap"] == pytest.approx(-0.01)
    assert by_study["second"]["gap_met"] is False


def test_refusals_name_the_problem(first: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    second = shifted_copy(first, tmp_path / "second.db", "second")
    shifted_copy(first, second, "third")  # now two studies in one file
    assert agree_main([str(first), str(second)]) == 2
    assert f"{second} holds 2 studies (second, third): name one" in capsys.readouterr().err

    other = tmp_path / "other.db"
    shifted_copy(first, other, "other")
    stray = retrained_file(other, "other", 1.0, tmp_path)
    assert agree_main([str(first), f"{second}::second", "--retrained", str(stray)]) == 2
    assert "runs exported from other, which are not among the studies" in capsys.readouterr().err

    stale = json.loads(stray.read_text())
    stale["config"]["origin"] |= {"study": "second", "trial": 1}
    stray.write_text(json.dumps(stale))
    assert agree_main([str(first), f"{second}::second", "--retrained", str(stray)]) == 2
    assert "retrained trial 1 of second, but the model now picks trial" in capsys.readouterr().err

    not_results = tmp_path / "not-results.json"
    not_results.write_text(json.dumps({"val_loss": 3.0}))
    assert agree_main([str(first), f"{second}::second", "--retrained", str(not_results)]) == 2
    assert f"{not_results}: not the results of search.train" in capsys.readouterr().err


def test_a_retrained_pick_is_set_against_every_run_of_the_reference_at_its_seed(
    first: Path, tmp_path: Path
) -> None:
    """Study A's pick (no baseline) against uniform at seed 0 in both studies and B's retrained
    pick, which is uniform: three runs of one config at one seed."""
    second = shifted_copy(first, tmp_path / "second.db", "second")
    copied = optuna.load_study(study_name="second", storage=open_storage(str(second)))
    found = [gather_findings(load(first)), gather_findings(copied)]
    picks = [
        {"study": STUDY, "baseline": None, "retrained": 4.0},
        {"study": "second", "baseline": "uniform", "retrained": 5.0},
    ]
    runs_by_study = [baseline_runs(f) for f in found]
    uniform = runs_by_study[0]["uniform seed 0"]
    runs = [uniform, uniform + SHIFTS["uniform seed 0"], 5.0]
    compared = against_reference(found, runs_by_study, picks, {"sd": 0.002, "df": 3})
    assert set(compared) == {STUDY}
    figures = compared[STUDY]
    assert (figures["reference"], figures["runs"], figures["df"]) == ("uniform seed 0", 3, 3)
    assert figures["difference"] == pytest.approx(4.0 - statistics.mean(runs))
    half = 3.182446 * 0.002 * math.sqrt(1 + 1 / 3)  # t(0.975, 3 df)
    assert figures["high"] - figures["difference"] == pytest.approx(half, rel=1e-5)
    assert figures["difference"] - figures["low"] == pytest.approx(half, rel=1e-5)
    # without the spread, the difference alone; a pick that is a baseline is not compared
    assert "low" not in against_reference(found, runs_by_study, picks, None)[STUDY]
    assert against_reference(found, runs_by_study, [picks[1], picks[1] | {"study": "second"}], None) == {}
