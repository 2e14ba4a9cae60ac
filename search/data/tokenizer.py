"""The study's tokenizer: a byte-level BPE trained on the corpus once and cached, or a given tokenizer.json.

Whatever the tokenizer, the handle knows how many UTF-8 bytes each token stands for, so that a
validation loss can be reported in bits per byte, which compares across tokenizers:
``bits_per_byte = loss_nats / ln 2 * tokens / bytes``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

from search.data.cache_folder import cache_root, exclusive_lock
from search.data.corpus import hash_inputs, iter_documents

EOS_TOKEN = "<|endoftext|>"
DEFAULT_SAMPLE_CHARS = 4_000_000
# The BPE is trained on pieces this long, drawn from all over the corpus: many short pieces cover
# more documents (authors, topics) than a few whole books of the same size would.
_PIECE_CHARS = 4096
# Bump when training changes in a way that should not reuse tokenizers trained before.
_FORMAT = 1
# End-of-text-like special tokens of common tokenizers, most preferred first (Llama 3, Llama 2/T5, Gemma).
_EOS_PATTERNS = [re.compile(p, re.IGNORECASE) for p in (r"end.?of.?text", r"^</s>$", r"eos")]
_BYTE_FALLBACK = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")
_SPACE = re.compile(r"\s")


class TokenizerError(ValueError):
    """A tokenizer that cannot be loaded, trained or used as an LM tokenizer."""


@dataclass(frozen=True, eq=False)
class TokenizerHandle:
    """A loaded tokenizer with what the token cache and the trainer need to know about it."""

    tokenizer: Tokenizer
    path: Path
    sha256: str
    vocab_size: int
    eos_id: int
    token_bytes: np.ndarray

    def count_bytes(self, tokens: np.ndarray) -> int:
        """UTF-8 bytes of the text that ``tokens`` stand for (0 for special tokens)."""
        return int(self.token_bytes[tokens].sum(dtype=np.int64))


def _find_eos(tokenizer: Tokenizer, path: Path) -> int:
    """The id of ``<|endoftext|>``, else of the tokenizer's end-of-text-like special token."""
    eos = tokenizer.token_to_id(EOS_TOKEN)
    if eos is not None:
        return eos
    specials = {t.content: i for i, t in sorted(tokenizer.get_added_tokens_decoder().items()) if t.special}
    for pattern in _EOS_PATTERNS:
        for content, token_id in specials.items():
            if pattern.search(content):
                return token_id
    listed = ", ".join(specials) or "none"
    raise TokenizerError(
        f"{path} has no end-of-text token to separate documents ({EOS_TOKEN}, </s>, <eos>, ...); "
        f"its special tokens: {listed}"
    )


def _decoded_lengths(tokenizer: Tokenizer, ids: list[int]) -> list[int]:
    texts = tokenizer.decode_batch([[i] for i in ids], skip_special_tokens=False)
    return [len(t.encode("utf-8")) for t in texts]


def token_byte_lengths(tokenizer: Tokenizer) -> np.ndarray:
    """UTF-8 bytes each token id stands for: exact for byte-level BPE, 0 for special tokens.

    Byte-level tokens spell bytes in the ByteLevel alphabet, one character per byte; other
    tokenizers are measured by decoding each token alone (which can be off by a byte where a
    decoder drops a leading space).
    """
    config = json.loads(tokenizer.to_str())
    byte_level = (config.get("decoder") or {}).get("type") == "ByteLevel"
    byte_fallback = bool((config.get("model") or {}).get("byte_fallback"))
    alphabet = set(pre_tokenizers.ByteLevel.alphabet())
    added = tokenizer.get_added_tokens_decoder()
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    lengths = np.zeros(max(vocab.values()) + 1, dtype=np.int32)
    to_decode = []
    for token, token_id in vocab.items():
        if token_id in added:
            if not added[token_id].special:
                to_decode.append(token_id)
        elif byte_level and alphabet.issuperset(token):
            lengths[token_id] = len(token)
        elif byte_fallback and _BYTE_FALLBACK.match(token):
            lengths[token_id] = 1
        else:
            to_decode.append(token_id)
    if to_decode:
        lengths[to_decode] = _decoded_lengths(tokenizer, to_decode)
    lengths.setflags(write=False)
    return lengths


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def load_tokenizer(path: str | Path) -> TokenizerHandle:
    """Load a tokenizers JSON file (``tokenizer.json``) as it is.

    Raises TokenizerError for a missing file, a file that is not a tokenizers JSON, or a tokenizer
    without an end-of-text token.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise TokenizerError(f"{path} is a folder; give the tokenizer.json file itself")
    if not path.is_file():
        raise TokenizerError(f"{path}: no such tokenizer file")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as e:  # tokenizers raises plain Exception for every parse failure
        raise TokenizerError(f"{path} is not a tokenizers JSON file (a tokenizer.json): {e}") from None
    return TokenizerHandle(
        tokenizer=tokenizer,
        path=path.resolve(),
        sha256=_file_sha256(path),
        vocab_size=tokenizer.get_vocab_size(with_added_tokens=True),
        eos_id=_find_eos(tokenizer, path),
        token_bytes=token_byte_lengths(tokenizer),
    )


def _next_space(text: str, pos: int) -> int:
    match = _SPACE.search(text, pos)
    return match.start() if match else len(text)


def _piece(text: str, start: int) -> str:
    """The piece of ``text`` from about ``start``, cut at whitespace so that no word is split."""
    lo = 0 if start == 0 else _next_space(text, start)
    return text[lo : _next_space(text, start + _PIECE_CHARS)]


def sample_pieces(paths: Sequence[Path], text_field: str, sample_chars: int) -> list[str]:
    """About ``sample_chars`` of text in pieces drawn uniformly from all of the documents of ``paths``.

    Reservoir sampling with a fixed seed: one streamed pass, the same sample every time, and every
    file (not only the first) contributes in proportion to its size.
    """
    slots = max(1, sample_chars // _PIECE_CHARS)
    rng = random.Random(0)
    reservoir: list[str] = []
    seen = 0
    for document in iter_documents(paths, text_field):
        for start in range(0, len(document), _PIECE_CHARS):
            slot = seen if seen < slots else rng.randrange(seen + 1)
            seen += 1
            if slot == len(reservoir):
                reservoir.append(_piece(document, start))
            elif slot < slots:
                reservoir[slot] = _piece(document, start)
    return reservoir


def train_bpe(pieces: Sequence[str], vocab_size: int) -> Tokenizer:
    """A byte-level BPE (GPT-2 style, no prefix space) of ``vocab_size`` tokens with ``<|endoftext|>``."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[AddedToken(EOS_TOKEN, special=True)],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(pieces, trainer, length=len(pieces))
    return tokenizer


