"""One worker of a study, from its checked plan: worker 0 in the ``search.run`` process, or a
spawned worker (:mod:`search.trials.spawning`) once its plan has come."""

from __future__ import annotations

from collections.abc import Callable

import optuna
import torch

from search.study.storage import artifact_dir
from search.trials.background_compiling import compiling_in_background
from search.trials.objective import make_objective
from search.trials.plan import SearchPlan, WorkerPlan, open_plan_study, open_worker_plan
from search.trials.runner import Worker, WorkerResult
from search.trials.signals import raise_if_interrupted, stop_on_sigterm


def work(
    plan: SearchPlan,
    study: optuna.Study,
    log: Callable[[str], None],
    on_trial_done: Callable[[], None],
    step_bars: bool,
) -> WorkerResult:
    """Run worker ``plan`` on ``study`` to the target; ``log`` takes its lines, ``on_trial_done`` is
    called after each trial it finishes, ``step_bars`` shows a bar of each trial's steps."""
    options = plan.options
    objective = make_objective(options.objective, plan.prepared, progress=step_bars)
    worker = Worker(
        study=study,
        storage=plan.storage,
        settings=plan.settings,
        space=plan.space,
        objective=objective,
        target=options.trials,
        deadline=plan.deadline,
        artifacts=artifact_dir(options.storage),
        log=log,
        on_trial_done=on_trial_done,
        wandb=options.wandb,
    )
    objective.prepare_compiling(plan.settings.base)
    try:
        with compiling_in_background(objective.background_warm_up(plan.settings.base), log):
            return worker.run()
    finally:
        # Before worker 0 waits for the spawned workers to exit, which they do meanwhile.
        objective.finish_compiling()


def work_as_child(sent: WorkerPlan, index: int, threads: int) -> int:
    """Spawned worker ``index``, its plan received: open the plan and the study, run trials on
    ``threads`` CPU threads; returns its exit code. KeyboardInterrupt stops it, also for a Ctrl-C
    that came while it waited for the plan."""
    stop_on_sigterm()
    raise_if_interrupted()
    torch.set_num_threads(threads)

    def log(line: str) -> None:
        print(f"[worker {index}] {line}", flush=True)

    plan = open_worker_plan(sent)
    study, plan, _ = open_plan_study(plan, index)
    result = work(plan, study, log, lambda: None, step_bars=False)
    log(result.reason)
    return result.exit_code
