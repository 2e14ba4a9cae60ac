"""Samplers and pruners by name, configured so that nothing falls back silently."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import optuna
from optuna.storages import BaseStorage

from search.study.margin_pruner import MarginPruner
from search.study.moves import MoveSampler
from search.study.storage import trial_id

SAMPLERS = ("moves", "tpe", "gp", "cmaes", "random")
PRUNERS = ("margin", "median", "hyperband", "none")
# TPE's share of trials that form its model of good schedules, and the most it takes.
GOOD_SHARE = 0.25
GOOD_MOST = 50


def good_trials(finished: int) -> int:
    """How many of the ``finished`` trials TPE models as good: a quarter, at most 50.

    Optuna's default (a tenth, at most 25) lets a few lucky draws, or one deceptive basin, form
    the whole model; ``bench.search`` measured the broader set reaching the target on the rugged
    noisy objective in 8 of 10 runs (median 335 trials) against 5 of 10 within 1500 (README).
    """
    return min(math.ceil(GOOD_SHARE * finished), GOOD_MOST)


def chosen_sampler(asked: str | None, space: str) -> str:
    """The sampler a study of ``space`` uses: ``asked``, else moves on the composition space (the
    only one whose parameters are layer widths to move between) and TPE on the others.

    Raises ValueError when moves is asked for another space.
    """
    if asked is None:
        return "moves" if space == "composition" else "tpe"
    if not searches(asked, space):
        raise ValueError(
            f"the moves sampler moves width between layers of the composition space, not {space}; "
            f"choose from {', '.join(s for s in SAMPLERS if s != 'moves')}"
        )
    return asked


def searches(sampler: str, space: str) -> bool:
    """Whether ``sampler`` can search ``space``: moves only the composition space, the others any."""
    return sampler != "moves" or space == "composition"


def make_sampler(name: str, seed: int, study_seed: int) -> optuna.samplers.BaseSampler:
    """A sampler seeded with ``seed`` for a study whose schedules compete at ``study_seed``
    (the moves sampler compares losses there only); moves is
    :class:`search.study.moves.MoveSampler`; TPE models all layers
    jointly (multivariate), its good set a quarter of the trials (:func:`good_trials`).

    The runner checks that model-based samplers keep every parameter in their joint model
    (see :func:`independent_params`), so none falls back to independent sampling silently.
    """
    if name == "moves":
        return MoveSampler(study_seed, seed=seed)
    if name == "tpe":
        with warnings.catch_warnings():
            # Optuna 4.9 deprecated ``gamma``, to be removed in 6.0 (hence optuna<6 in pyproject):
            # its default measured worse here (see good_trials), and users cannot act on the warning.
            warnings.filterwarnings("ignore", "`gamma` has been deprecated", FutureWarning)
            return optuna.samplers.TPESampler(
                seed=seed, multivariate=True, constant_liar=True, gamma=good_trials
            )
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"unknown sampler '{name}'; choose from {', '.join(SAMPLERS)}")


def first_judged(reports: Sequence[int], warmup_end: int) -> int | None:
    """The first of a trial's intermediate ``reports`` (steps, in tokens) a pruner may judge at:
    not the first, and after the learning rate's warm-up ends at ``warmup_end``; None when no
    report is both. Earlier losses rank schedules of equal size mostly by their seed (README,
    "Pruning").
    """
    later = [step for step in reports[1:] if step > warmup_end]
    return later[0] if later else None


def make_pruner(name: str, marks: Sequence[int], warmup_end: int) -> optuna.pruners.BasePruner:
    """A pruner acting on the trainer's checkpoint reports; ``marks`` are the steps (tokens seen)
    of every checkpoint, the last one the end of training, which judges nothing; ``margin`` is
    :class:`search.study.margin_pruner.MarginPruner`. Where no report may be judged
    (:func:`first_judged`) it prunes nothing, and the plan says so."""
    if name not in PRUNERS:
        raise ValueError(f"unknown pruner '{name}'; choose from {', '.join(PRUNERS)}")
    start = first_judged(marks[:-1], warmup_end)
    if name == "none" or start is None:
        return optuna.pruners.NopPruner()
    if name == "margin":
        return MarginPruner(start)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=start)
    return optuna.pruners.HyperbandPruner(min_resource=start, max_resource=marks[-1], reduction_factor=3)


def independent_params(study: optuna.Study, storage: BaseStorage, trial: optuna.Trial) -> set[str]:
    """Parameters of ``trial`` (of ``study``, in ``storage``) that a model-based sampler drew
    outside its joint model.

    Empty for the random sampler (independent by design) and before any trial completed.
    """
    sampler = study.sampler
    if isinstance(sampler, optuna.samplers.RandomSampler):
        return set()
    finished = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not any(t.params for t in finished):
        return set()
    frozen = storage.get_trial(trial_id(storage, study.study_name, trial.number))
    joint = sampler.infer_relative_search_space(study, frozen)
    # Samplers leave single-valued ranges out of their joint model: nothing to model there.
    return {name for name, dist in frozen.distributions.items() if name not in joint and not dist.single()}
