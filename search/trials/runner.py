"""One worker's loop: ask, suggest, check for repeats, train, store, tell; until the target.

A trial never kills the study: a NaN, an out-of-memory or any exception is stored with its
reason and the loop goes on. Ctrl-C (or SIGTERM) marks the running trial failed as
"interrupted", queues its schedule again and stops, so no trial is left running. Trials of
workers that died are found (at once on this host, by heartbeat elsewhere), marked failed with
the reason and queued again.
"""

from __future__ import annotations

import statistics
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from search.findings.formatting import mults_text
from search.study import record
from search.study.opening import enqueue_schedule
from search.study.samplers import independent_params
from search.study.settings import StudySettings
from search.study.storage import trial_id
from search.training.outcome import TrainingFailed
from search.training.run_config import RunConfig
from search.trials.liveness import HEARTBEAT_S, Heartbeat, WorkerIdentity, dead_reason
from search.trials.objective import Objective
from search.trials.signals import deferred_interrupts, interruptible, raise_if_interrupted
from search.trials.storing import TrialPictures, store_evaluation
from search.trials.upkeep import DashboardUpkeep
from space.schedule import Schedule
from space.spaces import SearchSpace

# Stop instead of spinning when the sampler keeps proposing schedules already tried.
MAX_REPEATS_IN_A_ROW = 100
# Stop when trials keep failing with errors: the objective or the setup is broken.
MAX_ERRORS_IN_A_ROW = 3
# A worker whose last slots are held by others checks this often: the study is done the moment
# they finish, and waiting a whole heartbeat kept a 2-GPU run alive 10 s past its last trial.
WAIT_FOR_OTHERS_S = min(0.25, HEARTBEAT_S)
# How long a trial waits for earlier trials still drawing their schedule before it decides whether
# it repeats one of them: drawing takes well under a second; a worker that died meanwhile must not
# hold the others up for good.
CHOOSING_WAIT_S = 30.0
CHOOSING_POLL_S = 0.05
# The exit code of a run stopped by --time-limit short of its target (sysexits' EX_TEMPFAIL: the
# same command, run again, continues).
EXIT_OUT_OF_TIME = 75


