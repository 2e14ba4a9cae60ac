"""One worker's loop: ask, suggest, check for repeats, train, store, tell; until the target.

A trial never kills the study: a NaN, an out-of-memory or any exception is stored with its
reason and the loop goes on. Ctrl-C (or SIGTERM) marks the running trial failed as
"interrupted", queues its schedule again and stops, so no trial is left running. Trials of
workers that died are found (at once on this host, by heartbeat elsewhere), marked failed with
the reason and queued again.
"""

from __future__ import annotations

import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.artifacts import FileSystemArtifactStore, upload_artifact
from optuna.trial import FrozenTrial, TrialState

from search.config import RunConfig
from search.liveness import HEARTBEAT_S, Heartbeat, WorkerIdentity, dead_reason
from search.notes import update_study_note
from search.objective import Evaluation, Objective
from search.plots import plot_loss_curve, plot_schedule
from search.samplers import independent_params
from search.study import StudySettings, counts, enqueue_schedule, holds, trial_key
from search.trainer import TrainingFailed
from space.schedule import Schedule
from space.spaces import SearchSpace, layer_param_name

# Stop instead of spinning when the sampler keeps proposing schedules already tried.
MAX_REPEATS_IN_A_ROW = 100
# Stop when trials keep failing with errors: the objective or the setup is broken.
MAX_ERRORS_IN_A_ROW = 3
# A worker whose last slots are held by others checks this often: the study is done the moment
# they finish, and waiting a whole heartbeat kept a 2-GPU run alive 10 s past its last trial.
WAIT_FOR_OTHERS_S = min(1.0, HEARTBEAT_S)


@dataclass
class WorkerResult:
    """Why a worker stopped, and the exit code it suggests."""

    trained: int
    reason: str
    exit_code: int


