"""A user objective for the plug-in test: distance of the schedule from a target, no training."""

from collections.abc import Callable

from search.training.run_config import RunConfig

TARGET = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)


def score(config: RunConfig, report: Callable[[int, float], None]) -> float:
    """Squared distance of the multipliers from TARGET, reported once halfway."""
    value = float(sum((m - t) ** 2 for m, t in zip(config.model.schedule.mults, TARGET, strict=True)))
    report(1, value)
    return value
