"""search.confirm: confirming a real tiny study end to end, and its refusals."""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import pytest
import torch
from optuna_dashboard import get_note
from scipy import stats

from search import confirm as confirm_command
from search.findings.candidates import plan_confirmation
from search.findings.confirmation import CONFIRMATIONS_ATTR, RUNS_ATTR
from search.run import main as run_main
from search.study.settings import SETTINGS_ATTR, study_settings
from search.study.storage import open_storage
from search.training.outcome import TrainingFailed
from search.training.passes import data_passes
from search.training.run_config import RunConfig
from search.trials.confirming import confirm
from search.trials.objective import Evaluation, Objective

STUDY = "tiny"
# Half the tiny preset's budget: the study and every confirmation train twice as fast.
TOKENS = 16384


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Train with one CPU thread: tiny models gain nothing from more, and on a machine shared with
    other jobs an oversubscribed thread pool made each run 5-8 times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def single_thread() -> Iterator[None]:
    """:func:`one_torch_thread` for a whole test."""
    with one_torch_thread():
        yield


def build_tiny_study(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    """A study made by the real search loop (uniform at 2 seeds, hand-found, 2 sampled trials).

    Built once per test session, whichever test module asks first; tests work on copies.
    """
    folder = tmp_path_factory.getbasetemp() / "tiny-study"
    storage = folder / "studies.db"
    if storage.exists():
        return storage
    folder.mkdir()
    space = folder / "space.json"
    space.write_text(json.dumps({"space": "composition", "noise_seeds": 2}))
    with one_torch_thread():
        code = run_main(
            [
                *("--trials", "5", "--preset", "tiny", "--study", STUDY, "--storage", str(storage)),
                *("--space", str(space), "--pruner", "none", "--tokens", str(TOKENS)),
                *("--data", str(corpus / "tiny" / "train-00000.jsonl.zst")),
                *("--val-data", str(corpus / "tiny" / "val-00000.jsonl.zst")),
            ]
        )
    assert code == 0
    return storage


def copy_study(tmp_path_factory: pytest.TempPathFactory, corpus: Path, into: Path) -> Path:
    """A private copy of the session's tiny study, for a test that changes it."""
    target = into / "studies.db"
    shutil.copy(build_tiny_study(tmp_path_factory, corpus), target)
    return target


@pytest.fixture
def storage(tmp_path_factory: pytest.TempPathFactory, corpus: Path, tmp_path: Path) -> Path:
    """A copy of the tiny study's storage."""
    return copy_study(tmp_path_factory, corpus, tmp_path)


def load(storage: Path) -> optuna.Study:
    """The tiny study in ``storage``."""
    return optuna.load_study(study_name=STUDY, storage=open_storage(str(storage)))


class FakeObjective(Objective):
    """Scores without training: a fixed loss per (schedule, seed), failing where told to; with
    ``train_tokens``, it records the passes a run would make over a training split that long."""

    def __init__(
        self,
        losses: dict[tuple[str, int], float],
        fail: frozenset[tuple[str, int]] = frozenset(),
        train_tokens: int | None = None,
    ) -> None:
        self.losses = losses
        self.fail = fail
        self.train_tokens = train_tokens
        self.configs: list[RunConfig] = []

    def evaluate(self, config: RunConfig, report: object) -> Evaluation:
        self.configs.append(config)
        key = (config.model.schedule.key, config.seed)
        if key in self.fail:
            raise TrainingFailed("loss is nan at step 3")
        attrs = {"val_bpb": 1.0, "wall_s": 0.1}
        if self.train_tokens is not None:
            attrs["passes"] = data_passes(config, self.train_tokens)
        return Evaluation(self.losses[key], attrs)


def assert_verdict_follows_from_the_losses(record: dict) -> None:
    """Each schedule's difference, interval and status, the winner and the verdict are what a paired
    t-test (scipy's, not the project's) makes of the stored losses."""
    reference, *others = record["schedules"]
    better = {}
    for result in others:
        seeds = sorted(result["losses"].keys() & reference["losses"].keys(), key=int)
        mine = [result["losses"][s] for s in seeds]
        theirs = [reference["losses"][s] for s in seeds]
        interval = stats.ttest_rel(mine, theirs).confidence_interval(record["confidence"])
        mean = statistics.fmean(m - t for m, t in zip(mine, theirs, strict=True))
        difference = result["difference"]
        assert difference["n"] == len(seeds) >= 2
        assert difference["mean"] == pytest.approx(mean, abs=1e-12)
        assert (difference["low"], difference["high"]) == pytest.approx((interval.low, interval.high))
        status = "better" if interval.high < 0 else "worse" if interval.low > 0 else "within noise"
        assert result["status"] == status
        if interval.high < 0:
            better[result["name"]] = mean
    winner = min(better, key=better.__getitem__) if better else None
    assert record["winner"] == winner
    if winner is None:
        assert record["verdict"].startswith(f"no schedule beat {reference['name']} beyond noise")
    else:
        assert record["verdict"].startswith(f"{winner} beats {reference['name']} at ")
        assert f"mean difference {better[winner]:+.4f}" in record["verdict"]
    # The winner against each other baseline, by the same paired t-test.
    by_name = {r["name"]: r for r in others}
    baselines = [r["name"] for r in others if r["baseline"] is not None and r["name"] != winner]
    assert list(record["winner_against"]) == (baselines if winner else [])
    for name, difference in record["winner_against"].items():
        seeds = sorted(by_name[winner]["losses"].keys() & by_name[name]["losses"].keys(), key=int)
        mine = [by_name[winner]["losses"][s] for s in seeds]
        theirs = [by_name[name]["losses"][s] for s in seeds]
        interval = stats.ttest_rel(mine, theirs).confidence_interval(record["confidence"])
        assert (difference["low"], difference["high"]) == pytest.approx((interval.low, interval.high))


# End to end on the tiny study.


@pytest.mark.usefixtures("single_thread")
def test_confirm_retrains_only_what_the_study_lacks_and_stores_the_record(
    storage: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = load(storage)
    trials = {t.user_attrs["schedule_key"]: t for t in study.get_trials() if t.value is not None}
    uniform = "4,4,4,4,4,4,4,4,4,4,4,4"

    assert (
        confirm_command.main(["--study", STUDY, "--storage", str(storage), "--top", "1", "--seeds", "2"]) == 0
    )
    out = capsys.readouterr().out
    # Fresh seeds 1 and 2: the study selected on seed 0. Only uniform has a run there (seed 1).
    assert "at fresh seeds 1, 2 (the study selected on seed 0)" in out
    assert "1 of 6 runs reused, 5 to train" in out
    assert "name" in out and "vs uniform" in out and "95% interval" in out
    assert "Verdict: " in out

    study = load(storage)
    (record,) = study.user_attrs[CONFIRMATIONS_ATTR]
    assert (record["tokens"], record["study_tokens"], record["seeds"]) == (TOKENS, TOKENS, [1, 2])
    assert (record["trained"], record["reused"], record["fidelity"]) == (5, 1, None)
    names = [s["name"] for s in record["schedules"]]
    assert names[:2] == ["uniform", "hand-found"] and names[2].startswith("trial ")
    reference = record["schedules"][0]
    # Uniform's seed-1 run is the study's own noise trial: reused, not retrained.
    assert set(reference["losses"]) == {"1", "2"}
    assert reference["losses"]["1"] == trials[f"{uniform}@seed1"].value
    for result in record["schedules"][1:]:
        assert set(result["losses"]) == {"1", "2"}
    assert_verdict_follows_from_the_losses(record)
    assert "at fresh seeds 1, 2 (the study selected on seed 0)" in record["verdict"]
    assert sorted((run["schedule"], run["seed"]) for run in study.user_attrs[RUNS_ATTR]) == sorted(
        [(uniform, 2)] + [(s["schedule"], seed) for s in record["schedules"][1:] for seed in (1, 2)]
    )
    note = get_note(study)
    assert note.startswith("## Hourglass study") and "## Confirmations" in note and "95% interval" in note

    # The same command again trains nothing and stores no duplicate.
    assert (
        confirm_command.main(["--study", STUDY, "--storage", str(storage), "--top", "1", "--seeds", "2"]) == 0
    )
    assert "6 of 6 runs reused, 0 to train" in capsys.readouterr().out
    assert len(load(storage).user_attrs[CONFIRMATIONS_ATTR]) == 1


@pytest.mark.usefixtures("single_thread")
def test_a_run_at_another_token_budget_reports_kendalls_tau(
    storage: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--study", STUDY, "--storage", str(storage), "--top", "1", "--seeds", "1", "--tokens", "8k"]
    assert confirm_command.main(args) == 0
    out = capsys.readouterr().out
    assert "0 of 3 runs reused, 3 to train" in out
    (record,) = load(storage).user_attrs[CONFIRMATIONS_ATTR]
    assert record["seeds"] == [1]
    fidelity = record["fidelity"]
    # The short side is the study's own ranking, at the seed it selected on.
    assert (record["tokens"], fidelity["short_tokens"], fidelity["short_seeds"]) == (8000, TOKENS, [0])
    assert len(fidelity["names"]) == 3 and fidelity["tau"] is not None
    long_means = [statistics.fmean(s["losses"].values()) for s in record["schedules"]]
    assert fidelity["long_means"] == pytest.approx(long_means)
    tau = stats.kendalltau(fidelity["short_means"], long_means).statistic
    assert fidelity["tau"] == pytest.approx(tau)
    assert fidelity["warning"] == (tau < 0.6)
    assert f"Kendall's tau {fidelity['tau']:+.2f}" in out
    assert ("warning: tau is below 0.6" in out) == fidelity["warning"]


def test_failed_runs_are_recorded_and_left_out_of_the_pairs(storage: Path) -> None:
    study = load(storage)
    plan = plan_confirmation(study, top=1, seeds=3, tokens=None)
    hand_found = plan.candidates[1]
    losses = {(c.key, s): 5.0 - 0.01 * s for c in plan.candidates for s in plan.seeds}
    fake = FakeObjective(losses, fail=frozenset({(hand_found.key, 2)}))
    record = confirm(study, plan, fake, lambda line: None)

    assert plan.seeds == [1, 2, 3] and all(config.seed != 0 for config in fake.configs)
    result = record.schedules[1]
    assert result.failed == {2: "diverged: loss is nan at step 3"}
    assert set(result.losses) == {1, 3} and result.difference is not None and result.difference.n == 2
    stored = study.user_attrs[RUNS_ATTR]
    assert len(stored) == len(fake.configs) - 1
    assert record.trained == len(stored)
    # Every trained config is the study's base run with only the schedule, seed and tokens changed.
    base = study_settings(study).base.model_dump()
    for config in fake.configs:
        data = config.model_dump()
        assert {k: v for k, v in data.items() if k not in ("model", "seed")} == {
            k: v for k, v in base.items() if k not in ("model", "seed")
        }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--study", "nope"], "no study 'nope'"),
        (["--top", "0"], "--top: must be at least 1"),
        (["--seeds", "0"], "--seeds: must be at least 1"),
        (["--study", "../x"], "must be 1-100 letters"),
        (["--gpus", "9"], "--gpus 9: this machine has"),
        (["--gpus", "a"], "must be GPU numbers like 0,1"),
        (["--first-seed", "0"], "--first-seed 0: seeds 0-4 include the study's seed 0, on which"),
        (["--first-seed", "-1"], "--first-seed: must be at least 0"),
    ],
)
def test_bad_requests_fail_clearly_and_store_nothing(
    storage: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = storage.read_bytes()
    assert confirm_command.main(["--study", STUDY, "--storage", str(storage), *args]) == 2
    assert message in capsys.readouterr().err
    assert storage.read_bytes() == before


def test_a_missing_storage_file_is_an_error_and_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    assert confirm_command.main(["--study", STUDY, "--storage", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not missing.exists()


def test_a_study_without_completed_trials_is_an_error(
    storage: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty_storage = tmp_path / "empty.db"
    empty = optuna.create_study(study_name="empty", storage=open_storage(str(empty_storage)))
    empty.set_user_attr(SETTINGS_ATTR, load(storage).user_attrs[SETTINGS_ATTR])
    assert confirm_command.main(["--study", "empty", "--storage", str(empty_storage)]) == 2
    assert "has no completed trials yet" in capsys.readouterr().err
    assert CONFIRMATIONS_ATTR not in empty.user_attrs


# A study scored by a user's function: its stored name is never imported.

PROBE = "confirm_probe_objective"
PROBE_SOURCE = '''
"""Scores a schedule by its distance from the hand-found one; notes that it was imported."""
from pathlib import Path

Path(__file__).with_suffix(".imported").touch()
HAND = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)


def score(config, report):
    distance = sum((m - t) ** 2 for m, t in zip(config.model.schedule.mults, HAND, strict=True))
    return float(distance) + 0.001 * config.seed
'''


@pytest.fixture
def function_study(tmp_path: Path, tiny_args: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A study made by ``search.run --objective confirm_probe_objective:score``, the probe module
    forgotten since, as in a new process: importing it again leaves ``confirm_probe_objective.imported``."""
    (tmp_path / f"{PROBE}.py").write_text(PROBE_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    storage = tmp_path / "studies.db"
    args = ["--trials", "4", "--preset", "tiny", "--study", STUDY, "--storage", str(storage)]
    assert run_main([*args, "--pruner", "none", "--objective", f"{PROBE}:score", *tiny_args]) == 0
    del sys.modules[PROBE]
    (tmp_path / f"{PROBE}.imported").unlink()
    yield storage
    sys.modules.pop(PROBE, None)


def test_a_study_scored_by_a_function_is_refused_without_naming_it_and_nothing_is_imported(
    function_study: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = function_study.read_bytes()
    assert confirm_command.main(["--study", STUDY, "--storage", str(function_study), "--seeds", "2"]) == 2
    err = capsys.readouterr().err
    assert f"scored by {PROBE}:score, a function named in the stored study" in err
    assert f"--objective {PROBE}:score" in err
    assert PROBE not in sys.modules and not (function_study.parent / f"{PROBE}.imported").exists()
    assert function_study.read_bytes() == before


def test_another_objective_than_the_studys_is_refused(
    function_study: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = function_study.read_bytes()
    args = [
        "--study",
        STUDY,
        "--storage",
        str(function_study),
        "--objective",
        "tests.search.plugin_objective:score",
    ]
    assert confirm_command.main(args) == 2
    assert (
        f"is not the objective the study's trials were scored by ({PROBE}:score)" in capsys.readouterr().err
    )
    assert PROBE not in sys.modules and function_study.read_bytes() == before


def test_the_studys_function_named_on_the_command_line_scores_the_confirmation(function_study: Path) -> None:
    args = ["--study", STUDY, "--storage", str(function_study), "--top", "1", "--seeds", "2"]
    assert confirm_command.main([*args, "--objective", f"{PROBE}:score"]) == 0
    assert (function_study.parent / f"{PROBE}.imported").exists()
    (record,) = load(function_study).user_attrs[CONFIRMATIONS_ATTR]
    assert record["trained"] > 0
    hand = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)
    for result in record["schedules"]:
        distance = sum((m - t) ** 2 for m, t in zip(result["mults"], hand, strict=True))
        assert result["losses"] == {seed: pytest.approx(distance + 0.001 * int(seed)) for seed in ("1", "2")}


def test_a_study_of_the_built_in_trainer_refuses_a_named_function(
    storage: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = storage.read_bytes()
    args = ["--study", STUDY, "--storage", str(storage), "--objective", "tests.search.plugin_objective:score"]
    assert confirm_command.main(args) == 2
    assert "is not the objective the study's trials were scored by (builtin)" in capsys.readouterr().err
    assert storage.read_bytes() == before
