"""Human-friendly durations on the command line: 90s, 45m, 1.5h."""

from __future__ import annotations

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """``'45m'`` -> 2700.0; ``'1.5h'`` -> 5400.0; a plain number is seconds."""
    cleaned = text.strip().lower()
    scale = _UNITS.get(cleaned[-1:], 1.0) if cleaned else 1.0
    number = cleaned[:-1] if cleaned[-1:] in _UNITS else cleaned
    try:
        seconds = float(number) * scale
    except ValueError:
        raise ValueError(f"'{text}' is not a duration (examples: 90s, 45m, 1.5h)") from None
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"'{text}' must be a positive, finite duration")
    return seconds
