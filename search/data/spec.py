"""Which text a run trains and validates on, and how it is tokenized."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field


class DataSpec(BaseModel):
    """Which text a run trains and validates on, and how it is tokenized."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    train: tuple[str, ...] = Field(min_length=1, description="training files, folders or globs")
    val: tuple[str, ...] = Field((), description="validation files; empty: a held-out share of train")
    text_field: str = Field("text", description="JSON field holding a document's text")
    tokenizer: str | None = Field(None, description="tokenizer.json to use; None: train a BPE")
    val_share: float = Field(0.01, gt=0, lt=1, description="held-out share when val is empty")

    def absolute(self) -> DataSpec:
        """This spec with its files, folders, glob patterns and tokenizer made absolute (``~``
        expanded), so that a run recorded from it reads the same files from any working folder."""
        return self.model_copy(
            update={
                "train": tuple(_absolute(p) for p in self.train),
                "val": tuple(_absolute(p) for p in self.val),
                "tokenizer": _absolute(self.tokenizer) if self.tokenizer is not None else None,
            }
        )


def _absolute(path: str) -> str:
    # abspath, not resolve(): a glob's wildcards stay as typed and symlinked folders stay named as given.
    return os.path.abspath(os.path.expanduser(path))
