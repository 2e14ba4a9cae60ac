"""Human-friendly counts on the command line: 20M, 1.5B, 500k."""

from __future__ import annotations

_SUFFIXES = {"k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}


def parse_count(text: str) -> int:
    """``'20M'`` -> 20_000_000; ``'1.5B'`` -> 1_500_000_000; plain integers as they are."""
    cleaned = text.strip().replace("_", "").replace(",", "")
    scale = _SUFFIXES.get(cleaned[-1:].lower(), 1)
    number = cleaned[:-1] if scale != 1 else cleaned
    try:
        value = float(number) * scale
    except ValueError:
        raise ValueError(f"'{text}' is not a count (examples: 20M, 1.5B, 500000)") from None
    if value < 1 or value != int(value):
        raise ValueError(f"'{text}' must be a positive whole count")
    return int(value)
