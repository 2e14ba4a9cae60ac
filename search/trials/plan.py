"""From checked options to a search plan: every input is validated here, before any study is
created or changed and before any training starts."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from pathlib import Path

import optuna
from optuna.storages import BaseStorage

from model.presets import get_preset
from search.data.corpus import resolve_inputs, split_name_warnings
from search.data.prepare import PreparedData, SentData, prepare_data
from search.data.sample_corpus import is_sample_corpus, sample_corpus
from search.data.spec import DataSpec
from search.data.tokenizer import load_tokenizer
from search.options.search_options import SearchOptions
from search.study.opening import check_resumable, open_study, peek_settings
from search.study.samplers import chosen_sampler, first_judged, make_pruner, make_sampler
from search.study.settings import BUILTIN_OBJECTIVE, StudySettings
from search.study.storage import open_if_present, open_storage
from search.training.devices import default_preset
from search.training.passes import check_budget, check_splits, passes_note, rounding_note
from search.training.run_config import RunConfig
from search.training.step_plan import checkpoint_steps, warmup_steps
from search.trials.objective import load_function
from space.spaces import SearchSpace
from space.spec import SpaceSpec, baseline_schedules, load_space_spec


@dataclass(frozen=True)
class SearchPlan:
    """Everything a worker needs to run trials of one study."""

    options: SearchOptions
    storage: BaseStorage
    settings: StudySettings
    gpus: tuple[int, ...]
    prepared: PreparedData | None
    notes: tuple[str, ...] = ()  # what a user should read first: choices made for them, warnings
    deadline: float | None = None  # time.time() by which the workers finish (--time-limit)

    @property
    def space(self) -> SearchSpace:
        """The study's space over its preset's budget."""
        return self.settings.space.build(self.settings.base.model.budget)

    @property
    def workers(self) -> int:
        """Worker processes: one per GPU, or ``--workers`` on CPU."""
        return worker_count(self.gpus, self.options.workers)


def make_plan(options: SearchOptions, log: bool = True) -> SearchPlan:
    """Check every option against this machine, the stored study (if any) and the data, in that
    order, and prepare the data; ValueError names the problem. Nothing is written before every
    check has passed: a refused run leaves no storage file and the stored study as it was."""
    deadline = time.time() + options.time_limit if options.time_limit is not None else None
    space_spec = load_space_spec(options.space)
    options = options.model_copy(update={"sampler": chosen_sampler(options.sampler, space_spec.space)})
    if not options.builtin_objective:
        load_function(options.objective)  # fails now, not in the first trial
    data, notes = _chosen_data(options)
    if options.builtin_objective:  # missing files and tokenizers first: the cheap checks before the rest
        notes += split_name_warnings(_check_inputs(data))
    preset_name, preset_note = _chosen_preset(options, data)
    preset_model = get_preset(preset_name).model
    baseline_schedules(space_spec, space_spec.build(preset_model.budget))  # listed baselines are checked now
    gpus = visible_gpus(options.gpus)
    settings = _settings(options, preset_name, space_spec, data, None)
    check_budget(settings.base)
    existing = open_if_present(options.storage)
    stored = peek_settings(existing, options.study)
    _check_resumable(options, stored, settings)  # before any data work
    prepared = None
    if options.builtin_objective:
        prepared = prepare_data(data, preset_model.vocab_size, progress=log)
        check_splits(settings.base, len(prepared.tokens.train), len(prepared.tokens.val))
        settings = _settings(options, preset_name, space_spec, data, prepared)
        _check_resumable(options, stored, settings)  # the data too, by content
    storage = existing or open_storage(options.storage)
    plan = SearchPlan(
        options=options, storage=storage, settings=settings, gpus=gpus, prepared=prepared, deadline=deadline
    )
    return replace(plan, notes=tuple(note for note in (preset_note, *notes) if note))


def _chosen_data(options: SearchOptions) -> tuple[DataSpec, list[str]]:
    """The data ``--data`` names, else ``./data``, else the sample corpus (saying so)."""
    spec = {"val": options.val_data, "tokenizer": options.tokenizer, "text_field": options.text_field}
    if options.data is not None or Path("data").exists():
        return DataSpec(train=options.data or ("data",), **spec).absolute(), []
    train, val = sample_corpus()
    note = (
        f"no --data and no ./data: training on the sample corpus shipped with hourglass ({train.parent}, "
        "1 MB of public-domain books): a demonstration of the loop, not a finding"
    )
    return DataSpec(train=(str(train),), **{**spec, "val": options.val_data or (str(val),)}), [note]


def _chosen_preset(options: SearchOptions, data: DataSpec) -> tuple[str, str | None]:
    """``--preset``, else the one the sample corpus can validate, else the device's (saying why)."""
    if options.preset:
        return options.preset, None
    if is_sample_corpus(data.train):
        return "tiny", "no --preset: the tiny preset, the one whose validation set the sample corpus holds"
    return default_preset()


