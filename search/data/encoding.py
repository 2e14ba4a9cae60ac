"""Text to token ids, fast: documents in batches that keep every core busy, long ones cut where
cutting cannot change their tokens, each document followed by the end-of-text token."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from search.data.tokenizer import TokenizerHandle

# Text handed to the tokenizer per encode_batch call: enough to keep every core busy, while the
# tokenizer's per-token objects for it stay in the low hundreds of MB.
_BATCH_CHARS = 4 << 20
# Long documents (whole books) are cut into pieces about this long so that one book does not keep a
# single core busy while the others idle; see _cut.
_PIECE_CHARS = 1 << 16
# A space between two ASCII letters: with a GPT-2 style pre-tokenizer a word and its leading space
# are always one pre-token, so cutting the text right there does not change its tokens.
_CUT = re.compile(r"(?<=[A-Za-z]) (?=[A-Za-z])")


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


def _splits_exactly(tok: TokenizerHandle) -> bool:
    """Whether cutting text at ``_CUT`` leaves its tokens unchanged for this tokenizer.

    True for GPT-2 style byte-level pre-tokenization without a normalizer (the default BPE is one).
    Others (a prefix space added to every text, Metaspace, normalizers) would see a cut.
    """
    config = json.loads(tok.tokenizer.to_str())
    pre = config.get("pre_tokenizer") or {}
    return (
        config.get("normalizer") is None
        and pre.get("type") == "ByteLevel"
        and pre.get("use_regex", True)
        and not pre.get("add_prefix_space", False)
        and all(" " not in t["content"] for t in config.get("added_tokens", []))
    )


def _cut(text: str) -> list[str]:
    """``text`` in pieces of at least ``_PIECE_CHARS`` characters, each cut before a space between letters."""
    pieces, start = [], 0
    while len(text) - start > 2 * _PIECE_CHARS:
        match = _CUT.search(text, start + _PIECE_CHARS)
        if match is None:
            break
        pieces.append(text[start : match.start()])
        start = match.start()
    pieces.append(text[start:])
    return pieces


class Encoder:
    """Encodes batches of documents into token ids, each document followed by the end-of-text token."""

    def __init__(self, tok: TokenizerHandle) -> None:
        self.dtype = token_dtype(tok.vocab_size)
        self.split = _splits_exactly(tok)
        self.eos = np.array([tok.eos_id], dtype=self.dtype)
        # encode_batch_fast (tokenizers >= 0.20) skips computing character offsets, which are not used.
        self.encode = getattr(tok.tokenizer, "encode_batch_fast", tok.tokenizer.encode_batch)

    def __call__(self, documents: Sequence[str]) -> list[np.ndarray]:
        counts, pieces = [], []
        for document in documents:
            parts = _cut(document) if self.split else [document]
            counts.append(len(parts))
            pieces += parts
        # encode_batch runs on all cores (Rust threads); the pieces keep them evenly loaded.
        encodings = iter(self.encode(pieces, add_special_tokens=False))
        tokens = []
        for count in counts:
            parts = [np.array(next(encodings).ids, dtype=self.dtype) for _ in range(count)]
            tokens.append(np.concatenate([*parts, self.eos]))
        return tokens


def document_batches(documents: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    chars = 0
    for document in documents:
        batch.append(document)
        chars += len(document)
        if chars >= _BATCH_CHARS:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch
