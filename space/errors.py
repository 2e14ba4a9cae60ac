"""Readable messages for validation errors, and JSON files read with errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


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


def load_json_model(path: str | Path, model: type[Model], what: str) -> Model:
    """Read ``path`` as JSON and validate it as ``model``; every error names the file (``what``
    says which kind of file it is) and the field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{what} {path} does not exist") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{what} {path} is not valid JSON: {e}") from None
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ValueError(f"{what} {path}:\n{describe(e)}") from None
