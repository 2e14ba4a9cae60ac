"""How a run's token budget meets its data: whole steps, passes over the training split, and
splits long enough to train and validate on."""

from __future__ import annotations

from search.training.run_config import RunConfig


def data_passes(run: RunConfig, train_tokens: int) -> float:
    """Windows ``run`` trains on over the windows its training split of ``train_tokens`` holds
    (every window is one context of inputs; a pass shuffles them all once)."""
    windows = max(1, (train_tokens - 1) // run.model.context)
    return run.steps * run.train.batch_size / windows


def passes_note(run: RunConfig, train_tokens: int) -> str | None:
    """A line saying how often ``run`` repeats its data, when it trains past the end of it."""
    passes = data_passes(run, train_tokens)
    if passes <= 1:
        return None
    trained = run.steps * run.tokens_per_step
    return (
        f"note: {trained:,} training tokens are {passes:.2f} passes over the training split, which "
        f"holds {train_tokens:,} unique tokens: each is seen about {passes:.1f} times"
    )


def check_budget(run: RunConfig) -> None:
    """Refuse a token budget below one optimizer step (it would train one step all the same)."""
    if run.train.tokens < run.tokens_per_step:
        raise ValueError(
            f"a token budget of {run.train.tokens:,} is less than one step of {run.tokens_per_step:,} tokens "
            f"(batch {run.train.batch_size} x context {run.model.context})"
        )


def rounding_note(run: RunConfig) -> str | None:
    """A line saying how many tokens ``run`` trains, when whole steps make it fewer than asked."""
    trained = run.steps * run.tokens_per_step
    if trained == run.train.tokens:
        return None
    return (
        f"note: trains {trained:,} tokens ({run.steps:,} steps of {run.tokens_per_step:,}), "
        f"not the {run.train.tokens:,} asked"
    )


def check_splits(run: RunConfig, train_tokens: int, val_tokens: int) -> None:
    """Refuse splits too short for ``run``: no training window of one context, or fewer validation
    tokens than its fixed validation set needs."""
    context = run.model.context
    if train_tokens < context + 1:
        raise ValueError(
            f"the training split holds {train_tokens:,} tokens, fewer than one window of context "
            f"{context} + 1: give more training text"
        )
    needed = (run.train.val_tokens // context) * context + 1
    if val_tokens < needed:
        raise ValueError(
            f"the validation split holds {val_tokens:,} tokens, but a validation set of "
            f"{run.train.val_tokens:,} tokens at context {context} needs {needed:,}: give more "
            "validation text (--val-data) or a larger held-out share"
        )
