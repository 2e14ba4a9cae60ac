"""From command-line options to a checked search plan: every input is validated here, before any
study is created or changed and before any training starts."""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass
from pathlib import Path

import optuna
import torch
from optuna.storages import BaseStorage

from model.presets import PRESETS, get_preset
from search.cache import open_token_cache
from search.config import DataSpec
from search.counts import parse_count
from search.devices import default_preset, training_device
from search.objective import BUILTIN, FunctionObjective, Objective, TrainingObjective, load_function
from search.prepare import PreparedData, base_run_config, prepare_data
from search.samplers import PRUNERS, SAMPLERS, make_pruner, make_sampler
from search.storage import add_study_options, check_study_name, open_storage
from search.study import StudySettings, open_study
from search.tokenizer import TokenizerHandle
from search.trainer import checkpoint_steps
from space.spaces import SPACES, SearchSpace
from space.spec import SpaceSpec, baseline_schedules, load_space_spec


@dataclass
class SearchPlan:
    """Everything a worker needs to run trials of one study."""

    args: argparse.Namespace
    storage: BaseStorage
    preset_note: str | None
    space_spec: SpaceSpec
    space: SearchSpace
    prepared: PreparedData | None
    settings: StudySettings
    gpus: list[int]

    @property
    def workers(self) -> int:
        """Worker processes: one per GPU, or ``--workers`` on CPU."""
        return len(self.gpus) if self.gpus else self.args.workers


