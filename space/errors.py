"""Readable one-line messages for validation errors."""

from __future__ import annotations

from pydantic import ValidationError


def describe(error: ValidationError | ValueError) -> str:
    """One line per problem, each naming where it is, without pydantic's boilerplate."""
    if not isinstance(error, ValidationError):
        return str(error)
    lines = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in problem["loc"])
        lines.append(f"{where}: {message}" if where else message)
    return "\n".join(lines)