def trials_once_chosen(
    study: optuna.Study,
    number: int,
    me: WorkerIdentity,
    log: Callable[[str], None],
    wait_s: float = CHOOSING_WAIT_S,
) -> list[FrozenTrial]:
    """The study's trials once no trial numbered below ``number`` is still drawing its schedule
    (:func:`search.study.record.still_choosing`; a dead worker's trial is not waited for), so that
    two workers proposing one schedule at the same moment both see the lower-numbered claim and
    only it trains; after ``wait_s`` seconds, the trials as they are, and a line in the log saying so."""
    deadline = time.monotonic() + wait_s
    while True:
        trials = study.get_trials(deepcopy=False)
        choosing = [t for t in record.still_choosing(trials, number) if dead_reason(t, me) is None]
        if not choosing:
            return trials
        if time.monotonic() >= deadline:
            numbers = ", ".join(str(t.number) for t in choosing)
            log(
                f"trial {number}: trial(s) {numbers} still drawing a schedule after {wait_s:g} s; "
                "deciding without them (the same schedule may be trained twice)"
            )
            return trials
        time.sleep(CHOOSING_POLL_S)


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
        *,
        study: optuna.Study,
        storage: BaseStorage,
        settings: StudySettings,
        space: SearchSpace,
        objective: Objective,
        target: int,
        artifacts: Path | None,
        deadline: float | None = None,
        log: Callable[[str], None],
        on_trial_done: Callable[[], None] = lambda: None,
        wandb: bool = False,
    ) -> None:
        self.study = study
        self.storage = storage
        self.settings = settings
        self.space = space
        self.objective = objective
        self.target = target
        self.deadline = deadline
        self.pictures = TrialPictures(FileSystemArtifactStore(str(artifacts))) if artifacts else None
        if artifacts:
            artifacts.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.on_trial_done = on_trial_done
        self.wandb_group = study.study_name if wandb else None
        self.me = WorkerIdentity.current()
        self.upkeep = DashboardUpkeep(study, settings.base.tokens_per_step)

    def run(self) -> WorkerResult:
        """The loop; returns when the target is reached, or the search cannot go on. Interrupts
        raise only in training or at the top of the loop, never inside a write to the study."""
        try:
            with deferred_interrupts():
                return self._loop()
        finally:
            with deferred_interrupts():  # a second Ctrl-C must not cut a write to the study short
                self.upkeep.close(self.log)
            if self.pictures is not None:
                self.pictures.close()

    def _loop(self) -> WorkerResult:
        trained = repeats = errors = 0
        while True:
            raise_if_interrupted()
            self.recover_dead_trials()
            trials = self.study.get_trials(deepcopy=False)
            done = sum(record.counts(t) for t in trials)
            running = sum(t.state == TrialState.RUNNING for t in trials)
            if done >= self.target:
                return WorkerResult(trained, f"the study has {done} of {self.target} trials", 0)
            if done + running >= self.target:
                # Other workers hold the last slots: watch them finish. Compiling is over unless
                # one fails and its schedule comes back to this worker.
                self.objective.finish_compiling()
                time.sleep(WAIT_FOR_OTHERS_S)
                continue
            if (late := self._out_of_time(trials)) is not None:
                return WorkerResult(
                    trained, f"{late}; the study has {done} of {self.target} trials", EXIT_OUT_OF_TIME
                )
            trial = self.study.ask()
            trial_id = self._id(trial.number)
            self.me.register(self.storage, trial_id)
            # The heartbeat covers the whole trial, storing its results included, not only training.
            with Heartbeat(self.storage, trial_id):
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

    def _out_of_time(self, trials: Sequence[FrozenTrial]) -> str | None:
        """Why no trial may start now under the deadline, or None: the median of the study's
        completed trials (the first one's compiling included, so early on it errs long) must fit
        in the time left."""
        if self.deadline is None:
            return None
        took = [
            t.user_attrs[record.WALL_S]
            for t in trials
            if t.state == TrialState.COMPLETE and record.WALL_S in t.user_attrs
        ]
        typical = statistics.median(took) if took else 0.0
        left = self.deadline - time.time()
        if left > typical:
            return None
        return (
            f"time limit: {max(left, 0.0):.0f} s left and a trial takes about {typical:.0f} s, so none "
            "starts; run the same command to continue"
        )

    def _id(self, number: int) -> int:
        return trial_id(self.storage, self.study.study_name, number)

    def _surplus(self, trial: optuna.Trial) -> bool:
        """Whether another worker filled the last slot while this one asked for a trial."""
        earlier = [
            t
            for t in self.study.get_trials(deepcopy=False)
            if t.number < trial.number and (record.counts(t) or t.state == TrialState.RUNNING)
        ]
        if len(earlier) < self.target:
            return False
        self._requeue_if_queued(trial)
        self._finish(trial, TrialState.FAIL, "surplus", "not needed: other workers filled the target")
        return True

    def run_trial(self, trial: optuna.Trial) -> str:
        """Run one asked trial to a told state; returns its outcome."""
        started = time.perf_counter()
        try:
            schedule, config = self._prepare(trial)
        except Exception as e:
            return self._fail_with_error(trial, e, started)
        repeated = self._repeated(trial.number, record.trial_key(schedule, config.seed))
        if repeated is not None:
            return self._record_repeat(trial, repeated)
        pictures = self.pictures.start(trial.number, config) if self.pictures is not None else None
        try:
            with interruptible():
                evaluation = self.objective.evaluate(config, self._reporter(trial))
        except optuna.TrialPruned as e:
            return self._finish(trial, TrialState.PRUNED, "pruned", str(e) or "pruned", started=started)
        except TrainingFailed as e:
            return self._finish(trial, TrialState.FAIL, e.kind, e.reason, started=started)
        except KeyboardInterrupt:
            self._queue_again(trial)
            reason = "interrupted (Ctrl-C or SIGTERM)"
            self._finish(trial, TrialState.FAIL, "interrupted", reason, started=started)
            raise
        except Exception as e:
            return self._fail_with_error(trial, e, started)
        store_evaluation(trial, config, evaluation, pictures, self.wandb_group)
        value = evaluation.value
        return self._finish(trial, TrialState.COMPLETE, "complete", "", started=started, value=value)

    def _prepare(self, trial: optuna.Trial) -> tuple[Schedule, RunConfig]:
        """The trial's schedule and validated run config, recorded on the trial."""
        seed = record.seed(trial, self.settings.base.seed)
        schedule = self._schedule(trial)
        config = self.settings.base.variant(schedule=schedule, seed=seed)
        attrs = record.schedule_attrs(schedule, seed, config.model.params, config.model_dump(mode="json"))
        for name, value in attrs.items():
            trial.set_user_attr(name, value)
        return schedule, config

    def _fail_with_error(self, trial: optuna.Trial, error: Exception, started: float) -> str:
        self.log(f"trial {trial.number} raised:\n{traceback.format_exc()}")
        reason = f"{type(error).__name__}: {error}"
        return self._finish(trial, TrialState.FAIL, "error", reason, started=started)

    def _schedule(self, trial: optuna.Trial) -> Schedule:
        queued = record.queued_mults(trial)
        if queued is None:
            schedule = self.space.suggest(trial)
            loose = independent_params(self.study, self.storage, trial)
            if loose:
                raise RuntimeError(
                    f"the sampler drew {sorted(loose)} outside its joint model (independent sampling)"
                )
            return schedule
        schedule = Schedule(budget=self.space.budget, mults=queued)
        if self.space.params_for(schedule) is not None:
            # Record the queued parameters so the sampler learns from this trial too.
            self.space.suggest(trial)
        return schedule

    def _repeated(self, number: int, key: str) -> FrozenTrial | None:
        trials = trials_once_chosen(self.study, number, self.me, self.log)
        return record.earlier_holder(trials, number, key)

    def _record_repeat(self, trial: optuna.Trial, original: FrozenTrial) -> str:
        trial.set_user_attr(record.REPEAT_OF, original.number)
        if original.state == TrialState.COMPLETE:
            # Same schedule, same seed, same data order: the same answer, at no GPU cost.
            reason = f"repeats trial {original.number}; its value is reused"
            return self._finish(trial, TrialState.COMPLETE, "repeat", reason, value=original.value)
        reason = f"repeats trial {original.number} ({original.state.name.lower()}); not trained again"
        return self._finish(trial, TrialState.FAIL, "repeat", reason)

    def _reporter(self, trial: optuna.Trial) -> Callable[[int, float], None]:
        def report(step: int, value: float) -> None:
            with deferred_interrupts():
                trial.report(value, step)
                prune = trial.should_prune()
            if prune:
                raise optuna.TrialPruned(f"pruned at step {step:,}: validation loss {value:.4f}")

        return report

    def _finish(
        self,
        trial: optuna.Trial,
        state: TrialState,
        outcome: str,
        reason: str,
        *,
        started: float | None = None,
        value: float | None = None,
    ) -> str:
        trial.set_user_attr(record.OUTCOME, outcome)
        if reason:
            trial.set_user_attr(record.REASON, reason)
        if started is not None and record.WALL_S not in trial.user_attrs:
            trial.set_user_attr(record.WALL_S, round(time.perf_counter() - started, 3))
        try:
            self.study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
        except optuna.exceptions.UpdateFinishedTrialError:
            self.log(f"trial {trial.number} was marked failed by another worker that judged this one dead")
            return outcome
        self.log(self._line(trial, outcome, reason, value))
        self.upkeep.after(trial.number)
        return outcome

    def _line(self, trial: optuna.Trial, outcome: str, reason: str, value: float | None) -> str:
        """One line per finished trial: number, seed, role, outcome, schedule, result, wall time."""
        study_seed = self.settings.base.seed
        mults = mults_text(record.known_mults(trial) or ())
        shown = f"val_loss {value:.4f}" if value is not None else reason
        wall = trial.user_attrs.get(record.WALL_S)
        took = f"  {wall:.1f} s" if wall is not None else ""
        where = f"seed {record.seed(trial, study_seed)}"
        role = record.role(trial, study_seed)
        return f"trial {trial.number:>4}  {where:<7} {role:<24} {outcome:<10} {mults:<30} {shown}{took}"

    def recover_dead_trials(self) -> None:
        """Mark trials of dead workers failed with the reason, and queue their schedules again."""
        now = time.time()
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            reason = dead_reason(trial, self.me, now)
            if reason is None:
                continue
            dead = self._id(trial.number)
            try:
                self.storage.set_trial_user_attr(dead, record.OUTCOME, "crashed")
                self.storage.set_trial_user_attr(dead, record.REASON, f"worker died: {reason}")
                self.storage.set_trial_state_values(dead, TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # another worker recovered it first
            self.log(f"trial {trial.number} failed: worker died ({reason}); its schedule is queued again")
            self._queue_again(trial, retry_of=trial.number)

    def _requeue_if_queued(self, trial: optuna.Trial) -> None:
        """Queue a queued trial (baseline, retry) again; a sampled one is left to the sampler."""
        if record.queued_mults(trial) is not None:
            self._queue_again(trial)

    def _queue_again(self, trial: FrozenTrial | optuna.Trial, retry_of: int | None = None) -> None:
        """Queue the trial's schedule at its seed again, unless it waits in the queue already."""
        mults = record.known_mults(trial)
        if mults is None:
            return  # stopped before its schedule was known: nothing to retry
        schedule = Schedule(budget=self.space.budget, mults=mults)
        seed = record.seed(trial, self.settings.base.seed)
        key = record.trial_key(schedule, seed)
        waiting = self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if not any(record.key(t) == key for t in waiting):
            attrs = record.queued_attrs(schedule, seed, baseline=record.baseline(trial), retry_of=retry_of)
            enqueue_schedule(self.study, self.space, schedule, attrs)
