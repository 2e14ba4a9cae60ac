"""Small text forms every rendering of the findings shares."""

from __future__ import annotations

from collections.abc import Sequence

from search.findings.stats import MeanDifference


def seed_range(seeds: Sequence[int]) -> str:
    """``0-4`` for consecutive seeds, else ``0, 2, 5``."""
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


def percent(share: float) -> str:
    """A share as a percentage to a tenth, the tenth left out when it is zero: ``95%``, ``97.5%``."""
    return f"{share:.1%}".replace(".0%", "%")


def interval_text(d: MeanDifference) -> str:
    """A difference's interval to four places, ``[-0.0192, -0.0030]``; only for one that has an
    interval (two or more pairs)."""
    return f"[{d.low:+.4f}, {d.high:+.4f}]"


def mults_text(mults: Sequence[int | float]) -> str:
    """Multipliers as users type them: ``8,4,4,4,3,3,3,3,4,4,4,4``."""
    return ",".join(map(str, mults))
