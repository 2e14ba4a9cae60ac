"""Running a study's workers: one in this process, and one spawned process for each further GPU
(or ``--workers``), started by :mod:`search.trials.spawning`."""

from __future__ import annotations

import sys
import threading

import optuna
import torch

from search.findings.dashboard import save_dashboard_figures
from search.trials.periodic import Periodic
from search.trials.plan import SearchPlan, plan_for_worker
from search.trials.progress import StudyProgress
from search.trials.runner import WorkerResult
from search.trials.signals import deferred_interrupts
from search.trials.spawning import Children, cores_per_worker, start_children
from search.trials.working import work

_POLL_S = 2.0
# How long an interrupted worker may take to record its trial before it is told to stop.
_RECORD_S = 30.0


def run_workers(plan: SearchPlan, study: optuna.Study, early: Children | None = None) -> WorkerResult:
    """Run the study to its target with ``plan.workers`` workers; returns the outcome.

    Worker 0 runs in this process, which has the plan, the study and the data loaded already; a
    spawned worker spends seconds importing before its first trial, which ``early`` children
    (started with ``early_children``) spent while this process prepared.
    """
    if early is not None and not early.fit(plan):
        # torch counted other GPUs than the driver did: start the children this plan needs.
        early.dismiss()
        early = None
    progress = StudyProgress(study, plan.options.trials, plan.settings.base.seed)
    try:
        if plan.workers == 1:
            if plan.gpus:
                torch.cuda.set_device(plan.gpus[0])
            return work(plan, study, progress.write, progress.refresh, sys.stderr.isatty())
        return _work_beside_children(plan, study, progress, early)
    finally:
        progress.refresh()
        progress.close()
        with deferred_interrupts():  # a second Ctrl-C must not cut a write to the study short
            save_dashboard_figures(study, plan.settings.base.tokens_per_step)


def _work_beside_children(
    plan: SearchPlan, study: optuna.Study, progress: StudyProgress, early: Children | None
) -> WorkerResult:
    """Workers 1.. in spawned processes, each pinned to its GPU; worker 0 here, on the first GPU."""
    threads = cores_per_worker(plan.workers)
    threads_before = torch.get_num_threads()
    children = early

    def log(line: str) -> None:
        progress.write(f"[worker 0] {line}")

    lock = threading.Lock()

    def refresh() -> None:
        with lock:  # the polling thread and this process's finished trials, one at a time
            progress.refresh()

    try:
        # Every child starts before this process touches CUDA (the early ones started before it
        # checked anything): while a child starts, this process's environment names only that
        # child's GPU, and CUDA set up meanwhile would take it.
        if children is None:
            children = start_children(plan.gpus, plan.workers)
        children.send(plan_for_worker(plan))
        if plan.gpus:
            torch.cuda.set_device(plan.gpus[0])
        torch.set_num_threads(threads)
        # The bar shows children's trials while this process trains its own.
        with Periodic(_POLL_S, refresh, "progress"):
            mine = work(plan, study, log, refresh, step_bars=False)
            log(mine.reason)
            for child in children.processes:
                child.join()
        codes = [mine.exit_code, *(child.exitcode for child in children.processes)]
    except KeyboardInterrupt:
        # This process's trial is recorded. A Ctrl-C reached every child too; a SIGTERM (a
        # timeout, a cluster) reached only this process: pass it on to children still running,
        # so each records its interrupted trial. Another interrupt meanwhile waits its turn.
        with deferred_interrupts():
            if children is not None:
                children.dismiss()  # those not yet sent their plan end at once
                for child in children.processes:
                    child.join(timeout=_RECORD_S)
                for child in children.processes:
                    if child.is_alive():
                        child.terminate()
                for child in children.processes:
                    child.join()
        raise
    finally:
        # A caller in the same process (a test, a benchmark) gets its cores back.
        torch.set_num_threads(threads_before)
    worst = max((c for c in codes if c), default=0)
    return WorkerResult(
        trained=mine.trained, reason=f"{plan.workers} workers finished (exit codes {codes})", exit_code=worst
    )
