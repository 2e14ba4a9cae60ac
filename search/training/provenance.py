"""Where a result came from: the code's commit and version, the token cache and the tokenizer."""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from search.data.prepare import PreparedData

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Provenance(BaseModel):
    """Where a result came from: code, data and tokenizer identities."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    commit: str = Field(description="git commit of the code, with '-dirty' for uncommitted changes")
    data_hash: str = Field(description="key of the token cache (inputs, tokenizer, split)")
    tokenizer_sha256: str
    hourglass_version: str


def code_commit() -> str:
    """The project's git commit, '-dirty' when it has uncommitted changes, or 'unknown'."""
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def _git(*args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(_PROJECT_ROOT), *args], capture_output=True, text=True, check=True, timeout=10
    )
    return result.stdout.strip()


def provenance(prepared: PreparedData) -> Provenance:
    """Code commit, token cache key and tokenizer hash of a run on ``prepared`` data."""
    try:
        package_version = version("hourglass")
    except PackageNotFoundError:
        package_version = "unknown"
    return Provenance(
        commit=code_commit(),
        data_hash=prepared.tokens.key,
        tokenizer_sha256=prepared.tokenizer.sha256,
        hourglass_version=package_version,
    )
