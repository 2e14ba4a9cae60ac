"""From a data spec to tokens on disk, and the provenance a result records."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from model.presets import Preset, TrainSettings
from search.cache import TokenData, load_token_data
from search.config import DataSpec, Provenance, RunConfig
from search.corpus import resolve_inputs
from search.tokenizer import TokenizerHandle, resolve_tokenizer
from space.schedule import Schedule

_PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PreparedData:
    """Token arrays and the tokenizer that made them."""

    tokens: TokenData
    tokenizer: TokenizerHandle


def prepare_data(spec: DataSpec, vocab_size: int, progress: bool = True) -> PreparedData:
    """Resolve inputs, train or load the tokenizer, and build or reuse the token cache.

    Every input problem (missing files, corrupt data, a bad tokenizer) raises ValueError here,
    before any model is built.
    """
    train_paths = resolve_inputs(spec.train)
    val_paths = resolve_inputs(spec.val) if spec.val else None
    tokenizer = resolve_tokenizer(train_paths, vocab_size, spec.text_field, spec.tokenizer)
    tokens = load_token_data(train_paths, val_paths, tokenizer, spec.text_field, spec.val_share, progress)
    return PreparedData(tokens, tokenizer)


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


def train_changes(tokens: int | None, deterministic: bool) -> dict[str, object]:
    """Training settings a command line replaces: the token budget when given, deterministic
    kernels when asked for (a flag only turns them on)."""
    return {
        **({"tokens": tokens} if tokens is not None else {}),
        **({"deterministic": True} if deterministic else {}),
    }


def base_run_config(
    preset_name: str,
    preset: Preset,
    data: DataSpec,
    prepared: PreparedData | None,
    tokens: int | None,
    seed: int,
    schedule: Schedule | None = None,
    deterministic: bool = False,
) -> RunConfig:
    """A preset's run on (optionally prepared) data; the model's vocabulary follows a given
    tokenizer, and prepared data gives the run its provenance. ``tokens`` (when given) and
    ``deterministic`` (when set) replace the preset's training settings."""
    model = preset.model
    if data.tokenizer is not None and prepared is not None:
        model = model.replace(vocab_size=prepared.tokenizer.vocab_size)
    if schedule is not None:
        model = model.with_schedule(schedule)
    train = preset.train
    changes = train_changes(tokens, deterministic)
    if changes:
        train = TrainSettings.model_validate({**train.model_dump(), **changes})
    return RunConfig(
        preset=preset_name,
        model=model,
        train=train,
        data=data,
        seed=seed,
        params=model.params,
        provenance=provenance(prepared) if prepared is not None else None,
    )