class Worker:
    """Runs trials of one study in this process until the study has ``target`` counted trials."""

    def __init__(
        self,
        study: optuna.Study,
        settings: StudySettings,
        space: SearchSpace,
        objective: Objective,
        target: int,
        artifacts: Path | None,
        log: Callable[[str], None],
        on_trial_done: Callable[[], None] = lambda: None,
        wandb: bool = False,
    ) -> None:
        self.study = study
        self.settings = settings
        self.space = space
        self.objective = objective
        self.target = target
        self.artifacts = FileSystemArtifactStore(str(artifacts)) if artifacts else None
        if artifacts:
            artifacts.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.on_trial_done = on_trial_done
        self.wandb = wandb
        self.me = WorkerIdentity.current()
        self.storage = study._storage

    def run(self) -> WorkerResult:
        """The loop; returns when the target is reached, or the search cannot go on."""
        trained = repeats = errors = 0
        while True:
            self.recover_dead_trials()
            trials = self.study.get_trials(deepcopy=False)
            done = sum(counts(t) for t in trials)
            running = sum(t.state == TrialState.RUNNING for t in trials)
            if done >= self.target:
                return WorkerResult(trained, f"the study has {done} of {self.target} trials", 0)
            if done + running >= self.target:
                time.sleep(WAIT_FOR_OTHERS_S)  # other workers hold the last slots; watch them finish
                continue
            trial = self.study.ask()
            WorkerIdentity.register(self.me, self.storage, trial._trial_id)
            if self._surplus(trial):
                continue
            outcome = self.run_trial(trial)
            self.on_trial_done()
            trained += outcome != "repeat"
            repeats = repeats + 1 if outcome == "repeat" else 0
            errors = errors + 1 if outcome == "error" else 0
            if repeats >= MAX_REPEATS_IN_A_ROW:
                return WorkerResult(
                    trained,
                    f"the last {repeats} proposals all repeated schedules already tried: "
                    "the space looks exhausted (try a larger space or another sampler)",
                    0,
                )
            if errors >= MAX_ERRORS_IN_A_ROW:
                return WorkerResult(trained, f"{errors} trials in a row failed with errors; stopping", 1)

    def _surplus(self, trial: optuna.Trial) -> bool:
        """Whether another worker filled the last slot while this one asked for a trial."""
        earlier = [
            t
            for t in self.study.get_trials(deepcopy=False)
            if t.number < trial.number and (counts(t) or t.state == TrialState.RUNNING)
        ]
        if len(earlier) < self.target:
            return False
        self._requeue_if_queued(trial.user_attrs)
        self._finish(trial, TrialState.FAIL, "surplus", "not needed: other workers filled the target")
        return True

    def run_trial(self, trial: optuna.Trial) -> str:
        """Run one asked trial to a told state; returns its outcome."""
        started = time.perf_counter()
        try:
            schedule, config = self._prepare(trial)
        except Exception as e:
            return self._fail_with_error(trial, e, started)
        repeated = self._repeated(trial.number, trial.user_attrs["schedule_key"])
        if repeated is not None:
            return self._record_repeat(trial, repeated)
        with Heartbeat(self.storage, trial._trial_id):
            try:
                evaluation = self.objective.evaluate(config, self._reporter(trial))
            except optuna.TrialPruned as e:
                return self._finish(trial, TrialState.PRUNED, "pruned", str(e) or "pruned", started)
            except TrainingFailed as e:
                return self._finish(trial, TrialState.FAIL, e.kind, e.reason, started)
            except KeyboardInterrupt:
                self._requeue_if_queued({**trial.user_attrs, "queued_mults": list(schedule.mults)})
                self._finish(
                    trial, TrialState.FAIL, "interrupted", "interrupted (Ctrl-C or SIGTERM)", started
                )
                raise
            except Exception as e:
                return self._fail_with_error(trial, e, started)
        self._store_evaluation(trial, config, evaluation)
        return self._finish(trial, TrialState.COMPLETE, "complete", "", started, evaluation.value)

    def _prepare(self, trial: optuna.Trial) -> tuple[Schedule, RunConfig]:
        """The trial's schedule and validated run config, recorded on the trial."""
        seed = int(trial.user_attrs.get("seed", self.settings.base.seed))
        schedule = self._schedule(trial)
        config = RunConfig.model_validate(
            {
                **self.settings.base.model_dump(),
                "model": self.settings.base.model.with_schedule(schedule).model_dump(),
                "seed": seed,
            }
        )
        self._describe(trial, schedule, trial_key(schedule.key, seed), seed, config)
        return schedule, config

    def _fail_with_error(self, trial: optuna.Trial, error: Exception, started: float) -> str:
        self.log(f"trial {trial.number} raised:\n{traceback.format_exc()}")
        return self._finish(trial, TrialState.FAIL, "error", f"{type(error).__name__}: {error}", started)

    def _schedule(self, trial: optuna.Trial) -> Schedule:
        queued = trial.user_attrs.get("queued_mults")
        if queued is None:
            schedule = self.space.suggest(trial)
            loose = independent_params(self.study, trial)
            if loose:
                raise RuntimeError(
                    f"the sampler drew {sorted(loose)} outside its joint model (independent sampling)"
                )
            return schedule
        schedule = Schedule(budget=self.space.budget, mults=tuple(queued))
        if self.space.params_for(schedule) is not None:
            # Record the queued parameters so the sampler learns from this trial too.
            self.space.suggest(trial)
        return schedule

    def _describe(
        self, trial: optuna.Trial, schedule: Schedule, key: str, seed: int, config: RunConfig
    ) -> None:
        mults = list(schedule.mults)
        attrs: dict[str, Any] = {
            "mlp_mults": mults,
            **{layer_param_name(i): m for i, m in enumerate(mults)},
            "schedule_key": key,
            "seed": seed,
            "params": config.model.params,
            "config": config.model_dump(mode="json"),
        }
        for name, value in attrs.items():
            trial.set_user_attr(name, value)

    def _repeated(self, number: int, key: str) -> FrozenTrial | None:
        for other in self.study.get_trials(deepcopy=False):
            if other.number != number and holds(other, key):
                return other
        return None

    def _record_repeat(self, trial: optuna.Trial, original: FrozenTrial) -> str:
        trial.set_user_attr("repeat_of", original.number)
        if original.state == TrialState.COMPLETE:
            # Same schedule, same seed, same data order: the same answer, at no GPU cost.
            reason = f"repeats trial {original.number}; its value is reused"
            return self._finish(trial, TrialState.COMPLETE, "repeat", reason, value=original.value)
        reason = f"repeats trial {original.number} ({original.state.name.lower()}); not trained again"
        return self._finish(trial, TrialState.FAIL, "repeat", reason)

    def _reporter(self, trial: optuna.Trial) -> Callable[[int, float], None]:
        def report(step: int, value: float) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step:,}: validation loss {value:.4f}")

        return report

    def _store_evaluation(self, trial: optuna.Trial, config: RunConfig, evaluation: Evaluation) -> None:
        trial.set_user_attr("val_loss", evaluation.value)
        for name, value in evaluation.attrs.items():
            if name != "val_loss":
                trial.set_user_attr(name, value)
        if evaluation.loss_curve is not None:
            trial.set_user_attr("loss_curve", [round(v, 4) for v in evaluation.loss_curve])
        if self.artifacts is not None:
            self._upload_pictures(trial, config, evaluation)
        if self.wandb:
            from search.tracking import log_trial_to_wandb

            log_trial_to_wandb(self.study.study_name, trial.number, config, evaluation)

    def _upload_pictures(self, trial: optuna.Trial, config: RunConfig, evaluation: Evaluation) -> None:
        assert self.artifacts is not None
        mean = config.model.budget.total / config.model.n_layers
        with tempfile.TemporaryDirectory() as folder:
            pictures = [
                plot_schedule(
                    config.model.schedule.mults,
                    Path(folder) / f"schedule-{trial.number}.png",
                    f"trial {trial.number}: {config.model.schedule.key}",
                    mean,
                )
            ]
            if evaluation.loss_curve:
                tokens_per_step = config.train.batch_size * config.model.context
                pictures.append(
                    plot_loss_curve(
                        evaluation.loss_curve,
                        tokens_per_step,
                        evaluation.checkpoints,
                        Path(folder) / f"loss-{trial.number}.png",
                    )
                )
            for picture in pictures:
                upload_artifact(artifact_store=self.artifacts, file_path=str(picture), study_or_trial=trial)

    def _finish(
        self,
        trial: optuna.Trial,
        state: TrialState,
        outcome: str,
        reason: str,
        started: float | None = None,
        value: float | None = None,
    ) -> str:
        mults = trial.user_attrs.get("mlp_mults", [])
        trial.set_user_attr("outcome", outcome)
        if reason:
            trial.set_user_attr("reason", reason)
        if started is not None and "wall_s" not in trial.user_attrs:
            trial.set_user_attr("wall_s", round(time.perf_counter() - started, 3))
        try:
            self.study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
        except optuna.exceptions.UpdateFinishedTrialError:
            self.log(f"trial {trial.number} was marked failed by another worker that judged this one dead")
            return outcome
        shown = f"val_loss {value:.4f}" if value is not None else reason
        self.log(f"trial {trial.number:>4} {outcome:<13} {','.join(map(str, mults)):<36} {shown}")
        update_study_note(self.study)
        return outcome

    def recover_dead_trials(self) -> None:
        """Mark trials of dead workers failed with the reason, and queue their schedules again."""
        now = time.time()
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            reason = dead_reason(trial, self.me, now)
            if reason is None:
                continue
            storage = self.storage
            try:
                storage.set_trial_user_attr(trial._trial_id, "outcome", "crashed")
                storage.set_trial_user_attr(trial._trial_id, "reason", f"worker died: {reason}")
                storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # another worker recovered it first
            self.log(f"trial {trial.number} failed: worker died ({reason}); its schedule is queued again")
            self._requeue_if_queued(trial.user_attrs, crashed=trial)

    def _requeue_if_queued(self, attrs: dict[str, Any], crashed: FrozenTrial | None = None) -> None:
        """Queue a schedule again: a queued one (baseline, retry), or a crashed trial's own."""
        mults = attrs.get("queued_mults") or attrs.get("mlp_mults")
        if crashed is None and "queued_mults" not in attrs:
            return  # a sampled trial that never ran: the sampler will propose again
        if mults is None:
            return  # died before its schedule was known: nothing to retry
        seed = int(attrs.get("seed", self.settings.base.seed))
        extra = {k: attrs[k] for k in ("baseline",) if k in attrs}
        if crashed is not None:
            extra["retry_of"] = crashed.number
        key = trial_key(Schedule(budget=self.space.budget, mults=tuple(mults)).key, seed)
        waiting = self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if not any(t.user_attrs.get("schedule_key") == key for t in waiting):
            enqueue_schedule(self.study, self.space, tuple(mults), seed, extra)
