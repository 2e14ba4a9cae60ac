"""The token cache: a corpus tokenized once into flat memmapped arrays that every trial of a study reads.

One cache folder per (inputs' content, validation inputs, tokenizer, text field, validation share,
format), under ``cache_root()/tokens/<key>/``: ``train.bin`` and ``val.bin`` (token ids, documents
separated by the end-of-text token) and ``meta.json``. It is built by one process while any others
that start at the same time wait, streamed (never the whole corpus in memory), and atomic: it is
built in a temporary folder and renamed into place, so a crash never leaves half a cache behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from tqdm import tqdm

from search.data.cache_folder import cache_root, exclusive_lock
from search.data.corpus import CorpusError, hash_inputs, iter_documents
from search.data.encoding import Encoder, document_batches
from search.data.tokenizer import TokenizerHandle

# Bump when the layout or content of a cache changes, so that older caches are not reused.
FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class TokenData:
    """A token cache opened for reading: both splits as read-only memmaps and what was built."""

    train: np.ndarray
    val: np.ndarray
    key: str
    meta: dict[str, Any]
    built: bool
    path: Path


def token_cache_key(
    train_paths: Sequence[Path],
    val_paths: Sequence[Path] | None,
    tok: TokenizerHandle,
    text_field: str,
    val_share: float,
) -> str:
    """The cache key: a hash of everything the cached tokens depend on."""
    settings = {
        "format": FORMAT_VERSION,
        "train": hash_inputs(train_paths),
        "val": hash_inputs(val_paths) if val_paths else None,
        "tokenizer": tok.sha256,
        "text_field": text_field,
        # The share only matters when the validation split is held out of the training files.
        "val_share": None if val_paths else val_share,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:32]


class _SplitWriter:
    """Appends one split's tokens to its .bin file and counts what went in, for meta.json."""

    def __init__(self, path: Path, files: Sequence[Path]) -> None:
        self.file: IO[bytes] = path.open("wb")
        self.files = [str(p) for p in files]
        self.documents = self.bytes = self.tokens = 0

    def write(self, chunks: list[np.ndarray], n_bytes: int) -> None:
        if chunks:
            joined = np.concatenate(chunks)
            self.file.write(joined.tobytes())
            self.documents += len(chunks)
            self.tokens += len(joined)
            self.bytes += n_bytes

    def close(self) -> None:
        """Flush to disk before the folder is renamed into place, so a power cut cannot empty it."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()

    def summary(self) -> dict[str, Any]:
        return {"documents": self.documents, "bytes": self.bytes, "tokens": self.tokens, "files": self.files}


def _held_out_router(
    val_share: float, train: _SplitWriter, val: _SplitWriter
) -> Callable[[bytes], _SplitWriter]:
    """Sends a document (its UTF-8 bytes) to validation when :func:`_held_out` says so."""

    def route(data: bytes) -> _SplitWriter:
        return val if _held_out(data, val_share) else train

    return route


def _held_out(data: bytes, val_share: float) -> bool:
    """Whether a document (its UTF-8 bytes) is held out for validation: a hash of its text falls in
    ``val_share``, the same choice on every machine, identical documents always in the same split."""
    digest = hashlib.blake2b(data, digest_size=8).digest()
    return int.from_bytes(digest, "little") < int(val_share * 2**64)


def _tokenize(
    documents: Iterable[str],
    route: Callable[[bytes], _SplitWriter],
    encoder: Encoder,
    bar: tqdm,
) -> None:
    """Encode ``documents`` batch by batch and append each one's tokens to the split ``route`` picks."""
    for batch in document_batches(documents):
        raw = [d.encode("utf-8") for d in batch]
        pending: dict[_SplitWriter, list[tuple[np.ndarray, int]]] = {}
        for data, ids in zip(raw, encoder(batch), strict=True):
            pending.setdefault(route(data), []).append((ids, len(data)))
        for writer, items in pending.items():
            writer.write([ids for ids, _ in items], sum(size for _, size in items))
        bar.update(sum(map(len, raw)))


def _check_documents(
    train_paths: Sequence[Path], val_paths: Sequence[Path] | None, text_field: str, val_share: float
) -> None:
    """Read every document once: bad data, and a held-out share that leaves a split empty (a tiny
    corpus or share can), are refused before the cache's folder and lock exist (about 1 s for
    130 MB), so a refused first run leaves nothing behind."""
    held_out = kept = 0
    for document in iter_documents(train_paths, text_field):
        if not val_paths and _held_out(document.encode("utf-8"), val_share):
            held_out += 1
        else:
            kept += 1
    if val_paths:
        for _ in iter_documents(val_paths, text_field):
            pass
    else:
        _check_held_out(kept, held_out, val_share)


def _check_held_out(train_documents: int, val_documents: int, val_share: float) -> None:
    """Both splits of a held-out share must hold documents (a tiny corpus or share can leave one empty)."""
    total = train_documents + val_documents
    if val_documents == 0:
        raise CorpusError(
            f"the held-out validation share {val_share} picked none of the {total} training documents; "
            "raise val_share or give validation files"
        )
    if train_documents == 0:
        raise CorpusError(
            f"all {total} documents fell in the held-out validation share {val_share}; "
            "lower val_share or give validation files"
        )


