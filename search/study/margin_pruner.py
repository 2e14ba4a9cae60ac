"""The default pruner: a trial stops at a checkpoint only when the study's own trials show it
cannot catch up by the end.

Between a checkpoint and the end of training, schedules of one budget gain different amounts:
at 100M tokens the median pruner's checkpoint at 40M ranked the completed trials at 0.55 against
their final losses and would have pruned two of the five best (README, "Pruning"). This rule
measures that catching-up on the completed trials and prunes only beyond it.
"""

from __future__ import annotations

import math
import statistics

import optuna
from optuna.trial import FrozenTrial

from search.study import record


class MarginPruner(optuna.pruners.BasePruner):
    """Prunes a trial at a checkpoint (step ``start`` or later) when, even catching up as much as
    the completed trials' best 2.5% would (one-sided prediction bound), it ends worse than their
    median final loss.

    With ``n`` completed trials (at least ``min_trials``) that reported the same step, ``gain`` is
    each one's checkpoint loss minus its final loss; the trial is pruned when
    ``loss - mean(gain) - t * sd(gain) * sqrt(1 + 1/n) > median(final)``, ``t`` the quantile of
    Student's t with ``n - 1`` degrees of freedom. A non-finite checkpoint loss is pruned, as
    Optuna's median pruner does.
    """

    def __init__(self, start: int, min_trials: int = 5, confidence: float = 0.975) -> None:
        if min_trials < 3:
            raise ValueError(f"min_trials must be 3 or more to measure a spread, got {min_trials}")
        if not 0.5 < confidence < 1:
            raise ValueError(f"confidence must lie between 0.5 and 1, got {confidence}")
        self.start = start
        self.min_trials = min_trials
        self.confidence = confidence

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.start:
            return False
        loss = trial.intermediate_values[step]
        if not math.isfinite(loss):
            return True
        bound = self.bound(study.get_trials(deepcopy=False), step)
        return bound is not None and loss > bound

    def bound(self, trials: list[FrozenTrial], step: int) -> float | None:
        """The highest loss at ``step`` a trial may have and still be let go on, judged on the
        completed ones among ``trials``; None while fewer than ``min_trials`` reported there."""
        reported = [t for t in record.completed(trials) if step in t.intermediate_values]
        if len(reported) < self.min_trials:
            return None
        finals = [record.value(t) for t in reported]
        gains = [t.intermediate_values[step] - final for t, final in zip(reported, finals, strict=True)]
        n = len(reported)
        from scipy import stats  # here: slow to import, and only the first judged report needs it

        quantile = float(stats.t.ppf(self.confidence, n - 1))
        spread = quantile * statistics.stdev(gains) * math.sqrt(1 + 1 / n)
        return statistics.median(finals) + statistics.fmean(gains) + spread