def _train_and_save(pieces: Sequence[str], n_files: int, vocab_size: int, target: Path) -> None:
    """Train the BPE on ``pieces`` and write it to ``target`` atomically (a reader never sees half
    a file)."""
    began = time.perf_counter()
    sampled = sum(map(len, pieces))
    print(
        f"training a {vocab_size}-token byte-level BPE on {sampled / 1e6:.1f} MB sampled from "
        f"{n_files} file(s) (once; cached as {target})",
        file=sys.stderr,
        flush=True,
    )
    tokenizer = train_bpe(pieces, vocab_size)
    if tokenizer.get_vocab_size() < vocab_size:
        print(
            f"note: the sample holds only {tokenizer.get_vocab_size()} distinct tokens "
            f"(asked for {vocab_size}); the tokenizer is that size",
            file=sys.stderr,
        )
    temporary = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    tokenizer.save(str(temporary))
    os.replace(temporary, target)
    print(f"tokenizer trained in {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)


def _cache_key(paths: Sequence[Path], vocab_size: int, text_field: str, sample_chars: int) -> str:
    settings = {
        "format": _FORMAT,
        "inputs": hash_inputs(paths),
        "vocab_size": vocab_size,
        "text_field": text_field,
        "sample_chars": sample_chars,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:32]


def resolve_tokenizer(
    train_paths: Sequence[Path],
    vocab_size: int,
    text_field: str = "text",
    tokenizer_path: str | None = None,
    *,
    sample_chars: int = DEFAULT_SAMPLE_CHARS,
) -> TokenizerHandle:
    """The study's tokenizer: ``tokenizer_path`` loaded as is, or a byte-level BPE of the training data.

    The BPE has ``vocab_size`` tokens (fewer if the sample cannot fill them) and is trained once on
    about ``sample_chars`` characters sampled over all of ``train_paths``, then reused from
    ``cache_root()/tokenizers/``; processes that start together train it once between them.
    ``vocab_size`` is ignored for a given tokenizer file.
    """
    if tokenizer_path is not None:
        return load_tokenizer(tokenizer_path)
    if not train_paths:
        raise TokenizerError("no training files to train the tokenizer on")
    if vocab_size < 257:
        raise TokenizerError(f"vocab_size {vocab_size} is too small: a byte-level BPE needs 256 bytes + 1")
    folder = cache_root() / "tokenizers"
    key = _cache_key(train_paths, vocab_size, text_field, sample_chars)
    target = folder / f"{key}.json"
    if not target.exists():
        # Sampling reads every document, so bad data is refused here, before the cache's folder and
        # lock exist: a refused first run leaves nothing behind.
        pieces = sample_pieces(train_paths, text_field, sample_chars)
        with exclusive_lock(folder / f"{key}.lock", f"waiting for another process to train {target}"):
            # The process that held the lock before may have trained it while this one waited.
            if not target.exists():
                for stale in folder.glob(f"{key}.json.tmp-*"):
                    stale.unlink()  # left by a process that died while saving; no one else writes now
                _train_and_save(pieces, len(train_paths), vocab_size, target)
    return load_tokenizer(target)
