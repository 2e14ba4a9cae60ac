"""Running a study's workers: in this process, or one process per GPU (or per ``--workers``)."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from collections.abc import Callable

import optuna
import torch

from search.progress import StudyProgress
from search.runner import Worker, WorkerResult
from search.setup import SearchPlan, make_objective, make_plan, open_plan_study
from search.signals import stop_on_sigterm
from search.storage import artifact_dir

_POLL_S = 2.0


def run_workers(plan: SearchPlan, study: optuna.Study) -> WorkerResult:
    """Run the study to its target with ``plan.workers`` workers; returns the outcome."""
    progress = StudyProgress(study, plan.args.trials, plan.settings.base.seed)
    try:
        if plan.workers == 1:
            if plan.gpus:
                torch.cuda.set_device(plan.gpus[0])
            return _work(plan, study, progress.write, progress.refresh, sys.stderr.isatty())
        return _spawn(plan, study, progress)
    finally:
        progress.refresh()
        progress.close()


def _work(
    plan: SearchPlan,
    study: optuna.Study,
    log: Callable[[str], None],
    on_trial_done: Callable[[], None],
    step_bars: bool,
) -> WorkerResult:
    objective = make_objective(plan, progress=step_bars)
    artifacts = artifact_dir(plan.args.storage)
    worker = Worker(
        study,
        plan.settings,
        plan.space,
        objective,
        plan.args.trials,
        artifacts,
        log,
        on_trial_done,
        wandb=plan.args.wandb,
    )
    return worker.run()


def _spawn(plan: SearchPlan, study: optuna.Study, progress: StudyProgress) -> WorkerResult:
    """One process per worker, each pinned to its GPU; this process shows progress."""
    context = multiprocessing.get_context("spawn")
    threads = cores_per_worker(plan.workers)
    processes = []
    for index in range(plan.workers):
        gpu = plan.gpus[index] if plan.gpus else None
        # A spawned child inherits the environment at start: it sees only its own GPU.
        saved = os.environ.get("CUDA_VISIBLE_DEVICES")
        if gpu is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
        # The child sees one GPU (or none) and runs one worker on it.
        child_args = argparse.Namespace(**{**vars(plan.args), "gpus": None, "workers": 1})
        process = context.Process(target=_child, args=(child_args, index, threads), name=f"worker-{index}")
        process.start()
        _restore_env("CUDA_VISIBLE_DEVICES", saved)
        processes.append(process)
    try:
        while any(p.is_alive() for p in processes):
            for p in processes:
                p.join(timeout=_POLL_S / len(processes))
            progress.refresh()
    except KeyboardInterrupt:
        # A Ctrl-C reached every child too; a SIGTERM (timeout, a cluster) reached only this
        # process: pass it on to children still running, so each records its interrupted trial.
        for p in processes:
            p.join(timeout=_POLL_S)
        for p in processes:
            if p.is_alive():
                p.terminate()
        for p in processes:
            p.join()
        raise
    codes = [p.exitcode for p in processes]
    worst = max((c for c in codes if c), default=0)
    return WorkerResult(
        trained=-1, reason=f"{len(processes)} workers finished (exit codes {codes})", exit_code=worst
    )


def cores_per_worker(workers: int) -> int:
    """CPU threads for each of ``workers`` processes: their share of this process's cores, at
    least one. With every worker using all cores, 2 CPU workers on 2 cores ran a trial 3 to 8
    times slower than one worker alone."""
    return max(1, len(os.sched_getaffinity(0)) // workers)


def _child(args: argparse.Namespace, index: int, threads: int) -> None:
    """A worker process: re-plan (the data cache is warm), open the study, run trials on
    ``threads`` CPU threads."""
    stop_on_sigterm()
    torch.set_num_threads(threads)
    plan = make_plan(args, log=False)
    study, _ = open_plan_study(plan, index)

    def log(line: str) -> None:
        print(f"[worker {index}] {line}", flush=True)

    try:
        result = _work(plan, study, log, lambda: None, step_bars=False)
    except KeyboardInterrupt:
        sys.exit(130)
    log(result.reason)
    sys.exit(result.exit_code)


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
