"""Compiling the widths a study's trials have not needed yet, in background processes.

A trial compiles only its own widths. Beside it, a few processes compile the block graphs of every
width the budget allows (``search.training.compiling.warm_up_widths``) into Inductor's and Triton's
on-disk caches, so a later trial's first use of a width is a cache hit (a Dynamo trace), not a
compile. They run on the worker's device and take about half the host's cores.

Once per host, shape and cache folder: a lock file in Inductor's cache folder, held by the worker
that started them (the kernel releases it if that worker dies), keeps the study's other workers on
the host from repeating the work, and a marker written when every process succeeded keeps later
studies from it. The processes ignore Ctrl-C and end with their worker: it ends them when its study
ends or is interrupted, and each ends itself as soon as the worker's process is gone, so none is
left behind. A failed process does not fail the study (its widths compile when a trial first needs
them); the worker says so once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path

import torch

from model.config import ModelConfig
from search.training.compiling import CompileMode, warm_up_widths
from search.training.determinism import deterministic_kernels
from search.training.devices import training_autocast
from search.training.run_config import RunConfig
from search.trials.signals import started_deaf_to_ctrl_c

_PREFIX = "hourglass-warm-up-"


@dataclass(frozen=True)
class WarmUp:
    """What the background processes compile: ``widths`` in ``model``'s shape, trained in batches
    of ``batch_size`` on ``device``, with deterministic kernels or without."""

    model: ModelConfig
    widths: tuple[int, ...]
    batch_size: int
    deterministic: bool
    device: str

    def key(self) -> str:
        """What the compiled graphs depend on: the shape, the settings, torch and the GPU."""
        torch_device = torch.device(self.device)
        gpu = torch.cuda.get_device_name(torch_device) if torch_device.type == "cuda" else "cpu"
        model = self.model
        shape = [model.budget.model_dump(mode="json"), model.n_heads, model.context, model.residual]
        identity = [shape, self.widths, self.batch_size, self.deterministic, gpu, torch.__version__]
        return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]


def background_warm_up(run: RunConfig, device: torch.device, mode: CompileMode) -> WarmUp | None:
    """The warm-up for trials of ``run``'s shape and settings compiled in ``mode``: every width the
    budget allows, nearest the mean width first (where sampled schedules mostly lie); None unless
    blocks compile per width (``static``): nothing compiles on CPU (``none``), and dynamic widths
    compile once, in the first trial."""
    if mode != "static":
        return None
    return WarmUp(
        run.model,
        run.model.budget.widths_nearest_mean,
        run.train.batch_size,
        run.train.deterministic,
        str(device),
    )


class BackgroundCompiling:
    """The running processes of one warm-up, and the lock that makes it the host's only one."""

    def __init__(self, warm_up: WarmUp, lock: int, done: Path, log: Callable[[str], None]) -> None:
        self.warm_up = warm_up
        self.processes: list[BaseProcess] = []
        self._lock: int | None = lock  # a file descriptor, flocked
        self._done = done
        self._log = log
        self._stopping = False
        self._finished = threading.Event()
        self._watcher: threading.Thread | None = None
        self._release = threading.Lock()

    def start(self, processes: int, threads: int) -> None:
        """Start ``processes`` processes of ``threads`` CPU threads, each compiling its share of the
        widths, and the thread that waits for them (also for those started before an error)."""
        context = multiprocessing.get_context("spawn")
        widths = self.warm_up.widths
        try:
            with started_deaf_to_ctrl_c():
                for index in range(processes):
                    share = widths[index::processes]
                    process = context.Process(
                        target=_compile_widths, args=(self.warm_up, share, threads), name=f"compile-{index}"
                    )
                    process.start()
                    self.processes.append(process)
        finally:
            self._watcher = threading.Thread(target=self._watch, name="background-compiling", daemon=True)
            self._watcher.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Whether every process has ended (within ``timeout`` seconds)."""
        return self._finished.wait(timeout)

    def stop(self) -> None:
        """End the processes still compiling, wait for them, release the lock."""
        self._stopping = True
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        # Only the watcher joins: two threads joining one process race for its exit status, and
        # the loser's join returns with none (exitcode None).
        if self._watcher is not None:
            self._finished.wait()
        self._unlock()

    def _watch(self) -> None:
        for process in self.processes:
            process.join()
        failed = [p for p in self.processes if p.exitcode != 0]
        if not self._stopping:
            if failed:
                codes = ", ".join(f"{p.name} exit code {p.exitcode}" for p in failed)
                self._log(
                    f"compiling widths in the background failed ({codes}; its error is above): "
                    "a trial compiles each width it needs that was not compiled"
                )
            else:
                self._done.touch()
        self._unlock()
        self._finished.set()

    def _unlock(self) -> None:
        with self._release:
            if self._lock is not None:
                os.close(self._lock)  # which releases the lock
                self._lock = None


@contextmanager
def compiling_in_background(
    warm_up: WarmUp | None, log: Callable[[str], None], processes: int | None = None
) -> Iterator[BackgroundCompiling | None]:
    """Run ``warm_up`` in the background while the block runs, unless it is None, already done in
    this cache folder, or being done by another worker (then None); ends its processes as the block
    ends. ``processes`` defaults to a quarter of the host's cores (at least one, at most one a
    width), each compiling with two threads or the host's only core."""
    started = _claim(warm_up, log) if warm_up is not None else None
    try:
        if started is not None:
            cores = len(os.sched_getaffinity(0))
            count = processes or min(len(started.warm_up.widths), max(1, cores // 4))
            started.start(count, max(1, cores // 2 // count))
        yield started
    finally:
        if started is not None:
            started.stop()


def cache_folder() -> Path:
    """Inductor's on-disk cache folder (``TORCHINDUCTOR_CACHE_DIR``, else its default)."""
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    return Path(cache_dir())


def _claim(warm_up: WarmUp, log: Callable[[str], None]) -> BackgroundCompiling | None:
    """This warm-up's lock, taken, or None when it is done or another process holds it."""
    stem = cache_folder() / f"{_PREFIX}{warm_up.key()}"
    done = stem.with_suffix(".done")
    if done.exists():
        return None
    lock = os.open(stem.with_suffix(".lock"), os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        return None
    return BackgroundCompiling(warm_up, lock, done, log)


def _compile_widths(warm_up: WarmUp, widths: tuple[int, ...], threads: int) -> None:
    """A background process: compile ``widths``, ending at once if the worker that started it
    ends first."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_end_with, args=(parent,), daemon=True).start()
    import torch._inductor.config

    # Not torch.set_num_threads: C++ kernels (CPU) are specialized on it, and would then miss.
    torch._inductor.config.compile_threads = threads
    device = torch.device(warm_up.device)
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    with deterministic_kernels(warm_up.deterministic):
        warm_up_widths(warm_up.model, widths, warm_up.batch_size, device, training_autocast(device))


def _end_with(parent: BaseProcess) -> None:
    parent.join()
    os._exit(0)
