"""From checked options to a search plan: every input is validated here, before any study is
created or changed and before any training starts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import optuna
import torch
from optuna.storages import BaseStorage

from model.presets import get_preset
from search.data.prepare import PreparedData, prepare_data
from search.data.spec import DataSpec
from search.data.token_cache import open_token_cache
from search.data.tokenizer import TokenizerHandle
from search.options.search_options import SearchOptions
from search.study.opening import open_study
from search.study.samplers import make_pruner, make_sampler
from search.study.settings import StudySettings
from search.study.storage import open_storage
from search.training.devices import default_preset
from search.training.passes import passes_note
from search.training.run_config import RunConfig
from search.training.trainer import checkpoint_steps
from search.trials.objective import load_function
from space.spaces import SearchSpace
from space.spec import baseline_schedules, load_space_spec


@dataclass(frozen=True)
class SearchPlan:
    """Everything a worker needs to run trials of one study."""

    options: SearchOptions
    storage: BaseStorage
    settings: StudySettings
    gpus: tuple[int, ...]
    prepared: PreparedData | None

    @property
    def space(self) -> SearchSpace:
        """The study's space over its preset's budget."""
        return self.settings.space.build(self.settings.base.model.budget)

    @property
    def preset_note(self) -> str | None:
        """Which preset was picked, and why, when ``--preset`` was not given."""
        return None if self.options.preset else default_preset()[1]

    @property
    def workers(self) -> int:
        """Worker processes: one per GPU, or ``--workers`` on CPU."""
        return len(self.gpus) if self.gpus else self.options.workers


def make_plan(options: SearchOptions, log: bool = True) -> SearchPlan:
    """Check every option against this machine and prepare the data; ValueError names the problem."""
    preset_name = options.preset or default_preset()[0]
    space_spec = load_space_spec(options.space)
    preset_model = get_preset(preset_name).model
    space = space_spec.build(preset_model.budget)
    baseline_schedules(space_spec, space)  # listed baselines are checked now
    if not options.builtin_objective:
        load_function(options.objective)  # fails now, not in the first trial
    gpus = _visible_gpus(options.gpus)
    storage = open_storage(options.storage)
    data = DataSpec(train=options.data, val=options.val_data, tokenizer=options.tokenizer)
    prepared = None
    if options.builtin_objective:
        prepared = prepare_data(data, preset_model.vocab_size, progress=log)
    # The flag only turns deterministic kernels on; the token budget is replaced when given.
    base = RunConfig.from_preset(preset_name, data, prepared, options.seed).variant(
        tokens=options.tokens, deterministic=options.deterministic or None
    )
    settings = StudySettings(preset=preset_name, space=space_spec, objective=options.objective, base=base)
    return SearchPlan(options=options, storage=storage, settings=settings, gpus=gpus, prepared=prepared)


def _visible_gpus(asked: tuple[int, ...] | None) -> tuple[int, ...]:
    visible = torch.cuda.device_count()
    if asked is None:
        return tuple(range(visible))
    if not asked or any(not 0 <= g < visible for g in asked):
        shown = ",".join(map(str, asked))
        raise ValueError(f"--gpus {shown}: this machine has {visible} visible GPU(s)")
    return asked


@dataclass(frozen=True)
class SentData:
    """Prepared data as a spawned worker receives it: the token arrays go as their cache folder,
    since memory maps would be pickled as copies of the whole corpus."""

    tokenizer: TokenizerHandle
    token_cache: Path
    token_key: str

    def open(self) -> PreparedData:
        """The parent's token cache, mapped again in this process."""
        return PreparedData(open_token_cache(self.token_cache, self.token_key), self.tokenizer)


@dataclass(frozen=True)
class WorkerPlan:
    """A checked plan as a spawned worker receives it, to be opened there without checking,
    hashing or running git again: the parent did all that, the settings carry its provenance,
    and the token cache folder it opened is never changed once built."""

    options: SearchOptions
    settings: StudySettings
    data: SentData | None


def plan_for_worker(plan: SearchPlan) -> WorkerPlan:
    """What a spawned worker of ``plan`` needs, for one worker on the one GPU (or none) it sees."""
    options = plan.options.model_copy(update={"gpus": None, "workers": 1})
    prepared = plan.prepared
    data = None
    if prepared is not None:
        data = SentData(prepared.tokenizer, prepared.tokens.path, prepared.tokens.key)
    return WorkerPlan(options=options, settings=plan.settings, data=data)


def open_worker_plan(sent: WorkerPlan) -> SearchPlan:
    """The plan in a spawned worker: its own storage connection and maps of the parent's token cache."""
    storage = open_storage(sent.options.storage)
    prepared = sent.data.open() if sent.data else None
    return SearchPlan(
        options=sent.options, storage=storage, settings=sent.settings, gpus=(), prepared=prepared
    )


def open_plan_study(plan: SearchPlan, worker_index: int) -> tuple[optuna.Study, SearchPlan, bool]:
    """Create or resume the study with a sampler seeded for this worker and this point in it;
    (study, the plan with the settings the study's trials train with, created)."""
    options = plan.options
    summaries = {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(plan.storage)}
    seen = summaries.get(options.study, 0)
    # Workers, and later runs of the same study, must not replay one random stream.
    digest = hashlib.sha256(f"{options.seed}/{worker_index}/{seen}".encode()).digest()
    sampler = make_sampler(options.sampler, int.from_bytes(digest[:4], "little"))
    base = plan.settings.base
    marks = checkpoint_steps(base.steps, base.train.checkpoints)
    pruner = make_pruner(options.pruner, marks[0] * base.tokens_per_step, marks[-1] * base.tokens_per_step)
    study, settings, created = open_study(
        plan.storage, options.study, plan.settings, plan.space, sampler, pruner
    )
    return study, replace(plan, settings=settings), created


def kept_recipe_note(plan: SearchPlan, asked: SearchPlan) -> str | None:
    """What a resumed study keeps of its own where the preset now says otherwise, if anything."""
    kept = plan.settings.kept(asked.settings)
    if not kept:
        return None
    shown = ", ".join(f"{path.removeprefix('base.')} {old!r} (now {new!r})" for path, old, new in kept[:6])
    return f"note: the study keeps the model and recipe it was created with: {shown}"


def passes_note_of(plan: SearchPlan) -> str | None:
    """The note on repeated data of the plan's trials, when they train past the end of it."""
    if plan.prepared is None:
        return None
    return passes_note(plan.settings.base, len(plan.prepared.tokens.train))
