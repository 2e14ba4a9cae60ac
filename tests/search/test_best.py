"""search.best: exporting a real tiny study's winner by each rule, and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from search.best import main as best_main
from search.findings.candidates import ConfirmPlan, plan_confirmation
from search.findings.confirmation import stored_confirmations
from search.findings.contents import gather_findings
from search.study import record
from search.study.schedule_model import MIN_TRIALS
from search.training.run_config import RunConfig
from search.trials.confirming import confirm
from space.schedule import Schedule
from tests.search.test_confirm import STUDY, TOKENS, FakeObjective, copy_study, load


@pytest.fixture
def storage(tmp_path_factory: pytest.TempPathFactory, corpus: Path, tmp_path: Path) -> Path:
    """A copy of the tiny study (5 completed trials: too few for the model)."""
    return copy_study(tmp_path_factory, corpus, tmp_path)


def export(storage: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    """Run search.best with ``args``; its printed line, with the exported config under "config"."""
    out = storage.parent / "best.json"
    assert best_main(["--study", STUDY, "--storage", str(storage), "--out", str(out), *args]) == 0
    printed = json.loads(capsys.readouterr().out)
    return printed | {"config": json.loads(out.read_text())}


def refused(storage: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run search.best with ``args``, expecting exit 2 and no file; its error message."""
    out = storage.parent / "refused.json"
    assert best_main(["--study", STUDY, "--storage", str(storage), "--out", str(out), *args]) == 2
    assert not out.exists()
    return capsys.readouterr().err


def lowest_at_study_seed(study: optuna.Study) -> optuna.trial.FrozenTrial:
    return min(record.at_seed(record.completed(study.get_trials()), 0), key=record.value)


def confirm_with(study: optuna.Study, plan: ConfirmPlan, edge: dict[str, float]) -> None:
    """Store a confirmation of ``plan`` whose runs score each candidate its ``edge`` (by name) off
    uniform's loss at that seed, with a little noise, without training."""
    uniform = plan.candidates[0]
    base = {s: plan.known.get((uniform.key, s, plan.tokens), 5.0 + 0.01 * s) for s in plan.seeds}
    losses = {
        (c.key, s): base[s] + edge.get(c.name, 0.0) + 0.001 * ((s + i) % 3)
        for i, c in enumerate(plan.candidates)
        for s in plan.seeds
    }
    confirm(study, plan, FakeObjective(losses), lambda line: None)


def add_trials(study: optuna.Study, count: int) -> None:
    """Add ``count`` completed trials at the study's seed, each a schedule the study lacks, with its
    run config, as a worker stores them (losses made up, nothing trained)."""
    first = lowest_at_study_seed(study)
    trained = RunConfig.model_validate(record.run_config(first))
    for k in range(count):
        mults = [4] * 12
        mults[k], mults[k + 1] = 5 + k, 3 - k
        run = trained.variant(schedule=Schedule(budget=trained.model.budget, mults=tuple(mults)))
        attrs = record.schedule_attrs(run.model.schedule, 0, run.model.params, run.model_dump(mode="json"))
        study.add_trial(optuna.trial.create_trial(value=first.value + 0.01 * (k + 1), user_attrs=attrs))


