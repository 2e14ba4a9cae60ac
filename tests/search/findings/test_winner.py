"""Which trial is a study's winner: by its latest confirmation at the longest budget, the model, or
the lowest loss."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from optuna.trial import TrialState

from search.findings.confirmation import Confirmation, ScheduleResult
from search.findings.contents import StudyFindings
from search.findings.summary import model_ranking, summarize
from search.findings.winner import choose_winner
from search.study.record import completed
from search.study.schedule_model import MIN_TRIALS
from tests.search.findings.test_summary import settings, study_trials, trial

UNIFORM = (4,) * 12
HAND_FOUND = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)
LUCKY = 11  # study_trials' lowest loss, a lucky draw among poor neighbours


def baseline(number: int, mults: tuple[int, ...], value: float, seed: int, name: str):
    key = f"{','.join(map(str, mults))}@seed{seed}"
    return trial(number, mults, value, seed=seed, baseline=name, schedule_key=key)


def with_baselines(trials: list) -> list:
    """``trials`` and the baselines: uniform at seeds 0 and 1, hand-found at 0."""
    return [
        *trials,
        baseline(20, UNIFORM, 4.70, 0, "uniform"),
        baseline(21, UNIFORM, 4.40, 1, "uniform"),
        baseline(22, HAND_FOUND, 4.60, 0, "hand-found"),
    ]


def findings(trials: list, confirmations: Sequence[Confirmation] = ()) -> StudyFindings:
    return StudyFindings(
        name="demo",
        settings=settings(),
        trials=trials,
        summary=summarize(trials, 0),
        ranking=model_ranking(completed(trials)),
        confirmations=list(confirmations),
        runs=[],
    )


def confirmation(
    winner: str | None, created: str = "2026-12-01T00:00:00+00:00", tokens: int = 1000
) -> Confirmation:
    """A confirmation of uniform, hand-found and trials 3 and 4 at seeds 1-2 and ``tokens`` (the
    study's trials train 1000), won by ``winner``."""
    entries = [("uniform", UNIFORM, None), ("hand-found", HAND_FOUND, None)]
    entries += [(f"trial {n}", (4,) * 12, n) for n in (3, 4)]
    schedules = [
        ScheduleResult(
            name=name,
            schedule=",".join(map(str, mults)),
            mults=mults,
            baseline=None if number is not None else name,
            trial=number,
            losses={1: 4.5, 2: 4.6},
            status="reference" if name == "uniform" else ("better" if name == winner else "within noise"),
        )
        for name, mults, number in entries
    ]
    verdict = f"{winner} beats uniform at fresh seeds 1, 2" if winner else "no schedule beat uniform"
    return Confirmation(
        created=created,
        study_tokens=1000,
        tokens=tokens,
        seeds=[1, 2],
        confidence=0.95,
        reference="uniform",
        schedules=schedules,
        winner=winner,
        verdict=verdict,
        trained=6,
        reused=2,
    )


def test_without_a_confirmation_the_default_is_the_models_pick_not_the_lucky_loss() -> None:
    f = findings(with_baselines(study_trials()))
    assert f.summary.best.number == LUCKY and f.pick is not None and f.pick.trial.number != LUCKY
    winner = choose_winner(f)
    assert (winner.trial.number, winner.rule) == (f.pick.trial.number, "model")
    assert winner.reason.startswith(
        "no confirmation yet; the model's pick at the study's seed 0, expected loss "
    )
    assert choose_winner(f, "observed").trial.number == LUCKY


def test_the_latest_confirmation_decides_by_default() -> None:
    older, latest = (
        confirmation("trial 4"),
        confirmation("trial 3", "2026-12-02"),
    )
    f = findings(with_baselines(study_trials()), [older, latest])
    winner = choose_winner(f)
    assert (winner.trial.number, winner.rule) == (3, "confirmed")
    assert winner.reason == (
        "the latest confirmation at the longest budget (2026-12-02, 1,000 tokens) named it the winner: "
        "trial 3 beats uniform at fresh seeds 1, 2"
    )
    assert choose_winner(f, "model").trial.number == f.pick.trial.number != 3


def test_the_longest_budget_decides_over_a_later_shorter_one() -> None:
    longer, later_shorter = (
        confirmation("trial 4", "2026-12-02", tokens=4000),
        confirmation("trial 3", "2026-12-03", tokens=1000),
    )
    f = findings(
        with_baselines(study_trials()), [confirmation("hand-found", tokens=4000), longer, later_shorter]
    )
    winner = choose_winner(f)
    assert (winner.trial.number, winner.rule, winner.expected_tokens) == (4, "confirmed", 4000)
    assert winner.reason.startswith(
        "the latest confirmation at the longest budget (2026-12-02, 4,000 tokens) named it the winner"
    )


def test_an_unfinished_confirmation_decides_nothing() -> None:
    unfinished = confirmation(None, "2026-12-03").model_copy(update={"missing": 2})
    f = findings(with_baselines(study_trials()), [confirmation("trial 4"), unfinished])
    assert choose_winner(f).trial.number == 4  # the finished one before it still stands
    alone = findings(with_baselines(study_trials()), [unfinished])
    assert choose_winner(alone).rule == "model"
    with pytest.raises(ValueError, match=r"no finished confirmation yet \(an unfinished one continues"):
        choose_winner(alone, "confirmed")


def test_a_baseline_that_wins_is_its_trial_at_the_study_seed() -> None:
    f = findings(with_baselines(study_trials()), [confirmation("hand-found")])
    assert choose_winner(f, "confirmed").trial.number == 22


def test_no_winner_exports_the_reference_at_the_study_seed_and_says_so() -> None:
    f = findings(with_baselines(study_trials()), [confirmation("trial 3"), confirmation(None, "2026-12-02")])
    winner = choose_winner(f)
    assert (winner.trial.number, winner.rule) == (20, "confirmed")  # uniform at seed 0, not seed 1's
    assert winner.reason == (
        "the latest confirmation at the longest budget (2026-12-02, 1,000 tokens) found no schedule "
        "better than uniform beyond noise, so this is uniform, the reference, at the study's seed 0"
    )


def test_a_reference_without_a_trial_at_the_study_seed_is_an_error() -> None:
    trials = [t for t in with_baselines(study_trials()) if t.number != 20]
    with pytest.raises(
        ValueError, match=r"baseline uniform of the confirmation of 2026-12-01.* no completed"
    ):
        choose_winner(findings(trials, [confirmation(None)]))


def test_below_the_models_minimum_the_default_falls_back_to_the_lowest_loss() -> None:
    few = with_baselines(study_trials()[: MIN_TRIALS - 4])
    assert len(completed(few)) == MIN_TRIALS - 1
    f = findings(few)
    winner = choose_winner(f)
    assert (winner.trial, winner.rule) == (f.summary.best, "observed")
    assert winner.reason.startswith(
        f"no confirmation yet and {MIN_TRIALS - 1} completed trials, fewer than the {MIN_TRIALS} the model "
        "needs; the lowest loss at the study's seed 0"
    )
    with pytest.raises(ValueError, match=f"has {MIN_TRIALS - 1}: choose --rule observed"):
        choose_winner(f, "model")


def test_rules_without_their_evidence_are_errors() -> None:
    with pytest.raises(
        ValueError, match=r"study 'demo' has no finished confirmation yet: run python -m search\.confirm"
    ):
        choose_winner(findings(with_baselines(study_trials())), "confirmed")
    failed_only = [trial(0, UNIFORM, None, state=TrialState.FAIL)]
    with pytest.raises(ValueError, match="study 'demo' has no completed trial at its seed 0 yet"):
        choose_winner(findings(failed_only))


def test_a_trial_named_by_number_must_be_completed() -> None:
    trials = with_baselines(study_trials())
    trials += [trial(30, UNIFORM, None, state=TrialState.FAIL), trial(31, UNIFORM, 4.7, repeat_of=20)]
    f = findings(trials)
    winner = choose_winner(f, 21)
    assert (winner.trial.number, winner.rule, winner.reason) == (21, "trial", "trial 21, as named by --trial")
    with pytest.raises(ValueError, match=r"trial 30 is not a completed trial of study 'demo'$"):
        choose_winner(f, 30)
    with pytest.raises(
        ValueError, match=r"trial 31 is not a completed trial of study 'demo' \(it repeats trial 20\)"
    ):
        choose_winner(f, 31)
    with pytest.raises(ValueError, match="trial 99 is not a completed trial"):
        choose_winner(f, 99)
