"""Which trials a confirmation compares: ranked by the model, not by one lucky loss."""

from __future__ import annotations

import optuna

from search.findings.candidates import rank_trials
from search.findings.recommend import MIN_TRIALS


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
    assert how == "the model's posterior mean over 12 trials"


def test_a_small_study_is_ranked_by_loss_and_says_so():
    trials = [_finished(n, (4,) * 12, 5.0 - 0.1 * n) for n in range(MIN_TRIALS - 1)]
    ranked, how = rank_trials(trials)
    assert [t.number for t in ranked] == list(reversed(range(MIN_TRIALS - 1)))
    assert how.startswith("loss (fewer than")
