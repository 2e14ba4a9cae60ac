"""Which trials a confirmation compares (ranked by the model, not by one lucky loss) and at which seeds."""

from __future__ import annotations

import optuna

from search.findings.candidates import plan_confirmation, rank_trials
from search.study.schedule_model import MIN_TRIALS
from search.study.settings import store_settings
from tests.search.findings.test_summary import settings


def _finished(number: int, mults: tuple[int, ...], value: float) -> optuna.trial.FrozenTrial:
    trial = optuna.trial.create_trial(value=value, user_attrs={"mlp_mults": list(mults)})
    trial.number = number
    return trial


def test_trials_are_ranked_by_the_model_not_by_one_lucky_loss():
    """A schedule whose neighbours all did well outranks a lone lucky loss among poor neighbours."""
    good = [(8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4), (7, 5, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4),
            (8, 4, 4, 4, 3, 3, 3, 4, 3, 4, 4, 4), (8, 4, 4, 3, 4, 3, 3, 3, 4, 4, 4, 4),
            (8, 4, 5, 3, 3, 3, 3, 3, 4, 4, 4, 4), (8, 4, 4, 4, 3, 3, 4, 3, 3, 4, 4, 4)]  # fmt: skip
    poor = [(1, 1, 1, 1, 4, 4, 4, 4, 7, 7, 7, 7), (1, 1, 1, 2, 4, 4, 4, 3, 7, 7, 7, 7),
            (1, 1, 2, 1, 4, 4, 3, 4, 7, 7, 7, 7), (2, 1, 1, 1, 4, 3, 4, 4, 7, 7, 7, 7),
            (1, 2, 1, 1, 3, 4, 4, 4, 7, 7, 7, 7), (1, 1, 1, 1, 4, 4, 4, 5, 6, 7, 7, 7)]  # fmt: skip
    trials = [_finished(n, m, 4.50 + 0.01 * n) for n, m in enumerate(good)]
    trials += [_finished(6 + n, m, 4.90 + 0.01 * n) for n, m in enumerate(poor[1:])]
    trials.append(_finished(11, poor[0], 4.49))  # the lowest loss, a lucky draw among poor neighbours
    by_loss = sorted(trials, key=lambda t: t.value)
    assert by_loss[0].number == 11
    ranked, how = rank_trials(trials)
    assert ranked[0].number == 0
    assert {t.number for t in ranked[:6]} == set(range(6))
    assert how.startswith("the model over 12 trials (posterior mean")


def test_a_small_study_is_ranked_by_loss_and_says_so():
    trials = [_finished(n, (4,) * 12, 5.0 - 0.1 * n) for n in range(MIN_TRIALS - 1)]
    ranked, how = rank_trials(trials)
    assert [t.number for t in ranked] == list(reversed(range(MIN_TRIALS - 1)))
    assert how.startswith("loss (fewer than")


UNIFORM = (4,) * 12
HAND_FOUND = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)
SAMPLED = (6, 5, 4, 4, 3, 3, 3, 3, 4, 4, 4, 5)


def _stored(number: int, mults: tuple[int, ...], seed: int, value: float, baseline: str | None = None):
    attrs = {
        "mlp_mults": list(mults),
        "seed": seed,
        "schedule_key": f"{','.join(map(str, mults))}@seed{seed}",
    }
    trial = optuna.trial.create_trial(
        value=value, user_attrs=attrs | ({"baseline": baseline} if baseline else {})
    )
    trial.number = number
    return trial


def small_study() -> optuna.Study:
    """An in-memory study at seed 7: uniform at its noise seeds 7-9, hand-found and trial 4 at 7."""
    study = optuna.create_study()
    base = settings()
    store_settings(study, base.model_copy(update={"base": base.base.variant(seed=7)}))
    for number, (mults, seed, value, baseline) in enumerate(
        [
            (UNIFORM, 7, 5.0, "uniform"),
            (UNIFORM, 8, 5.1, "uniform"),  # the noise seeds: fresh for every schedule compared
            (UNIFORM, 9, 4.9, "uniform"),
            (HAND_FOUND, 7, 4.8, "hand-found"),
            (SAMPLED, 7, 4.7, None),
        ]
    ):
        study.add_trial(_stored(number, mults, seed, value, baseline))
    return study


def test_a_plan_compares_at_fresh_seeds_and_reuses_the_runs_made_there() -> None:
    plan = plan_confirmation(small_study(), top=1, seeds=3, tokens=None)

    assert plan.seeds == [8, 9, 10]
    assert [c.name for c in plan.candidates] == ["uniform", "hand-found", "trial 4"]
    missing = [(c.name, seed) for c, seed in plan.missing]
    # Seed by seed, so that a confirmation stopped early leaves whole seeds.
    assert missing == [
        ("hand-found", 8),
        ("trial 4", 8),
        ("hand-found", 9),
        ("trial 4", 9),
        ("uniform", 10),
        ("hand-found", 10),
        ("trial 4", 10),
    ]
    assert plan.describe().startswith(
        "confirming 3 schedules (uniform, hand-found, trial 4) at fresh seeds 8-10 "
        "(the study selected on seed 7), 32,768 tokens each: 2 of 9 runs reused, 7 to train"
    )
