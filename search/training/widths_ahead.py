"""The budget's widths compiled into a worker's own process while its trials train.

A trial compiles only its own widths, so a width new to a worker's process costs the trial that
first needs it a Dynamo trace and a load from the on-disk caches while the GPU waits (0.4 to 0.8 s
a width on an H200, README "Per-trial overhead"; each spawned worker meets its own). Here the
trainer compiles the budget's other widths one at a time between two of a trial's steps, when the
GPU still has steps queued, so later trials find them compiled; the run's own widths come first,
so that its evaluation graphs are compiled before it validates. In the trainer's own thread:
torch.compile is not thread-safe. Only once the on-disk caches hold every width (``ready``):
before, a width would compile from scratch, for seconds. A failure to compile one ends it, said in
``failure``, and does not fail the run: a later trial compiles the width it needs itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch

from model.config import ModelConfig
from model.decoder import Decoder
from search.training.compiling import compile_width
from search.training.devices import training_autocast
from search.training.one_block import one_block_decoder


class WidthsAhead:
    """Compiles ``widths`` (in that order) of ``config``'s shape for batches of ``batch_size`` on
    ``device``, one a call, once ``ready()`` says the on-disk caches hold them."""

    def __init__(
        self,
        config: ModelConfig,
        widths: tuple[int, ...],
        batch_size: int,
        device: torch.device,
        ready: Callable[[], bool],
    ) -> None:
        self.config = config
        self.batch_size = batch_size
        self.device = device
        self.ready = ready
        self._pending = list(widths)
        self._model: tuple[Decoder, torch.Tensor] | None = None
        self.failure: str | None = None

    @property
    def pending(self) -> tuple[int, ...]:
        """The widths not compiled in this process yet, next first."""
        return tuple(self._pending)

    def first(self, widths: Iterable[int]) -> None:
        """Compile those of ``widths`` still pending before the others: a run's own, whose training
        graphs its first step compiles, and whose evaluation graphs then compile ahead of its first
        validation instead of in it."""
        own = [w for w in dict.fromkeys(widths) if w in self._pending]
        self._pending = own + [w for w in self._pending if w not in own]

    def compile_next(self) -> int | None:
        """Compile the next pending width and return it; None when none is pending or the caches
        are not ready. The random streams are left as they were: the trial's do not change."""
        if not self._pending or not self.ready():
            return None
        width = self._pending.pop(0)
        try:
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
                if self._model is None:
                    self._model = one_block_decoder(self.config, self.batch_size, self.device)
                model, ids = self._model
                compile_width(model, ids, width, self.device, training_autocast(self.device))
        except Exception as error:  # only a saving is lost: the trial that needs the width compiles it
            self.failure = f"compiling width {width} ahead failed ({type(error).__name__}: {error})"
            self._pending.clear()
        if not self._pending:
            self._model = None  # its memory goes with the last width
        return None if self.failure is not None else width


class TimeBetweenSteps:
    """What work done between a run's steps cost it: ``cpu_s``, the seconds the work took, and
    :meth:`gpu_s`, the GPU's time from finishing the steps queued before it to reaching the next
    step (waiting for the work, and running the work's own kernels). On CPU the two are one."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cpu_s = 0.0
        self._marks: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []

    @contextmanager
    def between_steps(self) -> Iterator[None]:
        """Time the block, run between two steps on the steps' stream."""
        cuda = self.device.type == "cuda"
        before = torch.cuda.Event(enable_timing=True) if cuda else None
        if before is not None:
            before.record()
        started = time.perf_counter()
        yield
        self.cpu_s += time.perf_counter() - started
        if before is not None:
            after = torch.cuda.Event(enable_timing=True)
            after.record()
            self._marks.append((before, after))

    def gpu_s(self) -> float:
        """The GPU's seconds lost so far (waits for the GPU to reach the last mark)."""
        if self.device.type != "cuda":
            return self.cpu_s
        for _, after in self._marks:
            after.synchronize()
        return sum(before.elapsed_time(after) for before, after in self._marks) / 1000
