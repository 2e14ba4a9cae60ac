"""Objectives: what a trial's validated config is scored by. Training is the built-in one.

Subclass :class:`Objective` for another evaluation, or pass ``--objective module:function`` with
a function ``f(config: RunConfig, report: Callable[[int, float], None]) -> float``; calling
``report(step, value)`` lets the study's pruner stop the run (it raises ``optuna.TrialPruned``).
"""

from __future__ import annotations

import importlib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from model.presets import get_preset
from search.data.prepare import PreparedData, SentData, prepare_data
from search.study.settings import BUILTIN_OBJECTIVE, StudySettings
from search.training.devices import training_device
from search.training.outcome import Reporter, TrainingFailed
from search.training.passes import passes_note
from search.training.run_config import RunConfig

if TYPE_CHECKING:
    import torch

    from search.training.compiling import CompileMode
    from search.trials.background_compiling import WarmUp


@dataclass
class Evaluation:
    """A trial's score and what to store with it."""

    value: float
    attrs: dict[str, Any] = field(default_factory=dict)
    loss_curve: list[float] | None = None
    checkpoints: list[dict[str, float]] = field(default_factory=list)


class Objective(ABC):
    """Scores a validated run config; lower is better."""

    @abstractmethod
    def evaluate(self, config: RunConfig, report: Reporter) -> Evaluation:
        """Score ``config``; call ``report(step, value)`` at checkpoints to allow pruning."""

    def data_note(self, config: RunConfig) -> str | None:
        """What a user should know about the data ``config`` would train on, before it trains."""
        return None

    def background_warm_up(self, config: RunConfig) -> WarmUp | None:
        """What to compile in the background for trials like ``config`` (None: nothing)."""
        return None

    def prepare_compiling(self, config: RunConfig) -> None:
        """Start, before the first trial, what compiling trials like ``config`` needs (nothing here)."""
        return None

    def finish_compiling(self) -> None:
        """End what :meth:`prepare_compiling` started, once this worker has no trial left to run
        (nothing here). Called again, it does nothing; a later trial may still start it anew."""
        return None


class TrainingObjective(Objective):
    """The built-in objective: train the config, score it by final validation loss."""

    def __init__(
        self,
        prepared: PreparedData,
        device: torch.device,
        progress: bool,
        compile_mode: CompileMode | None = None,
    ) -> None:
        self.prepared = prepared
        self.device = device
        self.progress = progress
        self.compile_mode = compile_mode
        self.compile_workers = False  # started by prepare_compiling

    def data_note(self, config: RunConfig) -> str | None:
        """Said when ``config`` trains past the end of its training split."""
        return passes_note(config, len(self.prepared.tokens.train))

    def background_warm_up(self, config: RunConfig) -> WarmUp | None:
        """Every width ``config``'s budget allows, when the trainer compiles blocks per width."""
        from search.trials.background_compiling import background_warm_up

        return background_warm_up(config, self.device, self._compile_mode(config))

    def prepare_compiling(self, config: RunConfig) -> None:
        """Inductor's compile workers, started while the first trial sets up and traces, when
        trials compile: torch starts them at the first compile, and until they are ready a cold
        trial compiles its kernels in its own process."""
        from search.training.compiling import start_compile_workers

        if self._compile_mode(config) != "none":
            start_compile_workers()
            self.compile_workers = True

    def finish_compiling(self) -> None:
        """Inductor's compile workers, shut down as soon as this worker's trials are done, not at
        its process's exit: there it waits for them (1 to 2 s), after a spawned worker's own exit
        and before the command's."""
        from search.training.compiling import stop_compile_workers

        if self.compile_workers:
            stop_compile_workers()
            self.compile_workers = False

    def _compile_mode(self, config: RunConfig) -> CompileMode:
        from search.training.compiling import default_compile_mode

        return self.compile_mode or default_compile_mode(self.device, config.model.budget.distinct_widths)

    def evaluate(self, config: RunConfig, report: Reporter) -> Evaluation:
        data, tokenizer = self.prepared.tokens, self.prepared.tokenizer
        from search.training.trainer import train  # torch: not for a command's --help or a bad input

        result = train(config, data, tokenizer, self.device, report, self.progress, self.compile_mode)
        return Evaluation(result.val_loss, result.summary(), result.loss_curve, result.checkpoints)


