"""Starting a study's spawned workers (1.. beside worker 0 in this process) as soon as the options
say how many: each spends seconds importing torch and the rest, and does so while this process
checks every input and prepares the data; then it waits for the checked plan."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from search.options.search_options import SearchOptions
from search.training.devices import children_see_only, driver_gpu_count
from search.trials.exiting import skip_final_collection
from search.trials.plan import SearchPlan, WorkerPlan, chosen_gpus, worker_count
from search.trials.signals import (
    deferred_interrupts,
    hear_ctrl_c,
    ignore_interrupts_from_now,
    started_deaf_to_ctrl_c,
)


@dataclass
class Children:
    """Workers 1.. of a run, started for ``gpus`` (child ``i`` sees ``gpus[i]`` alone; none on CPU)
    and ``workers`` in all, each waiting for its plan until :meth:`send`."""

    gpus: tuple[int, ...]
    workers: int
    processes: list[BaseProcess] = field(default_factory=list)
    _senders: list[Connection] = field(default_factory=list)
    _waiting: bool = True

    def add(self, process: BaseProcess, sender: Connection) -> None:
        """A started child, and the end of its pipe that will send it the plan."""
        self.processes.append(process)
        self._senders.append(sender)

    def fit(self, plan: SearchPlan) -> bool:
        """Whether these are the children ``plan`` needs."""
        return (self.gpus, self.workers) == (plan.gpus, plan.workers)

    def send(self, sent: WorkerPlan) -> list[BaseProcess]:
        """Give every child the plan; from then on they run trials and the caller joins them."""
        # A child reads its plan once its imports are done, maybe seconds from now, and a plan larger
        # than the pipe's buffer (a 16k-token tokenizer is) blocks its writer until then: written
        # here, it kept this process's own first trial waiting 4.9 s. A thread writes it instead.
        for index, sender in enumerate(self._senders, start=1):
            threading.Thread(target=_send, args=(sender, sent), name=f"plan-{index}", daemon=True).start()
        self._waiting = False
        return self.processes

    def dismiss(self) -> None:
        """End the children if they have no plan yet (the run was refused or interrupted): they
        have opened and written nothing, and until their plan comes SIGTERM ends them silently."""
        if not self._waiting:
            return
        self._waiting = False
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join()
        for sender in self._senders:
            sender.close()


def start_children(gpus: tuple[int, ...], workers: int) -> Children:
    """Spawn workers 1..``workers``-1, each on its share of the cores and seeing only its GPU.
    (Fork is unsafe with CUDA and threads.)"""
    context = multiprocessing.get_context("spawn")
    threads = cores_per_worker(workers)
    children = Children(gpus, workers)
    try:
        with started_deaf_to_ctrl_c():
            for index in range(1, workers):
                receiver, sender = context.Pipe(duplex=False)
                with children_see_only(gpus[index] if gpus else None):
                    process = context.Process(
                        target=_child, args=(receiver, index, threads), name=f"worker-{index}"
                    )
                    process.start()
                receiver.close()
                children.add(process, sender)
    except BaseException:  # a Ctrl-C, or a child that could not start: none is left behind
        children.dismiss()
        raise
    return children


def expected_workers(options: SearchOptions) -> tuple[tuple[int, ...], int]:
    """The GPUs and the number of workers that ``make_plan`` will choose for ``options``, found
    without torch; a ``--gpus`` it will refuse gets one worker (nothing to start)."""
    try:
        gpus = chosen_gpus(options.gpus, driver_gpu_count())
    except ValueError:
        return (), 1
    return gpus, worker_count(gpus, options.workers)


@contextmanager
def early_children(options: SearchOptions) -> Iterator[Children | None]:
    """The spawned workers ``options`` ask for, started now (None for a single worker); those still
    without a plan when the block ends (the run was refused or interrupted) are dismissed."""
    gpus, workers = expected_workers(options)
    children = start_children(gpus, workers) if workers > 1 else None
    try:
        yield children
    finally:
        if children is not None:
            children.dismiss()


def cores_per_worker(workers: int) -> int:
    """CPU threads for each of ``workers`` processes: their share of this process's cores, at
    least one. With every worker using all cores, 2 CPU workers on 2 cores ran a trial 3 to 8
    times slower than one worker alone."""
    return max(1, len(os.sched_getaffinity(0)) // workers)


def _send(connection: Connection, sent: WorkerPlan) -> None:
    try:
        with connection:
            connection.send(sent)
    except OSError:
        pass  # the child ended before reading its plan; its exit code says why


def _child(receiver: Connection, index: int, threads: int) -> None:
    """A spawned worker's entry: import, wait for the plan, then work (``working.work_as_child``).

    Until its plan comes the parent decides for it: it sends the plan, or ends this process when
    the run is refused or interrupted. So SIGTERM keeps its default (a silent end), and a Ctrl-C,
    ignored as the process started, is noted from here on: raised once the plan is here, it stops
    this worker before its first trial.
    """
    skip_final_collection()
    try:
        with deferred_interrupts():
            hear_ctrl_c()
            # torch, optuna and the rest: the seconds this process was started early for.
            from search.trials.working import work_as_child

            sent = _receive(receiver)
        if sent is None:
            return  # the parent ended without sending a plan: there is nothing to do
        code = work_as_child(sent, index, threads)
    except KeyboardInterrupt:
        ignore_interrupts_from_now()
        sys.exit(130)
    sys.exit(code)


def _receive(receiver: Connection) -> WorkerPlan | None:
    """The plan the parent sends; None if it ended first."""
    try:
        with receiver:
            return receiver.recv()
    except EOFError:
        return None
