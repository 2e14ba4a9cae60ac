"""What a finished trial keeps: its figures and loss curve as attributes, two pictures as artifacts,
and (with ``--wandb``) a Weights & Biases run."""

from __future__ import annotations

import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.artifacts import FileSystemArtifactStore, upload_artifact

from search.study import record
from search.training.pictures import plot_loss_curve, plot_schedule
from search.training.run_config import RunConfig
from search.trials.objective import Evaluation
from search.trials.tracking import log_trial_to_wandb


class TrialPictures:
    """A worker's trial pictures for the dashboard: a trial's schedule is drawn in a background
    thread while it trains (matplotlib's tenth of a second, and its import on the first trial, kept
    off the GPU's path), its loss curve once it has trained; both are uploaded before it is told."""

    def __init__(self, store: FileSystemArtifactStore) -> None:
        self.store = store
        self.folder = tempfile.TemporaryDirectory(prefix="hourglass-pictures-")
        self._drawing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trial-pictures")

    def start(self, number: int, config: RunConfig) -> PicturesUnderway:
        """Start drawing trial ``number``'s schedule."""
        schedule = config.model.schedule
        drawing = self._drawing.submit(
            plot_schedule,
            schedule.mults,
            Path(self.folder.name) / f"schedule-{number}.png",
            f"trial {number}: {schedule.key}",
            config.model.budget.total / config.model.n_layers,
        )
        return PicturesUnderway(self, drawing)

    def close(self) -> None:
        """Wait for a drawing under way, then remove the pictures never uploaded (trials that failed)."""
        self._drawing.shutdown(wait=True, cancel_futures=True)
        self.folder.cleanup()


@dataclass(frozen=True)
class PicturesUnderway:
    """One trial's pictures: its schedule's drawing under way, its loss curve drawn once it has trained."""

    pictures: TrialPictures
    schedule: Future[Path]

    def upload(self, trial: optuna.Trial, config: RunConfig, evaluation: Evaluation) -> None:
        """Upload the schedule picture (waiting for its drawing) and the loss curve."""
        drawn = [self.schedule.result()]
        if evaluation.loss_curve:
            path = Path(self.pictures.folder.name) / f"loss-{trial.number}.png"
            drawn.append(
                plot_loss_curve(evaluation.loss_curve, config.tokens_per_step, evaluation.checkpoints, path)
            )
        for picture in drawn:
            upload_artifact(artifact_store=self.pictures.store, file_path=str(picture), study_or_trial=trial)
            picture.unlink()


def store_evaluation(
    trial: optuna.Trial,
    config: RunConfig,
    evaluation: Evaluation,
    pictures: PicturesUnderway | None,
    wandb_group: str | None,
) -> None:
    """Record ``evaluation`` on the trial; upload its ``pictures`` and log it to wandb in
    ``wandb_group`` (the study's name), each when given."""
    trial.set_user_attr(record.VAL_LOSS, evaluation.value)
    for name, value in evaluation.attrs.items():
        if name != record.VAL_LOSS:
            trial.set_user_attr(name, value)
    if evaluation.loss_curve is not None:
        trial.set_user_attr(record.LOSS_CURVE, [round(v, 4) for v in evaluation.loss_curve])
    if pictures is not None:
        pictures.upload(trial, config, evaluation)
    if wandb_group is not None:
        log_trial_to_wandb(wandb_group, trial.number, config, evaluation)