class FunctionObjective(Objective):
    """A user's function ``f(config, report) -> float`` as the objective."""

    def __init__(self, function: Callable[[RunConfig, Reporter], float], name: str) -> None:
        self.function = function
        self.name = name

    def evaluate(self, config: RunConfig, report: Reporter) -> Evaluation:
        value = self.function(config, report)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"objective {self.name} returned {value!r}, not a number")
        if not math.isfinite(value):
            raise TrainingFailed(f"objective {self.name} returned {value}")
        return Evaluation(float(value))


def load_function(spec: str) -> Callable[[RunConfig, Reporter], float]:
    """The callable named ``module:function`` (imported, never evaluated as code)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--objective must look like module:function, got '{spec}'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"cannot import objective module '{module_name}': {e}") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ValueError(f"module '{module_name}' has no function '{attribute}'")
    return function


def make_objective(spec: str, prepared: PreparedData | None, progress: bool) -> Objective:
    """The built-in trainer on this process's device and ``prepared`` data, or the user's function
    ``spec`` (``module:function``)."""
    if spec != BUILTIN_OBJECTIVE:
        return FunctionObjective(load_function(spec), spec)
    if prepared is None:
        raise ValueError("the built-in trainer needs prepared data")
    return TrainingObjective(prepared, training_device(), progress)


def confirmable_objective(settings: StudySettings, named: str | None) -> str:
    """The objective to score a study's new runs by: ``named`` (from the command line) when it is
    the study's own, or the built-in trainer when the study used it and nothing is named.
    ValueError when ``named`` is not the study's, or the study used a function and none is named.

    The study's settings are readable and writable by whoever shares its storage: importing the
    name stored there would let them choose the code this process runs.
    """
    stored = settings.objective
    if named is not None and named != stored:
        raise ValueError(
            f"--objective {named} is not the objective the study's trials were scored by ({stored}): "
            "its runs would not be comparable with them"
        )
    if stored != BUILTIN_OBJECTIVE and named is None:
        raise ValueError(
            f"the study's trials were scored by {stored}, a function named in the stored study; a "
            "name read from storage is never imported (whoever can write the study could choose the "
            f"code run here): if you trust that code, name it with --objective {stored}"
        )
    return named or BUILTIN_OBJECTIVE


@dataclass(frozen=True)
class ObjectiveSource:
    """A study's objective as a spawned process can build it again: the name, and the prepared
    data as sent (its token cache folder, never the arrays)."""

    spec: str
    data: SentData | None

    def build(self, progress: bool) -> Objective:
        """The objective, in this process, on its device."""
        return make_objective(self.spec, self.data.open() if self.data is not None else None, progress)


def study_objective(settings: StudySettings, named: str | None) -> ObjectiveSource:
    """What a study's trials were scored by, on the same data: the built-in trainer, or the user's
    function ``named`` on the command line when it is the study's own (see
    :func:`confirmable_objective`). ValueError when it is not, or when the data changed."""
    spec = confirmable_objective(settings, named)
    if spec != BUILTIN_OBJECTIVE:
        return ObjectiveSource(spec, None)
    prepared = prepare_data(settings.base.data, get_preset(settings.preset).model.vocab_size)
    recorded = settings.base.provenance
    if recorded is not None and recorded.data_hash != prepared.tokens.key:
        raise ValueError(
            f"the data or tokenizer differ from the study's (token cache {prepared.tokens.key}, the "
            f"study's {recorded.data_hash}): new runs would not be comparable with its trials"
        )
    return ObjectiveSource(spec, SentData.of(prepared))
