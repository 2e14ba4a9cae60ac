"""Where a result came from: the code's commit and version, the token cache and the tokenizer."""

from __future__ import annotations

import os
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from search.data.prepare import PreparedData

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Provenance(BaseModel):
    """Where a result came from: code, data and tokenizer identities."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    commit: str = Field(
        description="git commit of the code, with '-dirty' for uncommitted changes or untracked files, "
        "or 'unknown' when the project is not the top level of its own git work tree"
    )
    data_hash: str = Field(description="key of the token cache (inputs, tokenizer, split)")
    tokenizer_sha256: str
    hourglass_version: str


def code_commit(root: Path = _PROJECT_ROOT) -> str:
    """The commit of the project at ``root``, with '-dirty' when it has uncommitted changes or
    untracked files (ignored ones aside), or 'unknown'.

    'unknown' also when ``root`` is not the top level of its git work tree: a project installed or
    copied inside another repository would otherwise record that repository's commit.
    """
    try:
        top = _git(root, "rev-parse", "--show-toplevel")
        if Path(top).resolve() != root.resolve():
            return "unknown"
        commit = _git(root, "rev-parse", "HEAD")
        dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=all"))
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def _git(root: Path, *args: str) -> str:
    # A caller's GIT_DIR or GIT_WORK_TREE (a git hook sets them) would point git at another repository.
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")}
    result = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=10, env=env
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
