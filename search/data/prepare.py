"""From a data spec to tokens on disk: resolve the files, train or load the tokenizer, build the cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from search.data.corpus import resolve_inputs
from search.data.spec import DataSpec
from search.data.token_cache import TokenData, load_token_data, open_token_cache
from search.data.tokenizer import TokenizerHandle, resolve_tokenizer


@dataclass(frozen=True)
class PreparedData:
    """Token arrays and the tokenizer that made them."""

    tokens: TokenData
    tokenizer: TokenizerHandle


@dataclass(frozen=True)
class SentData:
    """Prepared data as a spawned process receives it: the token arrays go as their cache folder,
    since memory maps would be pickled as copies of the whole corpus."""

    tokenizer: TokenizerHandle
    token_cache: Path
    token_key: str

    @classmethod
    def of(cls, prepared: PreparedData) -> SentData:
        """What to send of ``prepared``."""
        return cls(prepared.tokenizer, prepared.tokens.path, prepared.tokens.key)

    def open(self) -> PreparedData:
        """The sender's token cache, mapped again in this process."""
        return PreparedData(open_token_cache(self.token_cache, self.token_key), self.tokenizer)


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
