"""Search spaces: each turns an Optuna trial into a valid schedule, deterministically.

Every space suggests parameters with fixed names and fixed ranges, whatever was suggested
before, so multivariate samplers (TPE, GP, CMA-ES) model all of them jointly; ranges that
depend on earlier choices would silently drop later layers out of that joint model. The raw
parameters are then mapped onto the budget by :func:`space.fit.fit_to_budget`, which meets the
fixed sum and the bounds exactly, so no trial is ever rejected for breaking the budget.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import optuna
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution

from space.budget import Budget
from space.fit import fit_to_budget
from space.schedule import Schedule

ParamValue = int | float

# Level parameters move in these steps: finer steps only add near-duplicate schedules.
_LEVEL_STEP = 0.5
_RAMP_STEP = 0.25


class SearchSpace(ABC):
    """A family of schedules over one budget. Subclass it to search a family of your own."""

    name: ClassVar[str]

    def __init__(self, budget: Budget) -> None:
        self.budget = budget

    @abstractmethod
    def suggest(self, trial: optuna.trial.BaseTrial) -> Schedule:
        """Ask the trial for this space's parameters and return the schedule they describe."""

    @abstractmethod
    def params_for(self, schedule: Schedule) -> dict[str, ParamValue] | None:
        """Parameters that make :meth:`suggest` return ``schedule``, or None if out of family."""

    def schedule_from_params(self, params: dict[str, ParamValue]) -> Schedule:
        """The schedule that :meth:`suggest` returns for these parameter values."""
        return self.suggest(optuna.trial.FixedTrial(params))

    def _fit(self, profile: list[float]) -> Schedule:
        return Schedule.from_units(self.budget, fit_to_budget(profile, self.budget))

    def _suggest_mult(self, trial: optuna.trial.BaseTrial, name: str, low: float, high: float) -> float:
        distribution = self._mult_distribution(low, high)
        if isinstance(distribution, IntDistribution):
            return trial.suggest_int(name, distribution.low, distribution.high)
        return trial.suggest_float(name, distribution.low, distribution.high, step=distribution.step)

    def _mult_distribution(self, low: float, high: float) -> IntDistribution | FloatDistribution:
        """A multiplier's distribution over ``[low, high]``: whole numbers when the budget's
        granularity is 1 and both ends are whole, else steps of 1 / granularity."""
        if self.budget.granularity == 1 and low == int(low) and high == int(high):
            return IntDistribution(int(low), int(high))
        return FloatDistribution(low, high, step=1 / self.budget.granularity)


def layer_param_name(layer: int) -> str:
    """Stable per-layer parameter name: ``mlp_mult_l00``, ``mlp_mult_l01``, ..."""
    return f"mlp_mult_l{layer:02d}"


