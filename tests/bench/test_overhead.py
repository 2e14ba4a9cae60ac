import optuna
import pytest

from bench.overhead import breakdown


def trial_with(**attrs: float) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(value=1.0, user_attrs=attrs)


def test_a_first_trial_splits_into_compiling_steps_and_the_rest():
    # 610 steps of 32,768 tokens at 800K tokens/s; 56 s compiling, 50 s of it before the loop.
    attrs = {"setup_s": 3.5, "compile_s": 56.0, "train_s": 30.99, "eval_s": 2.0, "data_wait_s": 0.02}
    trial = trial_with(**attrs, tokens=610 * 32_768, tokens_per_s=800_000.0)
    parts = breakdown(trial, cycle_s=90.0)
    assert parts["train_steps_s"] == pytest.approx(24.99, abs=0.01)
    assert parts["other_s"] == pytest.approx(90.0 - 3.5 - 56.0 - 24.99 - 2.0, abs=0.01)
    assert parts["other_s"] > 0
    assert parts["not_training_share"] == pytest.approx(1 - 24.99 / 90.0, abs=1e-3)


def test_a_warm_trial_is_almost_all_steps():
    attrs = {"setup_s": 0.08, "compile_s": 0.03, "train_s": 28.64, "eval_s": 1.2, "data_wait_s": 0.02}
    parts = breakdown(trial_with(**attrs, tokens=610 * 32_768, tokens_per_s=698_720.0), cycle_s=30.18)
    assert parts["train_steps_s"] == pytest.approx(28.61, abs=0.01)
    assert 0 < parts["other_s"] < 0.3
    assert parts["not_training_share"] == pytest.approx(0.052, abs=1e-3)
