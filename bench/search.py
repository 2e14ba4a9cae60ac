"""Search efficiency: how many trials each space x sampler needs to get within 1% of the optimum.

    python -m bench.search            # the full benchmark: 945 runs
    python -m bench.search --quick    # smoke run, seconds

With several ``--jobs``, give each one BLAS thread (``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``
before the command): numpy reads them when it loads. So set, the full benchmark took 167 s with
``--jobs 9`` on a 16-core machine (12 minutes on 2 cores before the model rule existed).

Every space (composition, hourglass, ramp) is searched with every sampler that can search it
(moves: the composition space only), built by :func:`search.study.samplers.make_sampler` exactly
as the product builds it, on cheap synthetic objectives over the schedules of ``Budget()`` (12
layers, sum 48, bounds 1..16). Prints Markdown tables, then one JSON object with every figure.

Objectives. Each is a loss over a schedule ``m`` with a known optimum ``t`` (a valid schedule):

    f(m) = sum over cuts k of (C_k(m) - C_k(t))^2 + 0.02 * sum over layers i of (m_i - t_i)^2

where ``C_k(m) = m_0 + ... + m_k`` is the width spent in the first k+1 layers. The coarse shape
(how much width sits in the first layer, the first third, the first half, ...) dominates and
layer-to-layer detail matters little, as moving width between neighbouring layers barely changes
a trained model. Every term is non-negative and all vanish at ``t``, so ``t`` is the optimum
over all valid schedules by construction (the only one: the detail term is zero nowhere else).
The rugged objective adds ``2 * (1 - cos(pi * (C_k(m) - C_k(t))))`` per cut (local minima at even
offsets) and takes the minimum with a second, similar basin around a decoy schedule that sits
``decoy_floor`` above zero, so it stays non-negative with the optimum at ``t``.

Regret and target. ``regret(m) = (f(m) - f(t)) / spread`` where ``spread`` is the mean of
``f - f(t)`` over uniformly random valid schedules (20,000 exact draws, fixed seed): the excess a
random guess leaves. It does not depend on an offset or a scale of ``f``, and unlike the gap to
the uniform schedule it stays meaningful when the optimum is near (or at) uniform. The uniform
schedule's own regret is listed per objective. A run *reaches the target* at the first trial n at
which its recommendation's noise-free regret is at most 1%; runs stop there. With noise, the
observed value is ``f + N(0, (0.03 * spread)^2)``, drawn once per schedule and seed (a repeat of a
schedule gets the same answer, as in the product). 3% of the spread is about 0.005 in validation
loss if the hand-found schedule's measured gain over uniform (0.058) is its gain here: a typical
seed-to-seed spread of short runs. A *trial* is a distinct schedule evaluated: the product trains
no schedule twice, a repeated proposal is answered from the earlier trial, so repeats cost nothing
here either (a run also ends after 50 repeats in a row, or when a family has no untried schedule).

Recommendation. Without noise, a run recommends the schedule with the best observed value, the
first on ties, as Optuna's ``best_trial``. With noise that rule trusts lucky draws (a schedule
near the optimum whose noise happened to be low), so by default (``--recommend model``) a noisy
run recommends the model's pick of ``search.findings.recommend``, as the product picks; these runs
queue no baseline to weigh it against, so it is the trained schedule with the lowest posterior
mean of the Gaussian process: refreshed every ``MODEL_EVERY``
(10) trials, kernel refitted every ``REFIT_EVERY`` (100), the best observed before ``MIN_TRIALS``
(8). ``--recommend observed`` uses the best observed value with noise too.

Families. Hourglass and ramp reach only part of the schedules; their best member (found by
trying their whole parameter grid) may be above the target, which then is unreachable there.
They are also measured against their own optimum: the target ``family best + 1%``.

Caps. TPE, CMA-ES and moves get ``--budget`` trials (300), random search 3x that. GP refits a Gaussian
process every trial (about a second each on 2 cores, 70 s for a 55-trial run on the composition
space), so by default it runs ``--gp-seeds`` (3) seeds of ``--gp-budget`` (40) trials on the
noise-free objectives only; ``--gp-seeds 10 --gp-budget 60 --gp-all`` measures it fully (the
noisy half took 173 s with 16 jobs on 16 cores). Medians count a run that did not reach the
target as above the cap (``>cap``).

Random search, simulated. On the composition space random search rarely gets within 1% in
hundreds of trials, so its median is also estimated by simulation, exactly as the random sampler
draws (every layer uniform over its range, independently, then fitted to the budget): a pool of
``--sim-pool`` fitted schedules, and ``--sim-runs`` runs of up to ``--sim-cap`` trials drawn from
it, recommending the best observed value. Draws are with replacement, so a repeated schedule
counts as a trial there (a slight overcount, rare in a space this large). With the model rule the
noisy problems are not simulated (a Gaussian process over thousands of trials per run is too
slow); each is judged against its noise-free twin instead, a lower bound: a search that
recommends one of the schedules it trained cannot do better than the best of them, which is what
the noise-free search recommends after the same draws.

Requirement. The default space with TPE (as ``make_sampler`` builds it; the default sampler
before moves, which ``python -m bench.search_budget`` judges at the user's budget) should need
at most a third of random search's trials. Judged per objective and pooled over all
objectives (every run of every objective, equal weights), TPE's median against the simulated
random median (or its lower bound); the measured random median is shown beside it. A verdict is
``undecided`` when a median is above its cap or a bound does not settle it; it is never turned
into a ``yes``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from multiprocessing import Pool

import numpy as np
import optuna

from search.findings.recommend import recommend
from search.study.samplers import SAMPLERS, make_sampler, searches
from search.study.schedule_model import MIN_TRIALS, ModelFit, fit_model
from space.budget import Budget
from space.fit import fit_to_budget
from space.spaces import SPACES, HourglassSpace, SearchSpace, hourglass_profile, make_space
from space.spec import HAND_FOUND

TARGET = 0.01
NOISE = 0.03
SPREAD_DRAWS = 20_000
RANDOM_FACTOR = 3
# A sampler that proposes only schedules it already has this many times in a row is stuck.
STUCK = 50
# The model rule updates its recommendation every MODEL_EVERY trials, its kernel every REFIT_EVERY.
MODEL_EVERY = 10
REFIT_EVERY = 100
RULES = ("model", "observed")
# The requirement below was set, and is judged, for TPE, the default before moves (judged at the
# user's budget by bench.search_budget instead: its trials-to-target runs are slow past 100 trials).
DEFAULT_SPACE, JUDGED_SAMPLER = "composition", "tpe"
# fit_many's values differ from the product's by about 1e-13: rows with remainders closer than
# _TIE at the cut, or values within _EDGE of fit's snap distance, are fitted by the product.
_TIE = 1e-9
_EDGE = 1e-11
_SNAP = 1e-9


@dataclass(frozen=True)
class Objective:
    """A synthetic loss over schedules, lowest (zero) at ``optimum``; see the module docstring."""

    name: str
    optimum: tuple[int, ...]
    cuts: tuple[int, ...]
    detail: float = 0.02
    ripple: float = 0.0
    decoy: tuple[int, ...] | None = None
    decoy_floor: float = 0.0

    def values(self, mults: np.ndarray) -> np.ndarray:
        """Noise-free values of the schedules in the rows of ``mults``."""
        mults = np.atleast_2d(mults)
        value = self._basin(mults, self.optimum)
        if self.decoy is not None:
            value = np.minimum(value, self._basin(mults, self.decoy) + self.decoy_floor)
        return value

    def _basin(self, mults: np.ndarray, centre: tuple[int, ...]) -> np.ndarray:
        off = mults - np.asarray(centre)
        coarse = np.cumsum(off, axis=1)[:, list(self.cuts)]
        value = (coarse**2).sum(axis=1) + self.detail * (off**2).sum(axis=1)
        return value + self.ripple * (1 - np.cos(np.pi * coarse)).sum(axis=1)


SHAPES = (
    Objective("hand-found", HAND_FOUND, cuts=(0, 3, 7)),
    Objective("near-uniform", (5, 5, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3), cuts=(1, 5, 9)),
    Objective("ramp", (2, 2, 3, 3, 3, 4, 4, 5, 5, 5, 6, 6), cuts=(2, 5, 8)),
    Objective("wide-first", (15,) + (3,) * 11, cuts=(0, 5)),
    Objective(
        "rugged",
        (6, 6, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4),
        cuts=(1, 5, 8),
        ripple=2.0,
        decoy=(3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5),
        decoy_floor=2.0,
    ),
    # Held out: added with the at-budget benchmark and checked only after its sampler was chosen.
    Objective("few-moves", (4, 5, 4, 4, 3, 4, 4, 4, 5, 4, 4, 3), cuts=(1, 4, 9)),
    Objective("wide-last", (2, 2, 2, 2, 3, 3, 3, 3, 4, 5, 8, 11), cuts=(3, 7, 10)),
    Objective("bulge", (2, 2, 3, 4, 6, 7, 7, 6, 4, 3, 2, 2), cuts=(2, 5, 8)),
    # Held out from the recommendation rule (#16 part 3): fixed before any run, then run last.
    # Three unit moves from hand-found, across its cuts: better than a baseline, but near it.
    Objective("three-moves", (7, 4, 4, 4, 4, 4, 4, 3, 4, 3, 4, 3), cuts=(0, 4, 8)),
    # Wide at both ends, narrow in the middle.
    Objective("waist", (7, 6, 5, 3, 2, 2, 2, 2, 3, 5, 5, 6), cuts=(1, 5, 9)),
    # Middle-heavy, with a second, shallower basin around the hand-found baseline.
    Objective(
        "two-peak",
        (3, 3, 4, 5, 6, 6, 5, 4, 3, 3, 3, 3),
        cuts=(2, 5, 8),
        decoy=HAND_FOUND,
        decoy_floor=3.0,
    ),
)


@dataclass(frozen=True)
class Problem:
    """An objective, the spread its regret is measured in, and its observation noise (sd)."""

    objective: Objective
    spread: float
    noise_sd: float

    @property
    def name(self) -> str:
        """The objective's name, marked when observations are noisy."""
        return self.objective.name + (" +noise" if self.noise_sd else "")

    def regret(self, mults: np.ndarray) -> np.ndarray:
        """Noise-free regret of the schedules in the rows of ``mults`` (the optimum's value is 0)."""
        return self.objective.values(mults) / self.spread


