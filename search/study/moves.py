"""The default sampler: width moved between layers of the best schedule so far, chosen by a model.

A budget's schedules are whole numbers of width units on a simplex, and moving a unit from one
layer to another is a natural small step that keeps the budget. A study starts from good
schedules (its baselines), so at a budget of 50 trials a local search from the best of them does
far better than a generic sampler (``python -m bench.search_budget``). Each proposal is the
incumbent (the best schedule so far: the lowest posterior mean once the model has
``MIN_TRIALS`` trials, else the lowest loss) with one or more units moved, picked among the
single moves and ``CANDIDATES`` random multi-unit moves by expected improvement under the
Gaussian process of :mod:`search.study.schedule_model`. How many units a proposal may move (the
trust region) doubles after ``GROW_AFTER`` improvements in a row and halves after
``SHRINK_AFTER`` failures in a row, as TuRBO's does; it is replayed from the trials each time, so
workers and resumed studies agree on it.

Losses are compared only at the study's seed, where schedules compete: the reference baseline's
runs at its noise seeds feed the model (they measure the noise) but never set the loss to beat. A
seed shifts every schedule trained at it, and only that baseline trains at the noise seeds, so a
lucky one would be a bar no sampled trial has to clear (README, "Losses are compared at the
study's seed").

Several workers: trials asked but not yet told (running, or queued with their parameters) are
never proposed again, and the model counts them as told the loss it predicts for them (the
kriging believer, Optuna's constant liar with the model's own lie). That leaves the expected
loss nearly as it was and removes the uncertainty at and around them, so proposals made
while others train go elsewhere without being pushed out of the promising region: at 8 workers,
lying with the worst loss seen instead left the regret 4 and 15 times higher on ramp and wide-first.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from search.study import record
from search.study.schedule_model import MIN_TRIALS, ModelFit, fit_model, predict
from space.spaces import layer_param_name

START_RADIUS = 4
MAX_RADIUS = 16
GROW_AFTER = 2
SHRINK_AFTER = 4
CANDIDATES = 1000
_logger = logging.getLogger(__name__)


class MoveSampler(optuna.samplers.BaseSampler):
    """Moves of width between layers from the incumbent, by expected improvement in a trust region.

    Searches the composition space's layer parameters (``mlp_mult_lNN``) only. A study with no
    trial measured or queued has no incumbent: its first schedule is drawn at random, every
    layer at once (``sample_independent``, which the composition space asks up front).
    """

    def __init__(self, study_seed: int, seed: int | None = None) -> None:
        """``study_seed``: the seed the study's schedules train at; ``seed``: this sampler's own."""
        self._study_seed = study_seed
        self._rng = np.random.default_rng(seed)
        self._first = optuna.samplers.RandomSampler(seed=seed)

    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()
        self._first.reseed_rng()

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        for earlier in study.get_trials(deepcopy=False):
            if earlier.distributions:
                return layer_distributions(earlier.distributions)
        return {}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        grid = Grid.of(search_space)
        trials = study.get_trials(deepcopy=False)
        history = History.read(trials, list(search_space), grid, trial.number, self._study_seed)
        fit = history.model()
        start = history.incumbent(fit)
        if start is None:
            return {}
        candidates = self._untried(history, start, trust_radius(history.outcomes), grid)
        if not len(candidates):
            _logger.warning(
                f"every schedule within {MAX_RADIUS} units of the best has been tried; drawing one at random"
            )
            return {}
        if fit is None:
            chosen = candidates[self._rng.integers(len(candidates))]
        else:
            chosen = candidates[int(np.argmax(history.improvement(fit, candidates)))]
        return grid.params(list(search_space), chosen)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._first.sample_independent(study, trial, param_name, param_distribution)

    def _untried(self, history: History, start: np.ndarray, radius: int, grid: Grid) -> np.ndarray:
        """Schedules within ``radius`` units moved of ``start``, none tried or pending, in random
        order (so that ties are broken differently by each worker); the region widens (up to
        ``MAX_RADIUS``) where every schedule in it was tried."""
        while True:
            rows = neighbours(start, radius, grid.low, grid.high, CANDIDATES, self._rng)
            fresh = np.array([row for row in rows if tuple(row) not in history.tried])
            if len(fresh) or radius >= MAX_RADIUS:
                return self._rng.permutation(fresh)
            radius = min(2 * radius, MAX_RADIUS)


@dataclass(frozen=True)
class History:
    """What a study holds for the sampler, in width units: schedules measured and their losses (a
    repeat reuses an earlier trial's loss: not a measurement), which of those trained at the
    study's seed, every finished trial's (loss, queued) at that seed in trial order (a pruned one's
    loss infinite), schedules pending (asked, not told), and every schedule tried."""

    units: np.ndarray
    values: np.ndarray
    competing: np.ndarray
    outcomes: list[tuple[float, bool]]
    pending: list[tuple[int, ...]]
    tried: set[tuple[int, ...]]

    @classmethod
    def read(
        cls, trials: Sequence[FrozenTrial], names: list[str], grid: Grid, asking: int, study_seed: int
    ) -> History:
        """The history of ``trials`` over the layer parameters ``names``, for trial ``asking``;
        schedules compete at ``study_seed`` (a sampled trial not yet given a seed trains at it)."""
        measured: list[tuple[tuple[int, ...], float, bool]] = []
        outcomes: list[tuple[float, bool]] = []
        pending: list[tuple[int, ...]] = []
        tried: set[tuple[int, ...]] = set()
        for trial in trials:
            # A queued trial's schedule is in its record before its parameters are.
            queued_mults = record.queued_mults(trial)
            queued = queued_mults is not None
            params = {layer_param_name(i): m for i, m in enumerate(queued_mults or ())} | trial.params
            if trial.number == asking or not all(name in params for name in names):
                continue
            row = grid.units(params, names)
            tried.add(row)
            competing = record.seed(trial, study_seed) == study_seed
            if trial.state == TrialState.COMPLETE and trial.value is not None and math.isfinite(trial.value):
                # A repeat reuses its earlier trial's loss: no second measurement of the noise.
                if record.repeat_of(trial) is None:
                    measured.append((row, trial.value, competing))
                if competing:
                    outcomes.append((trial.value, queued))
            elif trial.state == TrialState.PRUNED and competing:
                outcomes.append((math.inf, queued))
            elif trial.state in (TrialState.RUNNING, TrialState.WAITING):
                pending.append(row)
        units = np.array([row for row, _, _ in measured], dtype=np.int64).reshape(-1, len(names))
        values = np.array([value for _, value, _ in measured], dtype=float)
        competing = np.array([at for _, _, at in measured], dtype=bool)
        return cls(units, values, competing, outcomes, pending, tried)

    def model(self) -> ModelFit | None:
        """The Gaussian process's settings; None before two distinct schedules are measured."""
        if len({tuple(row) for row in self.units}) < 2:
            return None
        return fit_model(self.units, self.values)

    def incumbent(self, fit: ModelFit | None) -> np.ndarray | None:
        """The schedule to move from: the lowest posterior mean once the model has ``MIN_TRIALS``
        trials, else the lowest loss, else the first pending one (a baseline still training)."""
        if not len(self.values):
            return np.array(self.pending[0]) if self.pending else None
        return self.units[int(np.argmin(self._ranked(fit)))]

    def improvement(self, fit: ModelFit, candidates: np.ndarray) -> np.ndarray:
        """Expected improvement of each candidate on the incumbent, pending schedules counted at
        the model's own prediction (the kriging believer, a constant liar whose lie is the model's)."""
        units, values = self.units, self.values
        if self.pending:
            pending = np.array(self.pending)
            units = np.vstack([units, pending])
            values = np.concatenate([values, predict(self.units, self.values, fit, pending)[0]])
        mean, sd = predict(units, values, fit, candidates)
        return expected_improvement(mean, sd, float(self._ranked(fit).min()))

    def _ranked(self, fit: ModelFit | None) -> np.ndarray:
        """What the measured schedules are ranked by: posterior means with a trusted model, else
        losses at the study's seed (the others' ranked last; every loss before one is in)."""
        if fit is None or len(self.values) < MIN_TRIALS:
            return np.where(self.competing, self.values, np.inf) if self.competing.any() else self.values
        return predict(self.units, self.values, fit, self.units)[0]


def trust_radius(outcomes: Sequence[tuple[float, bool]]) -> int:
    """Units a proposal may move, replayed from the finished trials' (loss, queued) in trial order.

    Queued trials (baselines) only set the loss to beat; each sampled trial that beats the best
    so far is a success, any other (a pruned one's loss is infinite) a failure.
    """
    radius, best, wins, losses = START_RADIUS, math.inf, 0, 0
    for value, queued in outcomes:
        improved = value < best
        best = min(best, value)
        if queued:
            continue
        wins, losses = (wins + 1, 0) if improved else (0, losses + 1)
        if wins >= GROW_AFTER:
            radius, wins = min(2 * radius, MAX_RADIUS), 0
        elif losses >= SHRINK_AFTER:
            radius, losses = max(radius // 2, 1), 0
    return radius


def neighbours(
    start: np.ndarray, radius: int, low: int, high: int, count: int, rng: np.random.Generator
) -> np.ndarray:
    """Distinct schedules (in units) ``start`` becomes by moving up to ``radius`` units between
    layers within [low, high]: every single move, and ``count`` random moves of 1 to ``radius``."""
    layers = len(start)
    singles = []
    for give in range(layers):
        for take in range(layers):
            if give != take and start[give] > low and start[take] < high:
                row = start.copy()
                row[give] -= 1
                row[take] += 1
                singles.append(row)
    rows = np.tile(start, (count, 1))
    moves = rng.integers(1, radius + 1, size=count)
    index = np.arange(count)
    for move in range(radius):
        give, take = rng.integers(layers, size=count), rng.integers(layers, size=count)
        ok = (move < moves) & (give != take) & (rows[index, give] > low) & (rows[index, take] < high)
        rows[index[ok], give[ok]] -= 1
        rows[index[ok], take[ok]] += 1
    every = np.vstack([*singles, rows]) if singles else rows
    _, first = np.unique(every, axis=0, return_index=True)
    distinct = every[np.sort(first)]
    return distinct[(distinct != start).any(axis=1)]


def expected_improvement(mean: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    """Expected amount by which a loss of posterior ``mean`` and ``sd`` falls below ``best``."""
    from scipy.stats import norm  # here: scipy is slow to import and --help needs none of it

    sd = np.maximum(sd, 1e-12)
    z = (best - mean) / sd
    return (best - mean) * norm.cdf(z) + sd * norm.pdf(z)


def layer_distributions(distributions: dict[str, BaseDistribution]) -> dict[str, BaseDistribution]:
    """The layer parameters ``mlp_mult_l00``, ... of a trial's distributions, in layer order.

    Raises ValueError when the trial has other parameters: moves between layers are defined for
    the composition space only.
    """
    names = [layer_param_name(i) for i in range(len(distributions))]
    if set(names) != set(distributions):
        raise ValueError(
            f"the moves sampler searches the composition space (parameters mlp_mult_lNN); "
            f"this study's trials have {sorted(distributions)}"
        )
    return {name: distributions[name] for name in names}


@dataclass(frozen=True)
class Grid:
    """The layers' common grid in width units: a unit is ``step`` of a multiplier, a layer holds
    ``low`` to ``high`` units, and ``whole`` says the parameters are integers."""

    step: float
    low: int
    high: int
    whole: bool

    @classmethod
    def of(cls, search_space: dict[str, BaseDistribution]) -> Grid:
        """The grid every layer distribution shares; ValueError if they differ or are not stepped."""
        grids = set()
        for distribution in search_space.values():
            if isinstance(distribution, IntDistribution) and distribution.step == 1:
                grids.add((1.0, distribution.low, distribution.high, True))
            elif isinstance(distribution, FloatDistribution) and distribution.step is not None:
                grids.add((distribution.step, distribution.low, distribution.high, False))
            else:
                raise ValueError(f"the moves sampler needs layer widths in whole steps, got {distribution}")
        if len(grids) != 1:
            raise ValueError(
                f"the moves sampler needs one step and range for every layer, got {sorted(grids)}"
            )
        step, low, high, whole = grids.pop()
        return cls(step, round(low / step), round(high / step), whole)

    def units(self, params: dict[str, Any], names: Sequence[str]) -> tuple[int, ...]:
        """A schedule's parameters as units per layer."""
        return tuple(round(params[name] / self.step) for name in names)

    def params(self, names: Sequence[str], units: np.ndarray) -> dict[str, Any]:
        """Units per layer as the layers' parameter values."""
        return {
            name: int(u) if self.whole else float(u * self.step) for name, u in zip(names, units, strict=True)
        }