def test_a_study_too_small_for_the_model_exports_its_lowest_loss_and_says_why(
    storage: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    best = lowest_at_study_seed(load(storage))
    printed = export(storage, capsys)
    assert (printed["trial"], printed["val_loss"], printed["rule"]) == (best.number, best.value, "observed")
    assert printed["mults"] == list(record.mults(best)) == printed["config"]["model"]["schedule"]["mults"]
    assert printed["reason"].startswith(
        "no confirmation yet and 5 completed trials, fewer than the 8 the model needs; the lowest loss"
    )
    assert printed["config"]["origin"] == {
        "study": STUDY,
        "trial": best.number,
        "rule": "observed",
        "reason": printed["reason"],
        "observed_loss": best.value,
        "tokens": TOKENS,
        "expected_loss": None,
        "expected_tokens": None,
    }
    assert printed["expected_loss"] is None
    mults = ", ".join(map(str, record.mults(best)))
    assert f'"mults": [{mults}]' in (storage.parent / "best.json").read_text()
    assert "choose --rule observed" in refused(storage, capsys, "--rule", "model")
    assert "has no finished confirmation yet" in refused(storage, capsys, "--rule", "confirmed")


def test_the_winner_of_the_latest_confirmation_at_the_longest_budget_is_exported_by_default(
    storage: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = load(storage)
    observed = lowest_at_study_seed(study)
    plan = plan_confirmation(study, top=2, seeds=3, tokens=None)
    # The winner is a sampled schedule other than the lowest single loss: only the confirmation names it.
    winner = next(
        c for c in plan.candidates if c.trial is not None and c.key != record.schedule_key(observed)
    )
    confirm_with(study, plan, {winner.name: -0.1})

    printed = export(storage, capsys)
    assert printed["rule"] == "confirmed"
    assert (
        printed["reason"].startswith("the latest confirmation at the longest budget (")
        and "named it the winner" in printed["reason"]
    )
    assert printed["mults"] == list(winner.schedule.mults) == printed["config"]["model"]["schedule"]["mults"]
    assert (printed["trial"], printed["config"]["seed"]) == (winner.trial, 0)
    [confirmed] = [r for r in stored_confirmations(study)[-1].schedules if r.name == winner.name]
    origin = printed["config"]["origin"]
    assert (origin["rule"], origin["trial"], origin["tokens"]) == ("confirmed", winner.trial, TOKENS)
    assert (origin["expected_loss"], origin["expected_tokens"]) == (confirmed.mean, plan.tokens)
    assert printed["expected_loss"] == confirmed.mean
    assert export(storage, capsys, "--rule", "observed")["trial"] == observed.number

    # A later confirmation at a shorter budget, where nothing beats uniform, does not overrule it.
    confirm_with(study, plan_confirmation(study, top=2, seeds=3, tokens=8000), {})
    assert export(storage, capsys)["trial"] == winner.trial

    # One at a longer budget, where nothing beats uniform, does: its reference is exported.
    longer = 2 * TOKENS
    confirm_with(study, plan_confirmation(study, top=2, seeds=3, tokens=longer), {})
    printed = export(storage, capsys)
    trials = record.at_seed(record.completed(study.get_trials()), 0)
    uniform = next(t for t in trials if record.baseline(t) == "uniform")
    assert (printed["trial"], printed["rule"]) == (uniform.number, "confirmed")
    assert printed["reason"].startswith("the latest confirmation at the longest budget (") and (
        f"{longer:,} tokens) found no schedule better than uniform beyond noise" in printed["reason"]
    )
    [reference] = [r for r in stored_confirmations(study)[-1].schedules if r.name == "uniform"]
    origin = printed["config"]["origin"]
    assert (origin["expected_loss"], origin["expected_tokens"]) == (reference.mean, longer)


def test_the_models_pick_is_exported_with_the_loss_the_model_expects(
    storage: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = load(storage)
    add_trials(study, MIN_TRIALS - len(record.completed(study.get_trials())))
    pick = gather_findings(study).pick
    assert pick is not None
    printed = export(storage, capsys)
    assert (printed["trial"], printed["rule"], printed["expected_loss"]) == (
        pick.trial.number,
        "model",
        pick.expected,
    )
    origin = printed["config"]["origin"]
    assert (origin["rule"], origin["observed_loss"]) == ("model", pick.trial.value)
    assert (origin["expected_loss"], origin["expected_tokens"]) == (pick.expected, TOKENS)


def test_a_trial_named_by_number_is_exported_and_must_be_completed(
    storage: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = load(storage)
    other_seed = next(t for t in record.completed(study.get_trials()) if record.seed(t) != 0)
    printed = export(storage, capsys, "--trial", str(other_seed.number))
    assert (printed["trial"], printed["rule"]) == (other_seed.number, "trial")
    assert printed["config"]["seed"] == record.seed(other_seed)
    missing = len(study.get_trials())
    assert f"trial {missing} is not a completed trial of study '{STUDY}'" in refused(
        storage, capsys, "--trial", str(missing)
    )
    assert "--rule and --trial exclude each other" in refused(
        storage, capsys, "--trial", "0", "--rule", "observed"
    )
    assert "--trial: must be at least 0, got -1" in refused(storage, capsys, "--trial", "-1")
    assert "--rule: Input should be 'confirmed', 'model' or 'observed'" in refused(
        storage, capsys, "--rule", "luck"
    )