def uniform_valid_schedules(budget: Budget, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` schedules drawn uniformly from all valid ones (in units), exactly.

    Layer by layer, each value is drawn in proportion to the number of ways the remaining
    layers can spend what is left.
    """
    lo, hi, n, total = budget.min_units, budget.max_units, budget.n_layers, budget.total_units
    ways = np.zeros((n + 1, total + 1), dtype=object)
    ways[n][0] = 1
    for layer in range(n - 1, -1, -1):
        for left in range(total + 1):
            ways[layer][left] = sum(ways[layer + 1][left - v] for v in range(lo, min(hi, left) + 1))
    values = np.arange(lo, hi + 1)
    drawn = np.empty((count, n), dtype=np.int64)
    left = np.full(count, total)
    for layer in range(n):
        weights = np.array(
            [[float(ways[layer + 1][r - v]) if r >= v else 0.0 for v in values] for r in range(total + 1)]
        )
        cumulative = np.cumsum(weights, axis=1)
        cumulative /= np.where(cumulative[:, -1:] > 0, cumulative[:, -1:], 1.0)
        pick = (rng.random(count)[:, None] >= cumulative[left]).sum(axis=1)
        drawn[:, layer] = values[pick]
        left -= values[pick]
    return drawn


def make_problems(noise: float, budget: Budget) -> list[Problem]:
    """Every objective shape, noise-free and (unless ``noise`` is 0) with noise ``noise x spread``."""
    draws = uniform_valid_schedules(budget, SPREAD_DRAWS, np.random.default_rng(0))
    problems = []
    for shape in SHAPES:
        spread = float(shape.values(draws).mean())
        shares = [0.0] + ([noise] if noise > 0 else [])
        problems += [Problem(shape, spread, share * spread) for share in shares]
    return problems


# --- families: every schedule a space can return -------------------------------------------------


def parameter_grid(space: SearchSpace) -> dict[str, list[float]]:
    """Every value each of the space's parameters can take (they all have fixed, stepped ranges)."""
    trial = optuna.create_study().ask()
    space.suggest(trial)
    grid = {}
    for name, dist in trial.distributions.items():
        step = dist.step
        count = round((dist.high - dist.low) / step) + 1
        grid[name] = [dist.low + k * step for k in range(count)]
    return grid


def family_members(space: SearchSpace, pool: Pool | None = None) -> np.ndarray:
    """Every distinct schedule (multipliers, one per row) the space can return, from its whole grid."""
    grid = parameter_grid(space)
    if isinstance(space, HourglassSpace):
        waist_pairs = list(itertools.combinations_with_replacement(grid["waist_start"], 2))
        jobs = [(space.budget, grid["first_mult"], pair) for pair in waist_pairs]
        found = pool.map(_hourglass_members, jobs) if pool else list(map(_hourglass_members, jobs))
        units = distinct_rows(np.concatenate(found))
    else:
        names = list(grid)
        schedules = {
            space.schedule_from_params(dict(zip(names, values, strict=True))).units
            for values in itertools.product(*grid.values())
        }
        units = np.array(sorted(schedules))
    return units / space.budget.granularity


def _hourglass_members(job: tuple[Budget, list[float], tuple[int, int]]) -> np.ndarray:
    """Units of every hourglass schedule with one waist (start, end), over all level triples."""
    budget, levels, (start, end) = job
    triples = np.array(list(itertools.product(levels, repeat=3)))
    return distinct_rows(hourglass_units(budget, triples, start, end))


def hourglass_units(budget: Budget, levels: np.ndarray, start: int, end: int) -> np.ndarray:
    """Units of the hourglass schedules whose (first, waist, last) are the rows of ``levels``."""
    units, fragile = fit_many(hourglass_profiles(budget.n_layers, levels, start, end), budget)
    for row in np.flatnonzero(fragile):
        profile = hourglass_profile(budget.n_layers, *levels[row], start, end)
        units[row] = fit_to_budget(profile, budget)
    return units


def distinct_rows(units: np.ndarray) -> np.ndarray:
    """The distinct rows of an integer matrix, sorted (far faster than numpy's row-wise unique)."""
    return np.array(sorted(set(map(tuple, units.tolist()))), dtype=units.dtype)


def hourglass_profiles(n_layers: int, levels: np.ndarray, start: int, end: int) -> np.ndarray:
    """:func:`space.spaces.hourglass_profile` for many (first, waist, last) rows at once."""
    first, waist, last = (levels[:, k : k + 1] for k in range(3))
    layer = np.arange(n_layers)[None, :]
    rising = first + (waist - first) * layer / start
    falling = waist + (last - waist) * (layer - end) / (n_layers - 1 - end)
    return np.where(layer < start, rising, np.where(layer <= end, waist, falling))


def fit_many(profiles: np.ndarray, budget: Budget) -> tuple[np.ndarray, np.ndarray]:
    """:func:`space.fit.fit_to_budget` for many profiles at once, and the rows not to trust.

    The scale is found by bisection instead of exactly, so results agree with the product's to
    about 1e-13; a row is *fragile* when any rounding decision (the snap to a whole step, the
    order of the remainders at the cut) is closer than 1e-9, and must be fitted by the product.
    """
    step = budget.step_units
    lo, hi, total = budget.min_steps, budget.max_steps, budget.total_steps
    weights = profiles / step
    top = weights.max(axis=1, keepdims=True)
    weights = np.where(top == 0, 1.0, weights)
    weights = np.maximum(weights, np.where(top == 0, 1.0, top) * 1e-12)
    low, high = np.zeros(len(weights)), hi / weights.min(axis=1)
    for _ in range(80):  # halves the bracket to below one float step of the scale
        mid = (low + high) / 2
        short = np.clip(mid[:, None] * weights, lo, hi).sum(axis=1) < total
        low, high = np.where(short, mid, low), np.where(short, high, mid)
    exact = np.clip(high[:, None] * weights, lo, hi)
    distance = np.abs(exact - np.round(exact))
    near_snap = np.abs(distance - _SNAP) < _EDGE
    exact = np.where(distance < _SNAP, np.round(exact), exact)
    steps = np.floor(exact).astype(np.int64)
    remainder = np.where(steps < hi, exact - steps, -1.0)
    order = np.argsort(-remainder, axis=1, kind="stable")  # ties: earlier layer first
    short = total - steps.sum(axis=1)
    ranks = np.argsort(order, axis=1)
    grown = ranks < short[:, None]
    fragile = near_snap.any(axis=1) | _split_near_tie(remainder, weights, grown, order, short)
    steps += grown
    return steps * step, fragile


def _split_near_tie(
    remainder: np.ndarray, weights: np.ndarray, grown: np.ndarray, order: np.ndarray, short: np.ndarray
) -> np.ndarray:
    """Rows whose cut runs through remainders within 1e-9 of each other from unequal weights.

    Equal weights give bit-equal remainders here and in the product, both ordered by layer;
    unequal ones that are equal on paper may be ordered either way by rounding.
    """
    rows = np.arange(len(remainder))
    last_grown = remainder[rows, order[rows, np.maximum(short - 1, 0)]]
    near = (np.abs(remainder - last_grown[:, None]) < _TIE) & (short > 0)[:, None]
    split = (near & grown).any(axis=1) & (near & ~grown).any(axis=1)
    unequal = np.where(near, weights, -np.inf).max(axis=1) > np.where(near, weights, np.inf).min(axis=1)
    return split & unequal


@dataclass(frozen=True)
class Family:
    """What a space can reach: its members (None: every valid schedule) and how many."""

    space: str
    members: np.ndarray | None

    @property
    def size(self) -> int | None:
        """Number of distinct schedules, or None for the composition space (all of them)."""
        return None if self.members is None else len(self.members)

    def best_regret(self, problem: Problem) -> float:
        """The lowest regret any member has (0 for the composition space)."""
        return 0.0 if self.members is None else float(problem.regret(self.members).min())


def make_families(spaces: Sequence[str], budget: Budget, pool: Pool | None) -> dict[str, Family]:
    """Each space's family: composition reaches every valid schedule, the others are enumerated."""
    return {
        name: Family(name, None if name == "composition" else family_members(make_space(name, budget), pool))
        for name in spaces
    }


# --- one search run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """One search: a problem, a space and a sampler at a seed, with its caps and stopping regret."""

    problem: Problem
    space: str
    sampler: str
    seed: int
    cap: int
    stop_at: float
    family_size: int | None
    rule: str = "observed"


def quiet_worker() -> None:
    """Silence Optuna's per-trial logging and warnings; one thread per process for GP's torch."""
    os.environ["OMP_NUM_THREADS"] = "1"
    if "torch" in sys.modules:  # already imported: the variable above came too late
        sys.modules["torch"].set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)


def run_search(spec: RunSpec) -> list[float]:
    """Noise-free regret of the recommendation after each trial, until the stop or a cap."""
    space = make_space(spec.space, Budget())
    study = optuna.create_study(sampler=make_sampler(spec.sampler, spec.seed, study_seed=0))
    observed: dict[tuple[int | float, ...], float] = {}
    regrets: list[float] = []
    trace: list[float] = []
    rule = ModelRule() if spec.rule == "model" else None
    repeats = 0
    while repeats < STUCK:
        trial = study.ask()
        mults = space.suggest(trial).mults
        repeats = repeats + 1 if mults in observed else 0
        if not repeats:
            regret = float(spec.problem.regret(np.array(mults))[0])
            observed[mults] = regret * spec.problem.spread + _noise(spec, mults)
            regrets.append(regret)
            if rule is None:
                trace.append(recommended(list(observed.values()), regrets))
            else:
                trace.append(regrets[rule.choose(observed)])
        study.tell(trial, observed[mults])
        if trace[-1] <= spec.stop_at or len(trace) in (spec.cap, spec.family_size):
            break
    return trace


def timed_search(spec: RunSpec) -> tuple[list[float], float]:
    """:func:`run_search` and the seconds it took."""
    started = time.perf_counter()
    trace = run_search(spec)
    return trace, time.perf_counter() - started


def _noise(spec: RunSpec, mults: tuple[int | float, ...]) -> float:
    if not spec.problem.noise_sd:
        return 0.0
    rng = np.random.default_rng([spec.seed, *(round(m * 1000) for m in mults)])
    return float(rng.normal(0.0, spec.problem.noise_sd))


class ModelRule:
    """Recommend the model's pick (``search.findings.recommend``, as the product picks; these runs
    queue no baseline, so it is the lowest posterior mean), refreshed every ``MODEL_EVERY`` trials
    with the kernel refitted every ``REFIT_EVERY``; the best observed before ``MIN_TRIALS`` trials."""

    def __init__(self) -> None:
        self.fit: ModelFit | None = None
        self.fitted_at = 0
        self.choice = 0

    def choose(self, observed: dict[tuple[int | float, ...], float]) -> int:
        """Index (in trial order) of the recommended schedule, after the latest trial."""
        values = np.fromiter(observed.values(), dtype=float)
        n = len(values)
        if n < MIN_TRIALS:
            self.choice = int(np.argmin(values))
        elif n == MIN_TRIALS or n % MODEL_EVERY == 0:
            mults = np.array(list(observed), dtype=float)
            if self.fit is None or n - self.fitted_at >= REFIT_EVERY:
                self.fit, self.fitted_at = fit_model(mults, values), n
            self.choice = recommend(mults, values, np.zeros(n, dtype=bool), self.fit).pick
        return self.choice


def recommended(observed: Sequence[float], true: Sequence[float]) -> float:
    """The true value of the trial with the lowest observed value (the first of equals)."""
    return true[min(range(len(observed)), key=observed.__getitem__)]


def trials_to_target(trace: Sequence[float], threshold: float) -> int | None:
    """The first trial (1-based) whose recommendation is within ``threshold``, or None."""
    return next((n for n, value in enumerate(trace, 1) if value <= threshold + 1e-12), None)


# --- random search on the composition space, simulated at scale ----------------------------------


def random_composition_pool(budget: Budget, count: int, seed: int) -> np.ndarray:
    """Multipliers of ``count`` schedules drawn as the random sampler draws them on the composition
    space (every layer uniform over its range, independently) and fitted to the budget."""
    lo, hi, step = budget.min_mult, budget.max_mult, 1 / budget.granularity
    levels = np.arange(round((hi - lo) / step) + 1) * step + lo
    raw = levels[np.random.default_rng(seed).integers(len(levels), size=(count, budget.n_layers))]
    units, fragile = fit_many(raw, budget)
    for row in np.flatnonzero(fragile):
        units[row] = fit_to_budget(raw[row].tolist(), budget)
    return units / budget.granularity


def _pool_chunk(job: tuple[Budget, int, int]) -> np.ndarray:
    return random_composition_pool(*job)


def simulate_random(
    problem: Problem, pool_regret: np.ndarray, runs: int, cap: int, seed: int
) -> list[int | None]:
    """Trials to the target of ``runs`` random searches, each drawing ``cap`` schedules from the pool.

    The same rule as a real run: the recommendation is the best observed value so far (the first
    of equals), observations carry the problem's noise, and a run reaches the target at the first
    trial whose recommendation is within it. Draws are iid from the pool (with replacement), so a
    repeated schedule counts again here: a slight overcount for random search.
    """
    rng = np.random.default_rng(seed)
    found: list[int | None] = []
    for _ in range(runs):
        regret = pool_regret[rng.integers(len(pool_regret), size=cap)]
        observed = regret * problem.spread + rng.normal(0.0, problem.noise_sd or 0.0, size=cap)
        # index of the recommendation after each trial: the latest strict improvement so far
        record = np.concatenate(([True], observed[1:] < np.minimum.accumulate(observed)[:-1]))
        chosen = np.maximum.accumulate(np.where(record, np.arange(cap), 0))
        hits = np.flatnonzero(regret[chosen] <= TARGET + 1e-12)
        found.append(int(hits[0]) + 1 if len(hits) else None)
    return found


# --- the benchmark -------------------------------------------------------------------------------


@dataclass
class Cell:
    """All runs of one space x sampler on one problem, reduced to trials-to-target."""

    space: str
    sampler: str
    problem: str
    cap: int
    family_best: float
    runs: list[int | None]
    family_runs: list[int | None]
    seconds: float = 0.0

    @property
    def reachable(self) -> bool:
        """Whether the family holds a schedule within the target at all."""
        return self.family_best <= TARGET

    def summary(self) -> dict[str, object]:
        """Medians (None: above the cap) and hit fractions for the global and the family target."""
        return {
            "space": self.space,
            "sampler": self.sampler,
            "problem": self.problem,
            "cap": self.cap,
            "seeds": len(self.runs),
            "reachable": self.reachable,
            "median": censored_median(self.runs),
            "reached": reached_share(self.runs),
            "family_best_regret": round(self.family_best, 5),
            "family_median": censored_median(self.family_runs),
            "family_reached": reached_share(self.family_runs),
            "seconds": round(self.seconds, 1),
        } | ({"trials": self.runs} if len(self.runs) <= 100 else {})


def censored_median(runs: Sequence[int | None]) -> float | None:
    """Median trials, counting runs that missed the target as infinitely many; None if above the cap."""
    if not runs:
        return None
    value = statistics.median(math.inf if r is None else r for r in runs)
    return None if math.isinf(value) else value


def reached_share(runs: Sequence[int | None]) -> float:
    """Fraction of runs that reached the target."""
    return sum(r is not None for r in runs) / len(runs) if runs else 0.0


def plan_runs(
    problems: Sequence[Problem],
    families: dict[str, Family],
    samplers: Sequence[str],
    args: argparse.Namespace,
) -> list[RunSpec]:
    """Every run, the slow (GP) ones first so that the pool finishes them in parallel."""
    specs = []
    for problem, family, sampler in itertools.product(problems, families.values(), samplers):
        if (sampler == "gp" and not args.gp_all and problem.noise_sd) or not searches(sampler, family.space):
            continue
        cap, seeds = sampler_caps(sampler, args)
        best = family.best_regret(problem)
        stop_at = TARGET if best <= TARGET else best + TARGET
        rule = args.recommend if problem.noise_sd else "observed"
        specs += [
            RunSpec(problem, family.space, sampler, seed, cap, stop_at, family.size, rule)
            for seed in range(seeds)
        ]
    return sorted(specs, key=lambda s: s.sampler != "gp")


def sampler_caps(sampler: str, args: argparse.Namespace) -> tuple[int, int]:
    """(trial cap, seeds) for a sampler: random runs longer, GP shorter and fewer."""
    if sampler == "random":
        return RANDOM_FACTOR * args.budget, args.seeds
    if sampler == "gp":
        return args.gp_budget, args.gp_seeds
    return args.budget, args.seeds


def collect(
    specs: Sequence[RunSpec], results: Iterable[tuple[list[float], float]], families: dict[str, Family]
) -> list[Cell]:
    """Group run traces into cells, in the order the runs were planned."""
    cells: dict[tuple[str, str, str], Cell] = {}
    for spec, (trace, seconds) in zip(specs, results, strict=True):
        key = (spec.problem.name, spec.space, spec.sampler)
        if key not in cells:
            best = families[spec.space].best_regret(spec.problem)
            cells[key] = Cell(spec.space, spec.sampler, spec.problem.name, spec.cap, best, [], [])
        cell = cells[key]
        cell.seconds += seconds
        cell.runs.append(trials_to_target(trace, TARGET))
        cell.family_runs.append(trials_to_target(trace, cell.family_best + TARGET))
    return list(cells.values())


# --- the requirement: default space and sampler against random search on the same space ----------

SIMULATED = "random (simulated)"


def verdict(tpe: Cell, random: Cell, lower_bound: bool = False) -> dict[str, object]:
    """Whether TPE's median is at most a third of random search's, per the censored medians.

    ``random`` is normally the simulated random search (many runs, a long cap). A median above
    its cap is only known to be larger than the cap: the verdict is then decided where the bound
    suffices and ``undecided`` where it does not. With ``lower_bound``, ``random`` only bounds
    random search's median from below (the noise-free search for a noisy problem), so it can
    show that the requirement holds but never that it fails.
    """
    tpe_median, random_median = censored_median(tpe.runs), censored_median(random.runs)
    random_low = random_median if random_median is not None else random.cap  # a lower bound if censored
    exact = random_median is not None and not lower_bound
    if tpe_median is None:
        # TPE's median is above its cap: it fails if even the cap is more than a third of random's
        holds = False if exact and 3 * tpe.cap > random_median else None
    else:
        holds = True if 3 * tpe_median <= random_low else (False if exact else None)
    ratio = None if tpe_median is None else tpe_median / random_low
    return {
        "problem": tpe.problem,
        "tpe_median": tpe_median,
        "tpe_reached": reached_share(tpe.runs),
        "random_median": random_median,
        "random_runs": len(random.runs),
        "random_cap": random.cap,
        "ratio": ratio,
        "ratio_is_upper_bound": random_median is None or lower_bound,
        "random_problem": random.problem,
        "holds": holds,
    }


def pooled(cells: Sequence[Cell], problem: str) -> Cell:
    """The runs of several cells of one space x sampler as one cell named ``problem``."""
    first = cells[0]
    runs = [r for cell in cells for r in cell.runs]
    return Cell(first.space, first.sampler, problem, first.cap, 0.0, runs, [])


def requirement(cells: Sequence[Cell], reference: str = SIMULATED) -> dict[str, object]:
    """The 1/3 requirement per problem and overall (every problem's runs pooled, equal weights).

    TPE is judged against ``reference`` (by default the simulated random search, whose median
    is known far beyond the measured runs' cap); the measured random search is shown beside it.
    """
    on_default = [c for c in cells if c.space == DEFAULT_SPACE]
    default = {c.problem: c for c in on_default if c.sampler == JUDGED_SAMPLER}
    random = {c.problem: c for c in on_default if c.sampler == reference}
    measured = {c.problem: c for c in on_default if c.sampler == "random"}
    # A noisy problem without its own reference is judged against its noise-free twin: random
    # search that recommends a trained schedule needs at least as many trials with noise.
    bounded = {p: random[noise_free(p)] for p in default if p not in random and noise_free(p) in random}
    shared = [p for p in default if p in random or p in bounded]
    if not shared:
        return {"reference": reference, "per_problem": [], "overall": None}
    rows = []
    for name in [*shared, "overall"]:
        if name == "overall":
            tpe = pooled([default[p] for p in shared], name)
            ref = pooled([random.get(p) or bounded[p] for p in shared], name)
            seen = [measured[p] for p in shared if p in measured]
            random_measured = pooled(seen, name) if len(seen) == len(shared) else None
        else:
            tpe, ref, random_measured = default[name], random.get(name) or bounded[name], measured.get(name)
        row = verdict(tpe, ref, lower_bound=name in bounded or (name == "overall" and bool(bounded)))
        if random_measured is not None:
            row["measured_random_median"] = censored_median(random_measured.runs)
            row["measured_random_cap"] = random_measured.cap
        rows.append(row)
    return {"reference": reference, "per_problem": rows[:-1], "overall": rows[-1]}


def noise_free(problem: str) -> str:
    """The name of a noisy problem's noise-free twin (the name itself when noise-free)."""
    return problem.removesuffix(" +noise")


# --- output --------------------------------------------------------------------------------------


def show_median(median: float | None, cap: int) -> str:
    """A median as text: ``>cap`` when above the cap."""
    return f">{cap}" if median is None else f"{median:g}"


def cell_text(cell: Cell) -> str:
    """``median (reached/runs)``, and for a family its own target after a bar."""
    reached = sum(r is not None for r in cell.runs)
    main = f"{show_median(censored_median(cell.runs), cell.cap)} ({reached}/{len(cell.runs)})"
    if not cell.reachable:
        main = "unreachable"
    if cell.space == "composition":
        return main
    family = sum(r is not None for r in cell.family_runs)
    own = show_median(censored_median(cell.family_runs), cell.cap)
    return f"{main} · own {own} ({family}/{len(cell.family_runs)})"


def markdown(problems: Sequence[Problem], families: dict[str, Family], cells: Sequence[Cell]) -> str:
    """The report's tables: objectives, trials per space x sampler, and the requirement."""
    lines = ["### Objectives", ""]
    enumerated = [f for f in families.values() if f.size]
    heads = ["objective", "optimum", "spread", "uniform regret"]
    heads += [f"best in {f.space} ({f.size} schedules)" for f in enumerated]
    lines += ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    uniform = np.array([Budget().uniform_units])
    for problem in problems:
        if problem.noise_sd:
            continue
        bests = [f"{f.best_regret(problem):.2%}" for f in enumerated]
        row = [problem.objective.name, ",".join(map(str, problem.objective.optimum))]
        row += [f"{problem.spread:.1f}", f"{float(problem.regret(uniform)[0]):.2%}", *bests]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "### Trials to within 1% of the optimum: median (runs that reached it / runs)", ""]
    samplers = list(dict.fromkeys(c.sampler for c in cells))
    for space in families:
        lines += [f"**{space}**", "", "| objective | " + " | ".join(samplers) + " |"]
        lines += ["|" + "---|" * (1 + len(samplers))]
        by_key = {(c.problem, c.sampler): c for c in cells if c.space == space}
        for problem in problems:
            texts = [
                cell_text(by_key[(problem.name, s)]) if (problem.name, s) in by_key else "–" for s in samplers
            ]
            lines.append(f"| {problem.name} | " + " | ".join(texts) + " |")
        lines.append("")
    lines += requirement_lines(requirement(cells))
    return "\n".join(lines)


def requirement_lines(result: dict[str, object]) -> list[str]:
    """The requirement's table: TPE's median against a third of random search's."""
    rows = [*result["per_problem"], *([result["overall"]] if result["overall"] else [])]
    lines = [f"### Requirement: {DEFAULT_SPACE} + {JUDGED_SAMPLER} needs at most 1/3 of random's trials", ""]
    if not rows:
        return [*lines, "(not measured: needs the composition space, tpe and random)"]
    first = rows[0]
    lines += [
        f"Against {result['reference']}: {first['random_runs']} runs per objective, up to "
        f"{first['random_cap']} trials each. Medians; `>N`: above the cap N; `≥ N (noise-free)`: "
        "the noise-free search's median, a lower bound for the noisy one.",
        "",
        "| objective | tpe median (reached) | random median, measured | random median, simulated "
        "| tpe / random | at most 1/3 |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = (
            "–"
            if row["ratio"] is None
            else ("<" if row["ratio_is_upper_bound"] else "") + f"{row['ratio']:.2g}"
        )
        holds = {True: "yes", False: "**NO**", None: "undecided"}[row["holds"]]
        tpe = "above cap" if row["tpe_median"] is None else f"{row['tpe_median']:g}"
        tpe += f" ({row['tpe_reached']:.0%})"
        measured = "–"
        if "measured_random_median" in row:
            measured = show_median(row["measured_random_median"], row["measured_random_cap"])
        reference = show_median(row["random_median"], row["random_cap"])
        if row["random_problem"] != row["problem"]:
            reference = (reference if reference.startswith(">") else f"≥ {reference}") + " (noise-free)"
        lines.append(f"| {row['problem']} | {tpe} | {measured} | {reference} | {ratio} | {holds} |")
    return lines


def report(
    args: argparse.Namespace, problems: Sequence[Problem], families: dict[str, Family], cells: Sequence[Cell]
) -> dict[str, object]:
    """Everything measured, as one JSON-ready object."""
    overall = []
    for space, sampler in itertools.product(families, dict.fromkeys(c.sampler for c in cells)):
        chosen = [c for c in cells if (c.space, c.sampler) == (space, sampler) and c.reachable]
        runs = pooled(chosen, "overall").runs if chosen else []
        overall.append(
            {
                "space": space,
                "sampler": sampler,
                "problems": len(chosen),
                "median": censored_median(runs),
                "reached": reached_share(runs),
            }
        )
    return {
        "settings": {k: v for k, v in vars(args).items() if k != "quick"} | {"target": TARGET},
        "objectives": [objective_record(p, families) for p in problems],
        "cells": [c.summary() for c in cells],
        "overall": overall,
        "requirement": requirement(cells),
    }


def objective_record(problem: Problem, families: dict[str, Family]) -> dict[str, object]:
    """An objective's definition, scale and best regret in each family, for the JSON report."""
    bests = {f"best_regret_{f.space}": f.best_regret(problem) for f in families.values() if f.size}
    scale = {"problem": problem.name, "spread": problem.spread, "noise_sd": problem.noise_sd}
    return asdict(problem.objective) | scale | bests


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options; ``--quick`` shrinks everything for a smoke run."""
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="runs per space x sampler x objective")
    parser.add_argument("--budget", type=int, default=300, help="trial cap (random search: 3x this)")
    parser.add_argument("--gp-seeds", type=int, default=3, help="runs per cell for the slow GP sampler")
    parser.add_argument("--gp-budget", type=int, default=40, help="trial cap for the GP sampler")
    parser.add_argument(
        "--gp-all",
        action="store_true",
        help="run GP on every space and noisy objective (default: "
        "only the composition space, noise-free objectives)",
    )
    parser.add_argument("--noise", type=float, default=NOISE, help="noise sd as a share of the spread")
    parser.add_argument(
        "--recommend",
        choices=RULES,
        default="model",
        help="with noise, recommend the lowest posterior mean (model) or the lowest observed value",
    )
    parser.add_argument("--spaces", default=",".join(SPACES), help="comma-separated")
    parser.add_argument("--samplers", default=",".join(SAMPLERS), help="comma-separated")
    parser.add_argument(
        "--objectives",
        default=",".join(s.name for s in SHAPES),
        help="comma-separated: a shape (with and without noise) or one problem, e.g. 'ramp +noise'",
    )
    parser.add_argument("--sim-runs", type=int, default=1000, help="simulated random searches per objective")
    parser.add_argument("--sim-cap", type=int, default=20_000, help="trial cap of a simulated random search")
    parser.add_argument("--sim-pool", type=int, default=1_000_000, help="schedules drawn for the simulation")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 40 trials, no hourglass, no GP")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.budget, args.spaces = 2, 40, "composition,ramp"
        args.samplers, args.objectives = "tpe,random", "hand-found,ramp"
        args.sim_runs, args.sim_cap, args.sim_pool = 100, 2000, 20_000
    return args


def simulated_cells(
    problems: Sequence[Problem], budget: Budget, args: argparse.Namespace, pool: Pool
) -> list[Cell]:
    """Random search on the composition space, simulated: ``--sim-runs`` runs per problem."""
    if args.recommend == "model":  # noisy problems are judged against their noise-free twins
        problems = [p for p in problems if not p.noise_sd]
    started = time.perf_counter()
    chunk = 250_000
    jobs = [(budget, min(chunk, args.sim_pool - k), 1000 + k) for k in range(0, args.sim_pool, chunk)]
    mults = np.concatenate(pool.map(_pool_chunk, jobs))
    sims = pool.map(
        _simulate_job, [(p, p.regret(mults), args.sim_runs, args.sim_cap, k) for k, p in enumerate(problems)]
    )
    seconds = (time.perf_counter() - started) / len(problems)
    return [
        Cell(DEFAULT_SPACE, SIMULATED, p.name, args.sim_cap, 0.0, runs, runs, seconds)
        for p, runs in zip(problems, sims, strict=True)
    ]


def _simulate_job(job: tuple[Problem, np.ndarray, int, int, int]) -> list[int | None]:
    return simulate_random(*job)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the Markdown report, then the JSON object."""
    args = parse_args(argv)
    started = time.perf_counter()
    budget = Budget()
    chosen = set(args.objectives.split(","))
    problems = [p for p in make_problems(args.noise, budget) if chosen & {p.objective.name, p.name}]
    quiet_worker()
    with Pool(args.jobs, initializer=quiet_worker) as pool:
        families = make_families(args.spaces.split(","), budget, pool)
        specs = plan_runs(problems, families, args.samplers.split(","), args)
        results = []
        for done, result in enumerate(pool.imap(timed_search, specs), 1):
            results.append(result)
            if done % 100 == 0 or done == len(specs):
                print(f"{done}/{len(specs)} runs, {time.perf_counter() - started:.0f} s", file=sys.stderr)
        cells = collect(specs, results, families)
        if DEFAULT_SPACE in families and "random" in args.samplers.split(","):
            cells += simulated_cells(problems, budget, args, pool)
    print(markdown(problems, families, cells))
    print()
    result = report(args, problems, families, cells)
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
