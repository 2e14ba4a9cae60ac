"""How many times a run goes over its training split: several passes are allowed, and said."""

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