class CompositionSpace(SearchSpace):
    """Any schedule that meets the budget and bounds, and nothing else.

    Parametrization: one parameter per layer, ``mlp_mult_lNN``, with the budget's per-layer bounds
    as its fixed range. The vector is scaled to the budget's sum, clipped to the bounds and
    rounded by largest remainder (:func:`space.fit.fit_to_budget`). A vector that already meets
    the budget maps to itself, so every valid schedule can come out, nothing else can, and the
    schedule depends only on the trial's parameters. Unlike drawing each layer independently and
    rejecting (about 4% of [1..8]^12 sums to 48) no trial is wasted, and unlike stick-breaking
    every layer keeps the same fixed range, so samplers model all layers jointly.

    Recorded parameters are the schedule: a trial's parameters are always the multipliers it
    trained. When the sampler proposes all layers jointly (TPE, GP and CMA-ES after their first
    trials), the proposal is fitted *before* it is recorded. Fitting is many-to-one (a vector and
    twice it give one schedule); had the raw vectors been recorded, the sampler would model where
    vectors fell, spread along rays through the origin, instead of the schedules that were
    measured, and a good schedule would pull later proposals only weakly towards itself. On
    synthetic objectives (``python -m bench.search``) fitting first cut the trials TPE needs to
    reach within 1% of the optimum to about a third. Where the sampler would draw one parameter at
    a time (random search, and the samplers' first trials) it is asked for all of them up front
    (its ``sample_independent``, the same draws), and they are fitted before anything is recorded.
    """

    name = "composition"

    def suggest(self, trial: optuna.trial.BaseTrial) -> Schedule:
        budget = self.budget
        names = [layer_param_name(i) for i in range(budget.n_layers)]
        proposal = _joint_proposal(trial, names)
        if proposal is None and _live_and_fresh(trial, names):
            distribution = self._mult_distribution(budget.min_mult, budget.max_mult)
            proposal = _drawn_up_front(trial, dict.fromkeys(names, distribution))
        if proposal is not None:
            fitted = self._fit([float(proposal[name]) for name in names])
            # Optuna records a trial's parameter when it is first suggested and never changes it
            # (RDB storages refuse a second value), so the proposal itself is replaced.
            proposal.update(zip(names, fitted.mults, strict=True))
        profile = [self._suggest_mult(trial, name, budget.min_mult, budget.max_mult) for name in names]
        return self._fit(profile)

    def params_for(self, schedule: Schedule) -> dict[str, ParamValue]:
        return {layer_param_name(i): m for i, m in enumerate(schedule.mults)}


def _live_and_fresh(trial: optuna.trial.BaseTrial, names: list[str]) -> bool:
    """Whether ``trial`` is a live trial none of whose ``names`` is recorded yet."""
    return isinstance(trial, optuna.Trial) and not any(name in trial.distributions for name in names)


def _drawn_up_front(trial: optuna.Trial, distributions: dict[str, BaseDistribution]) -> dict[str, ParamValue]:
    """The sampler's one-at-a-time draws for ``distributions``, made before any is recorded and
    set as the trial's joint proposal (its relative parameters, over a relative search space that
    now holds them), so that they can be fitted first like a joint proposal."""
    study = trial.study
    frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == trial.number)
    drawn = {
        name: study.sampler.sample_independent(study, frozen, name, distribution)
        for name, distribution in distributions.items()
    }
    proposal = trial.relative_params  # the sampler's own joint proposal (none yet) comes first
    assert trial.relative_search_space is not None
    trial.relative_search_space.update(distributions)
    proposal.update(drawn)
    return proposal


def _joint_proposal(trial: optuna.trial.BaseTrial, names: list[str]) -> dict[str, ParamValue] | None:
    """The sampler's joint proposal for ``names`` in a live trial, before any is recorded; else None.

    ``optuna.Trial.relative_params`` is the sampler's :meth:`sample_relative` result, computed
    once per trial and consulted by each ``suggest_*`` call (queued parameters, from
    ``enqueue_trial``, take precedence over it). Fixed and frozen trials have no proposal.
    """
    if not isinstance(trial, optuna.Trial) or any(name in trial.distributions for name in names):
        return None
    proposal = getattr(trial, "relative_params", None)
    if not isinstance(proposal, dict) or not all(name in proposal for name in names):
        return None
    return proposal


