"""What a finished trial keeps: its figures and loss curve as attributes, two pictures as artifacts,
and (with ``--wandb``) a Weights & Biases run."""

from __future__ import annotations

import tempfile
from pathlib import Path

import optuna
from optuna.artifacts import FileSystemArtifactStore, upload_artifact

from search.study import record
from search.training.pictures import plot_loss_curve, plot_schedule
from search.training.run_config import RunConfig
from search.trials.objective import Evaluation
from search.trials.tracking import log_trial_to_wandb


def store_evaluation(
    trial: optuna.Trial,
    config: RunConfig,
    evaluation: Evaluation,
    artifacts: FileSystemArtifactStore | None,
    wandb_group: str | None,
) -> None:
    """Record ``evaluation`` on the trial; upload its pictures to ``artifacts`` and log it to wandb
    in ``wandb_group`` (the study's name), each when given."""
    trial.set_user_attr(record.VAL_LOSS, evaluation.value)
    for name, value in evaluation.attrs.items():
        if name != record.VAL_LOSS:
            trial.set_user_attr(name, value)
    if evaluation.loss_curve is not None:
        trial.set_user_attr(record.LOSS_CURVE, [round(v, 4) for v in evaluation.loss_curve])
    if artifacts is not None:
        _upload_pictures(trial, config, evaluation, artifacts)
    if wandb_group is not None:
        log_trial_to_wandb(wandb_group, trial.number, config, evaluation)


def _upload_pictures(
    trial: optuna.Trial, config: RunConfig, evaluation: Evaluation, artifacts: FileSystemArtifactStore
) -> None:
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
            pictures.append(
                plot_loss_curve(
                    evaluation.loss_curve,
                    config.tokens_per_step,
                    evaluation.checkpoints,
                    Path(folder) / f"loss-{trial.number}.png",
                )
            )
        for picture in pictures:
            upload_artifact(artifact_store=artifacts, file_path=str(picture), study_or_trial=trial)