def _write_cache(
    folder: Path,
    train_paths: Sequence[Path],
    val_paths: Sequence[Path] | None,
    tok: TokenizerHandle,
    text_field: str,
    val_share: float,
    progress: bool,
) -> dict[str, Any]:
    """Tokenize the corpus into ``folder`` (train.bin, val.bin, meta.json); returns the meta."""
    began = time.perf_counter()
    encoder = Encoder(tok)
    train = _SplitWriter(folder / "train.bin", train_paths)
    val = _SplitWriter(folder / "val.bin", val_paths or train_paths)
    with tqdm(desc="tokenizing", unit="B", unit_scale=True, disable=not progress, file=sys.stderr) as bar:
        try:
            if val_paths:
                _tokenize(iter_documents(train_paths, text_field), lambda _: train, encoder, bar)
                _tokenize(iter_documents(val_paths, text_field), lambda _: val, encoder, bar)
            else:
                route = _held_out_router(val_share, train, val)
                _tokenize(iter_documents(train_paths, text_field), route, encoder, bar)
        finally:
            train.close()
            val.close()
    seconds = time.perf_counter() - began
    raw_bytes, tokens = train.bytes + val.bytes, train.tokens + val.tokens
    meta = {
        "format": FORMAT_VERSION,
        "dtype": encoder.dtype.name,
        "tokenizer": {"path": str(tok.path), "sha256": tok.sha256, "vocab_size": tok.vocab_size},
        "eos_id": tok.eos_id,
        "text_field": text_field,
        "val_source": "files" if val_paths else "held-out share",
        "val_share": None if val_paths else val_share,
        "train": train.summary(),
        "val": val.summary(),
        "build_seconds": round(seconds, 3),
        "mb_per_s": round(raw_bytes / 1e6 / seconds, 3),
        "tokens_per_s": round(tokens / seconds),
        "bytes_per_token": round(raw_bytes / tokens, 4),
        "cores": len(os.sched_getaffinity(0)),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with (folder / "meta.json").open("w") as f:
        json.dump(meta, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    return meta


def _remove_stale(root: Path, key: str) -> None:
    """Remove what builds of ``key`` that died left behind: the caller holds the key's lock, so no
    living process is writing it. (A cache folder without meta.json can only have been made by hand.)"""
    leftovers = list(root.glob(f"{key}.tmp-*"))
    if (root / key).exists():
        leftovers.append(root / key)
    for stale in leftovers:
        print(f"removing {stale}, left by a build that stopped", file=sys.stderr, flush=True)
        shutil.rmtree(stale)


def _build(root: Path, key: str, write: Callable[[Path], object]) -> None:
    """Build the cache with ``write`` in a temporary folder beside its place, then rename it into place."""
    temporary = root / f"{key}.tmp-{os.getpid()}"
    temporary.mkdir(parents=True)
    try:
        write(temporary)
        os.rename(temporary, root / key)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    # The rename itself must reach the disk before anyone relies on it.
    directory = os.open(root, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _is_complete(folder: Path) -> bool:
    return (folder / "meta.json").is_file()


def open_token_cache(folder: Path, key: str, built: bool = False) -> TokenData:
    """Map the complete token cache in ``folder`` (stored under ``key``) for reading."""
    meta = json.loads((folder / "meta.json").read_text())
    dtype = np.dtype(meta["dtype"])
    return TokenData(
        train=np.memmap(folder / "train.bin", dtype=dtype, mode="r"),
        val=np.memmap(folder / "val.bin", dtype=dtype, mode="r"),
        key=key,
        meta=meta,
        built=built,
        path=folder,
    )


def _check_inputs(train_paths: Sequence[Path], val_paths: Sequence[Path] | None, val_share: float) -> None:
    if not train_paths:
        raise CorpusError("no training files given")
    if val_paths:
        both = sorted(set(map(Path, train_paths)) & set(map(Path, val_paths)))
        if both:
            raise CorpusError(f"{both[0]} is both a training and a validation file")
    elif not 0 < val_share < 1:
        raise ValueError(f"val_share must be between 0 and 1 (exclusive), not {val_share}")


def load_token_data(
    train_paths: Sequence[Path],
    val_paths: Sequence[Path] | None,
    tok: TokenizerHandle,
    text_field: str = "text",
    val_share: float = 0.01,
    progress: bool = True,
) -> TokenData:
    """The tokenized corpus, built on the first call and reused (``built`` False) after.

    The validation split is ``val_paths`` when given, else the whole documents of ``train_paths``
    whose text hashes into the ``val_share`` fraction. Several processes may call this at once: one
    builds while the others wait (saying so in one line) and then reuse its cache. ``progress``
    shows a bar of raw text tokenized (MB/s).
    """
    _check_inputs(train_paths, val_paths, val_share)
    key = token_cache_key(train_paths, val_paths, tok, text_field, val_share)
    root = cache_root() / "tokens"
    folder = root / key
    built = False
    if not _is_complete(folder):
        _check_documents(train_paths, val_paths, text_field, val_share)
        waiting = f"waiting for another process to build the token cache {folder}"
        with exclusive_lock(root / f"{key}.lock", waiting):
            # Whoever held the lock before may have built it while this process waited.
            if not _is_complete(folder):
                _remove_stale(root, key)
                _build(
                    root,
                    key,
                    lambda temporary: _write_cache(
                        temporary, train_paths, val_paths, tok, text_field, val_share, progress
                    ),
                )
                built = True
    return open_token_cache(folder, key, built)