def add_search_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m search.run``, each with a default and a help line."""
    add = parser.add_argument
    add("--trials", type=int, default=50, help="finished trials the study should have (default 50)")
    add_study_options(parser)
    add("--data", nargs="+", default=["data"], help="training files, folders or globs (default ./data)")
    add("--val-data", nargs="+", default=[], help="validation files (default: a held-out share of --data)")
    add("--tokenizer", help="a tokenizer.json (default: a byte-level BPE trained on --data and cached)")
    add("--preset", help=f"model size: {', '.join(PRESETS)} (default: small with CUDA, tiny without)")
    add(
        "--space",
        default="composition",
        help=f"{', '.join(SPACES)}, or a JSON settings file (default composition)",
    )
    add(
        "--sampler",
        default="tpe",
        choices=SAMPLERS,
        help="tpe (multivariate), gp, cmaes or random (default tpe)",
    )
    add("--pruner", default="median", choices=PRUNERS, help="median, hyperband or none (default median)")
    add(
        "--seed",
        type=int,
        default=0,
        help="data order and init of every trial, and the sampler's seed (default 0)",
    )
    add("--tokens", help="training tokens per trial, e.g. 20M (default: the preset's)")
    add("--gpus", help="GPUs to use, one worker each, e.g. 0,1 (default: every visible GPU)")
    add("--workers", type=int, default=1, help="worker processes on CPU (default 1)")
    add("--objective", default=BUILTIN, help="module:function scoring a config instead of the trainer")
    add("--wandb", action="store_true", help="log each trial to Weights & Biases (offline without a login)")
    add(
        "--deterministic",
        action="store_true",
        help="deterministic GPU kernels: a retrained export repeats its trial's loss exactly (slower)",
    )


def make_plan(args: argparse.Namespace, log: bool = True) -> SearchPlan:
    """Check every option and prepare the data; raises ValueError naming the problem."""
    if args.trials < 1:
        raise ValueError(f"--trials must be at least 1, got {args.trials}")
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    check_study_name(args.study)
    preset_name, preset_note = (args.preset, None) if args.preset else default_preset()
    preset = get_preset(preset_name)
    space_spec = load_space_spec(args.space)
    space = space_spec.build(preset.model.budget)
    baseline_schedules(space_spec, space)  # listed baselines are checked now
    objective = args.objective
    if objective != BUILTIN:
        load_function(objective)  # fails now, not in the first trial
    gpus = _parse_gpus(args.gpus)
    tokens = parse_count(args.tokens) if args.tokens else None
    storage = open_storage(args.storage)
    data = DataSpec(train=tuple(args.data), val=tuple(args.val_data), tokenizer=args.tokenizer)
    prepared = prepare_data(data, preset.model.vocab_size, progress=log) if objective == BUILTIN else None
    base = base_run_config(preset_name, preset, data, prepared, tokens, args.seed, None, args.deterministic)
    settings = StudySettings(preset=preset_name, space=space_spec, objective=objective, base=base)
    return SearchPlan(args, storage, preset_note, space_spec, space, prepared, settings, gpus)


def _parse_gpus(text: str | None) -> list[int]:
    visible = torch.cuda.device_count()
    if text is None:
        return list(range(visible))
    try:
        gpus = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ValueError(f"--gpus must be GPU numbers like 0,1; got '{text}'") from None
    missing = [g for g in gpus if not 0 <= g < visible]
    if missing or not gpus:
        raise ValueError(f"--gpus {text}: this machine has {visible} visible GPU(s)")
    return gpus


@dataclass(frozen=True)
class WorkerPlan:
    """A checked plan as a spawned worker receives it, to be opened there without checking,
    hashing or running git again: the parent did all that, the settings carry its provenance,
    and the token cache folder it opened is never changed once built."""

    args: argparse.Namespace
    space_spec: SpaceSpec
    space: SearchSpace
    settings: StudySettings
    # The built-in trainer's data; the token arrays go as their cache folder, since memory maps
    # would be pickled as copies of the whole corpus.
    tokenizer: TokenizerHandle | None = None
    token_cache: Path | None = None
    token_key: str = ""


def plan_for_worker(plan: SearchPlan) -> WorkerPlan:
    """What a spawned worker of ``plan`` needs, for one worker on the one GPU (or none) it sees."""
    args = argparse.Namespace(**{**vars(plan.args), "gpus": None, "workers": 1})
    if plan.prepared is None:
        return WorkerPlan(args, plan.space_spec, plan.space, plan.settings)
    tokens = plan.prepared.tokens
    return WorkerPlan(
        args,
        plan.space_spec,
        plan.space,
        plan.settings,
        tokenizer=plan.prepared.tokenizer,
        token_cache=tokens.path,
        token_key=tokens.key,
    )


def open_worker_plan(sent: WorkerPlan) -> SearchPlan:
    """The plan in a spawned worker: its own storage connection and maps of the parent's token cache."""
    prepared = None
    if sent.tokenizer is not None and sent.token_cache is not None:
        tokens = open_token_cache(sent.token_cache, sent.token_key)
        prepared = PreparedData(tokens, sent.tokenizer)
    storage = open_storage(sent.args.storage)
    return SearchPlan(sent.args, storage, None, sent.space_spec, sent.space, prepared, sent.settings, [])


def open_plan_study(plan: SearchPlan, worker_index: int) -> tuple[optuna.Study, bool]:
    """Create or resume the study with a sampler seeded for this worker and this point in it."""
    args = plan.args
    summaries = {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(plan.storage)}
    seen = summaries.get(args.study, 0)
    # Workers, and later runs of the same study, must not replay one random stream.
    digest = hashlib.sha256(f"{args.seed}/{worker_index}/{seen}".encode()).digest()
    sampler = make_sampler(args.sampler, int.from_bytes(digest[:4], "little"))
    train = plan.settings.base.train
    tokens_per_step = train.batch_size * plan.settings.base.model.context
    steps = max(1, train.tokens // tokens_per_step)
    marks = checkpoint_steps(steps, train.checkpoints)
    pruner = make_pruner(args.pruner, marks[0] * tokens_per_step, marks[-1] * tokens_per_step)
    return open_study(plan.storage, args.study, plan.settings, plan.space, sampler, pruner)


def make_objective(plan: SearchPlan, progress: bool) -> Objective:
    """The built-in trainer on this process's device, or the user's function."""
    if plan.prepared is not None:
        return TrainingObjective(plan.prepared, training_device(), progress)
    return FunctionObjective(load_function(plan.args.objective), plan.args.objective)
