"""Which layers' widths matter: Optuna's parameter importance over a study's per-layer multipliers."""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial

from space.spaces import layer_param_name

# PED-ANOVA (Optuna's default importance) contrasts the best 10% of trials with the rest and
# needs at least two trials in that 10%; below this it ranks noise.
MIN_IMPORTANCE_TRIALS = 20


def layer_importances(ranked: Sequence[FrozenTrial], n_layers: int) -> dict[str, float]:
    """Importance of each per-layer parameter (``mlp_mult_lNN``), in layer order.

    Raises ValueError saying why when the trials cannot support it: too few, or a space whose
    parameters are not per layer.
    """
    names = [layer_param_name(i) for i in range(n_layers)]
    usable = [t for t in ranked if all(n in t.params for n in names)]
    if ranked and not usable:
        raise ValueError("this study's space has no per-layer parameters (mlp_mult_lNN)")
    if len(usable) < MIN_IMPORTANCE_TRIALS:
        raise ValueError(
            f"importance needs at least {MIN_IMPORTANCE_TRIALS} completed trials at the study's seed; "
            f"this study has {len(usable)}"
        )
    # Here, not at the top: optuna.importance imports scikit-learn where it is installed, 2.0 of
    # the 3.0 s that importing search.run took on the H200 host, before a study's first trial.
    from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances

    # A copy holding only these trials: repeats and other seeds would count a schedule twice.
    copy = optuna.create_study(direction="minimize")
    copy.add_trials(usable)
    found = get_param_importances(copy, evaluator=PedAnovaImportanceEvaluator(), params=names)
    return {name: found[name] for name in names}
