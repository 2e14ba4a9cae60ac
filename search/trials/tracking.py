"""Weights & Biases: one run per trial, grouped by study; offline when there is no login."""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from search.training.run_config import RunConfig
from search.trials.objective import Evaluation


def wandb_mode() -> str:
    """``WANDB_MODE`` if set; else online with a login (API key or netrc), offline without."""
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        logged_in = netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        logged_in = False
    return "online" if logged_in else "offline"


def log_trial_to_wandb(study: str, number: int, config: RunConfig, evaluation: Evaluation) -> Path:
    """Log a finished trial (config, per-step loss, checkpoints, summary); returns the run's folder.

    Logged after training, so the training loop never waits on wandb.
    """
    import wandb  # an optional dependency: only needed with --wandb

    run = wandb.init(
        project=os.environ.get("WANDB_PROJECT", "hourglass"),
        group=study,
        name=f"{study}-trial-{number}",
        config=config.model_dump(mode="json"),
        mode=wandb_mode(),  # type: ignore[arg-type]
        reinit="create_new",
    )
    by_step: dict[int, dict[str, float]] = {}
    for step, loss in enumerate(evaluation.loss_curve or [], start=1):
        by_step.setdefault(step, {})["train/loss"] = loss
    for checkpoint in evaluation.checkpoints:
        step = int(checkpoint["tokens"]) // config.tokens_per_step
        by_step.setdefault(step, {})["val/loss"] = checkpoint["val_loss"]
    for step in sorted(by_step):
        run.log(by_step[step], step=step)
    run.summary.update({"val_loss": evaluation.value, **evaluation.attrs})
    folder = Path(run.dir).parent
    run.finish()
    return folder
