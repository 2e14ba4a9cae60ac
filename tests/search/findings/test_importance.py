"""Which layers' widths matter: parameter importance over per-layer multipliers."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, create_trial

from search.findings.importance import layer_importances
from space.spaces import layer_param_name


def synthetic_trials(count: int, important: int = 3) -> list[FrozenTrial]:
    """Completed trials whose loss depends on one layer's multiplier only (plus a little noise)."""
    rng = random.Random(0)
    names = [layer_param_name(i) for i in range(12)]
    trials = []
    for _ in range(count):
        params = {name: rng.randint(1, 8) for name in names}
        loss = 5.0 + 0.01 * (params[names[important]] - 2) ** 2 + 0.0001 * rng.random()
        trials.append(
            create_trial(params=params, distributions={n: IntDistribution(1, 8) for n in names}, value=loss)
        )
    return trials


def test_layer_importances_find_the_layer_that_matters() -> None:
    importances = layer_importances(synthetic_trials(40), n_layers=12)
    assert list(importances) == [layer_param_name(i) for i in range(12)]
    assert max(importances, key=importances.__getitem__) == layer_param_name(3)


def test_layer_importances_refuse_too_few_trials_or_a_space_without_layer_parameters() -> None:
    with pytest.raises(ValueError, match=r"at least 20 completed trials.*has 5"):
        layer_importances(synthetic_trials(5), n_layers=12)
    waist = [create_trial(params={"waist": 2.0}, distributions={"waist": FloatDistribution(1, 8)}, value=5.0)]
    with pytest.raises(ValueError, match="no per-layer parameters"):
        layer_importances(waist, n_layers=12)


def test_starting_a_worker_imports_neither_optuna_importance_nor_the_dashboard():
    """optuna.importance, which optuna_dashboard imports, pulls in scikit-learn where installed:
    1,700 modules and seconds before a worker's first trial."""
    script = (
        "import sys, search.run, search.trials.working, search.trials.workers, search.training.trainer; "
        "print([m for m in ('optuna.importance', 'optuna_dashboard', 'sklearn') if m in sys.modules])"
    )
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