class HourglassSpace(SearchSpace):
    """A low-dimensional family: wide or narrow ends around a flat waist.

    Parameters: ``first_mult`` (layer 0), ``waist_mult`` (the flat waist), ``last_mult`` (the last
    layer), ``waist_start`` and ``waist_end`` (the waist's first and last layer; swapped when
    given in reverse). Layers between an end and the waist are interpolated linearly; the profile
    is then scaled onto the budget, so the three levels act as proportions.
    """

    name = "hourglass"

    def __init__(self, budget: Budget) -> None:
        if budget.n_layers < 3:
            raise ValueError(f"the hourglass space needs at least 3 layers, got {budget.n_layers}")
        super().__init__(budget)

    def suggest(self, trial: optuna.trial.BaseTrial) -> Schedule:
        budget = self.budget
        lo, hi = budget.min_mult, budget.max_mult
        first = trial.suggest_float("first_mult", lo, hi, step=_LEVEL_STEP)
        waist = trial.suggest_float("waist_mult", lo, hi, step=_LEVEL_STEP)
        last = trial.suggest_float("last_mult", lo, hi, step=_LEVEL_STEP)
        inner_last = budget.n_layers - 2
        a = trial.suggest_int("waist_start", 1, inner_last)
        b = trial.suggest_int("waist_end", 1, inner_last)
        profile = hourglass_profile(budget.n_layers, first, waist, last, min(a, b), max(a, b))
        return self._fit(profile)

    def params_for(self, schedule: Schedule) -> dict[str, ParamValue] | None:
        mults = schedule.mults
        waist = min(mults[1:-1])
        inside = [i for i in range(1, len(mults) - 1) if mults[i] == waist]
        levels = {"first_mult": mults[0], "waist_mult": waist, "last_mult": mults[-1]}
        if any(v % _LEVEL_STEP for v in levels.values()):
            return None
        params: dict[str, ParamValue] = {k: float(v) for k, v in levels.items()}
        params |= {"waist_start": inside[0], "waist_end": inside[-1]}
        return params if self.schedule_from_params(params) == schedule else None


def hourglass_profile(
    n_layers: int, first: float, waist: float, last: float, start: int, end: int
) -> list[float]:
    """``first`` at layer 0, ``waist`` on layers start..end, ``last`` on the last layer, linear between."""
    profile = []
    for i in range(n_layers):
        if i < start:
            profile.append(first + (waist - first) * i / start)
        elif i <= end:
            profile.append(waist)
        else:
            profile.append(waist + (last - waist) * (i - end) / (n_layers - 1 - end))
    return profile


class RampSpace(SearchSpace):
    """A linear ramp from the first layer to the last, growing or shrinking.

    One parameter, ``first_mult``: the first layer's multiplier; the last layer's is chosen so
    the ramp's mean is the budget's mean (as in layer-wise scaling). Bounds clip the ends; the
    clipped ramp is then fitted to the budget.
    """

    name = "ramp"

    def suggest(self, trial: optuna.trial.BaseTrial) -> Schedule:
        lo, hi = self._first_range()
        first = trial.suggest_float("first_mult", lo, hi, step=_RAMP_STEP)
        mean = self.budget.total / self.budget.n_layers
        return self._fit(ramp_profile(self.budget.n_layers, first, 2 * mean - first))

    def _first_range(self) -> tuple[float, float]:
        budget = self.budget
        lo = float(budget.min_mult)
        return lo, min(float(budget.max_mult), 2 * budget.total / budget.n_layers - lo)

    def params_for(self, schedule: Schedule) -> dict[str, ParamValue] | None:
        lo, hi = self._first_range()
        first = float(schedule.mults[0])
        if not lo <= first <= hi or first % _RAMP_STEP:
            return None
        params: dict[str, ParamValue] = {"first_mult": first}
        return params if self.schedule_from_params(params) == schedule else None


def ramp_profile(n_layers: int, first: float, last: float) -> list[float]:
    """Evenly spaced values from ``first`` to ``last``, never negative."""
    if n_layers == 1:
        return [max(first, 0.0)]
    return [max(first + (last - first) * i / (n_layers - 1), 0.0) for i in range(n_layers)]


SPACES: dict[str, type[SearchSpace]] = {
    space.name: space for space in (CompositionSpace, HourglassSpace, RampSpace)
}


def make_space(name: str, budget: Budget) -> SearchSpace:
    """The space called ``name`` over ``budget``; unknown names list the known ones."""
    try:
        space_class = SPACES[name]
    except KeyError:
        raise ValueError(f"unknown space '{name}'; choose from {', '.join(SPACES)}") from None
    return space_class(budget)