def _check_inputs(data: DataSpec) -> list[Path]:
    """The training files, once every input file and the tokenizer given have been found."""
    train = resolve_inputs(data.train)
    if data.val:
        resolve_inputs(data.val)
    if data.tokenizer is not None:
        load_tokenizer(data.tokenizer)
    return train


def _settings(
    options: SearchOptions, preset: str, space: SpaceSpec, data: DataSpec, prepared: PreparedData | None
) -> StudySettings:
    # The flag only turns deterministic kernels on; the token budget is replaced when given.
    base = RunConfig.from_preset(preset, data, prepared, options.seed).variant(
        tokens=options.tokens, deterministic=options.deterministic or None, **_unpruned(options.pruner)
    )
    return StudySettings(preset=preset, space=space, objective=options.objective, base=base)


def _unpruned(pruner: str) -> dict[str, int]:
    """The recipe change of a study with no pruner: the validations before the final one only feed
    the pruner, so without one they are skipped (3.4% of a small-preset trial on an H200). They do
    not change training, so the final loss is the same; a resumed study keeps its own count."""
    return {"checkpoints": 0} if pruner == "none" else {}


def _check_resumable(options: SearchOptions, stored: StudySettings | None, asked: StudySettings) -> None:
    if stored is None:
        return
    try:
        check_resumable(options.study, stored, asked)
    except ValueError as e:
        raise ValueError(f"{e}\nto continue it: {continue_command(options, stored)}") from None


def continue_command(options: SearchOptions, stored: StudySettings) -> str:
    """The command line that continues a study with the settings it was created with."""
    base = stored.base
    space = stored.space
    space_value = (
        space.space
        if space == SpaceSpec(space=space.space)
        else f"<a JSON file holding {space.model_dump_json(exclude_defaults=True)}>"
    )
    words = [
        "python -m search.run",
        f"--study {options.study}",
        f"--storage {options.storage}",
        f"--preset {stored.preset}",
        f"--space {space_value}",
        f"--seed {base.seed}",
        f"--tokens {base.train.tokens}",
        *(["--deterministic"] if base.train.deterministic else []),
        *([f"--objective {stored.objective}"] if stored.objective != BUILTIN_OBJECTIVE else []),
        "--data " + " ".join(base.data.train),
        *(["--val-data " + " ".join(base.data.val)] if base.data.val else []),
        *([f"--tokenizer {base.data.tokenizer}"] if base.data.tokenizer else []),
    ]
    return " ".join(words)


def visible_gpus(asked: tuple[int, ...] | None) -> tuple[int, ...]:
    """:func:`chosen_gpus` among the GPUs torch sees."""
    import torch  # here, not at the top: the checks before this one answer without it

    return chosen_gpus(asked, torch.cuda.device_count())


def chosen_gpus(asked: tuple[int, ...] | None, visible: int) -> tuple[int, ...]:
    """The GPUs ``--gpus`` asks for (None: all ``visible`` ones); ValueError names one not there."""
    if asked is None:
        return tuple(range(visible))
    if not asked or any(not 0 <= g < visible for g in asked):
        shown = ",".join(map(str, asked))
        raise ValueError(f"--gpus {shown}: this machine has {visible} visible GPU(s)")
    return asked


def worker_count(gpus: tuple[int, ...], workers: int) -> int:
    """Worker processes: one per GPU used, else ``workers`` (``--workers``, for CPU)."""
    return len(gpus) if gpus else workers


@dataclass(frozen=True)
class WorkerPlan:
    """A checked plan as a spawned worker receives it, to be opened there without checking,
    hashing or running git again: the parent did all that, the settings carry its provenance,
    and the token cache folder it opened is never changed once built."""

    options: SearchOptions
    settings: StudySettings
    data: SentData | None
    deadline: float | None


