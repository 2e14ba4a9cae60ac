"""Training a confirmation's runs in spawned workers, one per GPU (or ``--workers`` on CPU): each
takes the next run from a shared queue and sends back what it measured. This process stores every
run as it comes back: a stored run is a read-modify-write of one study attribute, so one writer
makes them all."""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import cast

from search.training.devices import children_see_only
from search.training.outcome import TrainingFailed
from search.training.run_config import RunConfig
from search.trials.exiting import skip_final_collection
from search.trials.objective import Evaluation, ObjectiveSource
from search.trials.signals import exit_on_sigterm, started_deaf_to_ctrl_c
from search.trials.spawning import cores_per_worker

# How long a worker ended with SIGTERM may take to run its exit handlers before it is killed.
_EXIT_WAIT_S = 30.0


@dataclass(frozen=True)
class Started:
    """The sending worker took run ``index``."""

    index: int


@dataclass(frozen=True)
class Finished:
    """Run ``index`` ended: with its evaluation, or failed with a kind and a reason."""

    index: int
    evaluation: Evaluation | None
    failure: tuple[str, str] | None = None


Outcome = Evaluation | TrainingFailed


class WorkersEnded(RuntimeError):
    """Every worker ended with runs left untrained."""


def train_in_workers(
    source: ObjectiveSource,
    configs: Sequence[RunConfig],
    gpus: tuple[int, ...],
    workers: int,
    finished: Callable[[int, Outcome], None],
) -> None:
    """Train ``configs`` in ``workers`` spawned processes (worker ``i`` sees ``gpus[i]`` alone; none
    on CPU), calling ``finished(index, outcome)`` here as each run ends, in the order they end.

    A run whose worker died is reported failed and the other workers take the rest;
    :class:`WorkersEnded` when every worker ended with runs left. An interrupt here ends the
    workers, their runs in progress lost.
    """
    context = multiprocessing.get_context("spawn")
    tasks = context.Queue()
    # Runs left when every worker has died stay in the queue: this process must not wait at its exit
    # for them to be read.
    tasks.cancel_join_thread()
    for index, config in enumerate(configs):
        tasks.put((index, config))
    for _ in range(workers):
        tasks.put(None)
    threads = cores_per_worker(workers)
    processes: list[BaseProcess] = []
    readers: dict[Connection, int] = {}
    try:
        with started_deaf_to_ctrl_c():  # this process ends them; a Ctrl-C must not cut a run short
            for worker in range(workers):
                # A pipe each, not a queue: a message is in the pipe once sent, so one sent just
                # before its sender died still says which run it held.
                reader, writer = context.Pipe(duplex=False)
                with children_see_only(gpus[worker] if gpus else None):
                    process = context.Process(
                        target=_serve, args=(source, tasks, writer, threads), name=f"confirm-{worker}"
                    )
                    process.start()
                writer.close()  # the worker's end: its exit reads as the end of this pipe
                processes.append(process)
                readers[reader] = worker
        left = len(configs) - _collect(readers, processes, finished)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(_EXIT_WAIT_S)
            if process.is_alive():  # stuck in its exit handlers: SIGTERM no longer reaches it
                process.kill()
                process.join()
    if left:
        codes = ", ".join(str(p.exitcode) for p in processes)
        raise WorkersEnded(f"every worker ended (exit codes {codes}) with {left} run(s) not trained")


def _collect(
    readers: dict[Connection, int], processes: list[BaseProcess], finished: Callable[[int, Outcome], None]
) -> int:
    """Pass each run's outcome on as it comes, until every worker has ended; how many runs were
    answered."""
    taken: dict[int, int] = {}  # worker -> the run it is training
    answered = 0
    while readers:
        for ready in wait(list(readers)):
            reader = cast(Connection, ready)
            worker = readers[reader]
            try:
                message: Started | Finished = reader.recv()
            except EOFError:
                del readers[reader]
                process = processes[worker]
                process.join()
                if worker in taken:
                    reason = f"its worker (confirm-{worker}) ended with exit code {process.exitcode}"
                    finished(taken.pop(worker), TrainingFailed(reason, kind="error"))
                    answered += 1
                continue
            if isinstance(message, Started):
                taken[worker] = message.index
                continue
            taken.pop(worker, None)
            answered += 1
            if message.failure is not None:
                kind, reason = message.failure
                finished(message.index, TrainingFailed(reason, kind=kind))  # type: ignore[arg-type]
            elif message.evaluation is not None:
                finished(message.index, message.evaluation)
    return answered


def _serve(
    source: ObjectiveSource,
    tasks: multiprocessing.Queue,  # type: ignore[type-arg]
    results: Connection,
    threads: int,
) -> None:
    """A worker's loop: build the objective once, then train runs until the queue says stop. An
    error other than a failed run is sent back with its traceback, and ends this worker: a CUDA
    error can leave the device unusable."""
    skip_final_collection()
    exit_on_sigterm()
    import torch

    torch.set_num_threads(threads)
    objective = source.build(progress=False)
    while (task := tasks.get()) is not None:
        index, config = task
        results.send(Started(index))
        try:
            evaluation = objective.evaluate(config, lambda step, value: None)
        except TrainingFailed as e:
            results.send(Finished(index, None, (e.kind, e.reason)))
            continue
        except Exception as e:  # sent to the parent, which records it
            reason = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=5)}"
            results.send(Finished(index, None, ("error", reason)))
            raise SystemExit(1) from e
        evaluation.loss_curve = None  # not stored with a confirmation run: spare the pipe
        results.send(Finished(index, evaluation))
