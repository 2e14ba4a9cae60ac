"""Running a study's workers: one in this process, and one spawned process for each further GPU
(or ``--workers``)."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import optuna
import torch

from search.findings.dashboard import save_dashboard_figures
from search.study.storage import artifact_dir
from search.training.devices import children_see_only
from search.trials.objective import make_objective
from search.trials.periodic import Periodic
from search.trials.plan import SearchPlan, WorkerPlan, open_plan_study, open_worker_plan, plan_for_worker
from search.trials.progress import StudyProgress
from search.trials.runner import Worker, WorkerResult
from search.trials.signals import deferred_interrupts, stop_on_sigterm

_POLL_S = 2.0
# How long an interrupted worker may take to record its trial before it is told to stop.
_RECORD_S = 30.0


def run_workers(plan: SearchPlan, study: optuna.Study) -> WorkerResult:
    """Run the study to its target with ``plan.workers`` workers; returns the outcome.

    Worker 0 runs in this process, which has the plan, the study and the data loaded already;
    a spawned worker spends seconds importing and opening them before its first trial.
    """
    progress = StudyProgress(study, plan.options.trials, plan.settings.base.seed)
    try:
        if plan.workers == 1:
            if plan.gpus:
                torch.cuda.set_device(plan.gpus[0])
            return _work(plan, study, progress.write, progress.refresh, sys.stderr.isatty())
        return _work_beside_children(plan, study, progress)
    finally:
        progress.refresh()
        progress.close()
        with deferred_interrupts():  # a second Ctrl-C must not cut a write to the study short
            save_dashboard_figures(study, plan.settings.base.tokens_per_step)


def _work(
    plan: SearchPlan,
    study: optuna.Study,
    log: Callable[[str], None],
    on_trial_done: Callable[[], None],
    step_bars: bool,
) -> WorkerResult:
    options = plan.options
    worker = Worker(
        study=study,
        storage=plan.storage,
        settings=plan.settings,
        space=plan.space,
        objective=make_objective(options.objective, plan.prepared, progress=step_bars),
        target=options.trials,
        artifacts=artifact_dir(options.storage),
        log=log,
        on_trial_done=on_trial_done,
        wandb=options.wandb,
    )
    return worker.run()


def _work_beside_children(plan: SearchPlan, study: optuna.Study, progress: StudyProgress) -> WorkerResult:
    """Workers 1.. in spawned processes, each pinned to its GPU; worker 0 here, on the first GPU."""
    threads = cores_per_worker(plan.workers)
    threads_before = torch.get_num_threads()
    sent = plan_for_worker(plan)
    children: list[BaseProcess] = []

    def log(line: str) -> None:
        progress.write(f"[worker 0] {line}")

    lock = threading.Lock()

    def refresh() -> None:
        with lock:  # the polling thread and this process's finished trials, one at a time
            progress.refresh()

    try:
        # Every child starts before this process touches CUDA: while a child starts, this
        # process's environment names only that child's GPU, and CUDA set up meanwhile would
        # take it.
        for index in range(1, plan.workers):
            children.append(_start_child(plan, sent, index, threads))
        if plan.gpus:
            torch.cuda.set_device(plan.gpus[0])
        torch.set_num_threads(threads)
        # The bar shows children's trials while this process trains its own.
        with Periodic(_POLL_S, refresh, "progress"):
            mine = _work(plan, study, log, refresh, step_bars=False)
            log(mine.reason)
            for child in children:
                child.join()
    except KeyboardInterrupt:
        # This process's trial is recorded. A Ctrl-C reached every child too; a SIGTERM (a
        # timeout, a cluster) reached only this process: pass it on to children still running,
        # so each records its interrupted trial. Another interrupt meanwhile waits its turn.
        with deferred_interrupts():
            for child in children:
                child.join(timeout=_RECORD_S)
            for child in children:
                if child.is_alive():
                    child.terminate()
            for child in children:
                child.join()
        raise
    finally:
        # A caller in the same process (a test, a benchmark) gets its cores back.
        torch.set_num_threads(threads_before)
    codes = [mine.exit_code, *(child.exitcode for child in children)]
    worst = max((c for c in codes if c), default=0)
    return WorkerResult(
        trained=mine.trained, reason=f"{plan.workers} workers finished (exit codes {codes})", exit_code=worst
    )


def _start_child(plan: SearchPlan, sent: WorkerPlan, index: int, threads: int) -> BaseProcess:
    """Spawn worker ``index``; it sees only its own GPU. (Fork is unsafe with CUDA and threads.)"""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    with children_see_only(plan.gpus[index] if plan.gpus else None):
        process = context.Process(target=_child, args=(receiver, index, threads), name=f"worker-{index}")
        process.start()
    receiver.close()
    # The child reads its plan only after its imports, seconds later, and a plan larger than the
    # pipe's buffer (a 16k-token tokenizer is) blocks its writer until then: passed to start(),
    # it kept this process's own first trial waiting 4.9 s. A thread writes it instead.
    threading.Thread(target=_send, args=(sender, sent), name=f"plan-{index}", daemon=True).start()
    return process


def _send(connection: Connection, sent: WorkerPlan) -> None:
    try:
        with connection:
            connection.send(sent)
    except OSError:
        pass  # the child ended before reading its plan; its exit code says why


def cores_per_worker(workers: int) -> int:
    """CPU threads for each of ``workers`` processes: their share of this process's cores, at
    least one. With every worker using all cores, 2 CPU workers on 2 cores ran a trial 3 to 8
    times slower than one worker alone."""
    return max(1, len(os.sched_getaffinity(0)) // workers)


def _child(receiver: Connection, index: int, threads: int) -> None:
    """A spawned worker: receive and open the plan its parent checked, open the study, run
    trials on ``threads`` CPU threads."""
    stop_on_sigterm()
    torch.set_num_threads(threads)

    def log(line: str) -> None:
        print(f"[worker {index}] {line}", flush=True)

    try:
        with receiver:
            sent: WorkerPlan = receiver.recv()
        plan = open_worker_plan(sent)
        study, plan, _ = open_plan_study(plan, index)
        result = _work(plan, study, log, lambda: None, step_bars=False)
    except KeyboardInterrupt:
        sys.exit(130)
    log(result.reason)
    sys.exit(result.exit_code)