def plan_for_worker(plan: SearchPlan) -> WorkerPlan:
    """What a spawned worker of ``plan`` needs, for one worker on the one GPU (or none) it sees."""
    options = plan.options.model_copy(update={"gpus": None, "workers": 1})
    data = SentData.of(plan.prepared) if plan.prepared is not None else None
    return WorkerPlan(options=options, settings=plan.settings, data=data, deadline=plan.deadline)


def open_worker_plan(sent: WorkerPlan) -> SearchPlan:
    """The plan in a spawned worker: its own storage connection and maps of the parent's token cache."""
    storage = open_storage(sent.options.storage)
    prepared = sent.data.open() if sent.data else None
    return SearchPlan(
        options=sent.options,
        storage=storage,
        settings=sent.settings,
        gpus=(),
        prepared=prepared,
        deadline=sent.deadline,
    )


def open_plan_study(plan: SearchPlan, worker_index: int) -> tuple[optuna.Study, SearchPlan, bool]:
    """Create or resume the study with a sampler seeded for this worker and this point in it;
    (study, the plan with the settings the study's trials train with, created)."""
    options = plan.options
    summaries = {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(plan.storage)}
    seen = summaries.get(options.study, 0)
    # Workers, and later runs of the same study, must not replay one random stream.
    digest = hashlib.sha256(f"{options.seed}/{worker_index}/{seen}".encode()).digest()
    assert options.sampler is not None  # make_plan chose it
    base = plan.settings.base
    sampler = make_sampler(options.sampler, int.from_bytes(digest[:4], "little"), base.seed)
    pruner = make_pruner(options.pruner, *report_tokens(base))
    study, settings, created = open_study(
        plan.storage, options.study, plan.settings, plan.space, sampler, pruner
    )
    return study, replace(plan, settings=settings), created


def report_tokens(base: RunConfig) -> tuple[list[int], int]:
    """Tokens a trial has seen at each of its checkpoints (the last, its end), and at the end of
    its learning rate's warm-up."""
    marks = checkpoint_steps(base.steps, base.train.checkpoints)
    warmup = warmup_steps(base.steps, base.train.warmup_frac)
    return [mark * base.tokens_per_step for mark in marks], warmup * base.tokens_per_step


def kept_recipe_note(plan: SearchPlan, asked: SearchPlan) -> str | None:
    """What a resumed study keeps of its own where the preset now says otherwise, if anything."""
    kept = plan.settings.kept(asked.settings)
    if not kept:
        return None
    shown = ", ".join(f"{path.removeprefix('base.')} {old!r} (now {new!r})" for path, old, new in kept[:6])
    return f"note: the study keeps the model and recipe it was created with: {shown}"


def pruner_note(plan: SearchPlan) -> str | None:
    """Said when the study's trials give the pruner asked for nothing to act on: created with
    ``--pruner none``, they validate only at the end (a resumed study keeps that), or none of
    their checkpoints comes after both the first and the warm-up (:func:`first_judged`)."""
    train = plan.settings.base.train
    # A user's objective reports when it likes; only the built-in trainer follows the checkpoints.
    if plan.options.pruner == "none" or not plan.options.builtin_objective:
        return None
    if train.checkpoints == 0:
        return (
            f"note: this study's trials validate only at the end (it was created with --pruner none), "
            f"so --pruner {plan.options.pruner} prunes no trial; to prune, start a new --study"
        )
    marks, warmup_end = report_tokens(plan.settings.base)
    if first_judged(marks[:-1], warmup_end) is not None:
        return None
    return (
        f"note: --pruner {plan.options.pruner} prunes no trial: it judges only checkpoints after the "
        f"first and after warm-up ({warmup_end:,} tokens), and these trials have "
        f"{train.checkpoints} before their end, at {', '.join(f'{m:,}' for m in marks[:-1])} tokens"
    )


def budget_notes(plan: SearchPlan) -> list[str]:
    """What a user should know about the trials' token budget: whole steps train fewer tokens than
    asked, or the trials repeat their data."""
    base = plan.settings.base
    notes = [rounding_note(base)]
    if plan.prepared is not None:
        notes.append(passes_note(base, len(plan.prepared.tokens.train)))
    return [note for note in notes if note]
