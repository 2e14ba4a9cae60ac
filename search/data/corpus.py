"""Corpus files: which ones an input spec names, the documents they hold, and a hash of their content.

Supported: ``.jsonl`` (one JSON object per line; a text field is the document) and ``.txt`` (one
document per blank-line-separated block), each plain or compressed as ``.zst``/``.zstd`` or ``.gz``.
Everything streams: no file is ever held in memory whole, and every problem stops with a
``CorpusError`` that names the file and the line.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import json
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

import zstandard

FORMATS = (".jsonl", ".txt")
COMPRESSIONS = {".zst": "zstd", ".zstd": "zstd", ".gz": "gzip"}
_GLOB_CHARS = re.compile(r"[*?\[]")
_CHUNK = 1 << 20
_FORMATS_HELP = (
    '.jsonl (one JSON object a line, its "text" field the document) or .txt (documents separated by '
    "blank lines), plain or compressed as .zst, .zstd or .gz"
)
# File name parts that say a file holds held-out text: "val-00000.jsonl.zst", "test.txt", "dev_set.jsonl".
_HELD_OUT_PARTS = frozenset({"val", "valid", "validation", "test", "dev", "eval"})
_NAME_PART = re.compile(r"[a-z0-9]+")
_NAMED_AT_MOST = 3


class CorpusError(ValueError):
    """A corpus input that cannot be used as given; the message names the file and line."""


def split_suffix(path: Path) -> tuple[str, str | None] | None:
    """(format, compression) of a corpus file from its name, e.g. ('.jsonl', 'zstd'); None if unsupported."""
    name = path.name.lower()
    compression = None
    for suffix, method in COMPRESSIONS.items():
        if name.endswith(suffix):
            name, compression = name.removesuffix(suffix), method
            break
    fmt = next((f for f in FORMATS if name.endswith(f)), None)
    return None if fmt is None else (fmt, compression)


def _supported_in(folder: Path) -> list[Path]:
    """Supported files below ``folder``, skipping hidden files and folders (editor and VCS clutter)."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(root, f) for f in files if not f.startswith(".") and split_suffix(Path(f))]
    return found


def _expand_glob(spec: str) -> list[Path]:
    matches = [Path(m) for m in glob.glob(os.path.expanduser(spec), recursive=True)]
    if not matches:
        raise CorpusError(f"{spec}: the pattern matches no files")
    found = [p for p in matches if p.is_file() and split_suffix(p)]
    for folder in (p for p in matches if p.is_dir()):
        found += _supported_in(folder)
    if not found:
        raise CorpusError(
            f"{spec}: the pattern matches {len(matches)} paths but no supported corpus files "
            f"({_supported_names()})"
        )
    return found


def _expand_one(spec: str) -> list[Path]:
    if _GLOB_CHARS.search(spec):
        return _expand_glob(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        found = _supported_in(path)
        if not found:
            raise CorpusError(f"{spec}: the folder holds no supported corpus files ({_supported_names()})")
        return found
    if not path.exists():
        given = "" if os.path.abspath(path) == spec else f" (given as {spec})"
        raise CorpusError(
            f"{os.path.abspath(path)}: no such file or folder{given}. Corpus inputs are files, folders or "
            f"globs of {_FORMATS_HELP}; e.g. data/ or 'data/*.jsonl.zst'"
        )
    if split_suffix(path) is None:
        raise CorpusError(f"{spec}: unsupported file type (supported: {_supported_names()})")
    return [path]


def _supported_names() -> str:
    return ", ".join([*FORMATS, *(f + c for f in FORMATS for c in COMPRESSIONS)])


def resolve_inputs(specs: Sequence[str]) -> list[Path]:
    """The corpus files named by ``specs`` (files, folders searched recursively, or globs).

    Returns absolute paths, sorted and without duplicates. Raises CorpusError for a path that does
    not exist, a pattern matching nothing, a folder without supported files or an unsupported file.
    """
    if not specs:
        raise CorpusError("no corpus inputs given")
    found = {Path(os.path.abspath(p)) for spec in specs for p in _expand_one(str(spec))}
    return sorted(found)


def split_name_warnings(train_paths: Sequence[Path]) -> list[str]:
    """A warning when training files are named like a validation or test split, else nothing.

    A name part (between dots, dashes, underscores) such as ``val``, ``valid``, ``validation``,
    ``test``, ``dev`` or ``eval`` counts: ``data/`` holding ``train-*`` and ``val-*`` shards, given as
    training data, would otherwise train on the held-out text. Only file names are read, not folders
    (``/home/dev/`` says nothing about a split). Returns the lines for the caller to print.
    """
    named = [p for p in train_paths if _HELD_OUT_PARTS & set(_NAME_PART.findall(Path(p).name.lower()))]
    if not named:
        return []
    listed = ", ".join(str(p) for p in named[:_NAMED_AT_MOST])
    more = f" and {len(named) - _NAMED_AT_MOST} more" if len(named) > _NAMED_AT_MOST else ""
    files = "file is" if len(named) == 1 else "files are"
    return [
        f"warning: {len(named)} training {files} named like a validation or test split: {listed}{more}; "
        "held-out text belongs in the validation data (--val-data), not in the training data"
    ]


class _ZstdReader(io.RawIOBase):
    """Decompressed bytes of a zstd file, one frame after another.

    ``ZstdDecompressor().stream_reader`` ends quietly when a file is cut short, which would train on
    half a shard; a decompression object says whether its frame ended, so truncation is caught.
    """

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._frame = self._dctx.decompressobj()
        self._in_frame = False
        self._frames = 0
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            if not self._decompress_chunk():
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _decompress_chunk(self) -> bool:
        """Decompress the next compressed chunk into the pending bytes; False at a clean end of file."""
        chunk = self._raw.read(_CHUNK)
        if not chunk:
            if self._in_frame or self._frames == 0:
                raise zstandard.ZstdError("the data ends inside a frame")
            return False
        out = []
        while chunk:
            out.append(self._frame.decompress(chunk))
            self._in_frame = True
            if not self._frame.eof:
                break
            # A file may hold several frames (concatenated shards, pzstd output).
            self._frames += 1
            chunk = self._frame.unused_data
            self._frame, self._in_frame = self._dctx.decompressobj(), False
        self._pending = memoryview(b"".join(out))
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()


def _is_unicode(text: str) -> bool:
    """False when ``text`` holds surrogates: bytes that were not UTF-8 (read with surrogateescape) or
    unpaired JSON escapes such as ``\\ud83d``. Neither can be encoded, so neither can be tokenized."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _open_text(path: Path, compression: str | None) -> TextIO:
    """``path`` as a text stream of lines, decompressed on the fly."""
    binary: BinaryIO
    if compression == "zstd":
        binary = io.BufferedReader(_ZstdReader(path.open("rb")), buffer_size=_CHUNK)
    elif compression == "gzip":
        binary = gzip.open(path, "rb")  # noqa: SIM115 - the returned text stream owns and closes it
    else:
        binary = path.open("rb")
    # Bytes that are not UTF-8 are read as surrogates (surrogateescape) so that each line can be
    # checked on its own: a strict decoder fails per 8 KiB chunk and could not name the line.
    # utf-8-sig: a byte-order mark that some editors write would otherwise break the first JSON line.
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape")


def _jsonl_documents(path: Path, lines: Iterator[tuple[int, str]], text_field: str) -> Iterator[str]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line.rstrip("\n"))
        except json.JSONDecodeError as e:
            problem = e.msg.removesuffix(" at").removesuffix(" starting")
            raise CorpusError(
                f"{path} line {number}: not valid JSON: {problem} at column {e.colno}"
            ) from None
        if not isinstance(record, dict):
            raise CorpusError(f"{path} line {number}: not a JSON object but {type(record).__name__}")
        if text_field not in record:
            fields = ", ".join(record) or "none"
            raise CorpusError(f"{path} line {number}: no '{text_field}' field (fields: {fields})")
        text = record[text_field]
        if not isinstance(text, str):
            kind = "null" if text is None else type(text).__name__
            raise CorpusError(f"{path} line {number}: the '{text_field}' field is {kind}, not a string")
        if not _is_unicode(text):
            raise CorpusError(
                f"{path} line {number}: the '{text_field}' field holds an unpaired surrogate escape "
                "(not valid Unicode)"
            )
        if text:
            yield text


def _txt_documents(lines: Iterator[tuple[int, str]]) -> Iterator[str]:
    block: list[str] = []
    for _, line in lines:
        if line.strip():
            block.append(line)
        elif block:
            yield "".join(block).rstrip("\n")
            block = []
    if block:
        yield "".join(block).rstrip("\n")


def _decompression_errors(compression: str | None) -> tuple[type[BaseException], ...]:
    if compression == "zstd":
        return (zstandard.ZstdError,)
    if compression == "gzip":
        return (EOFError, gzip.BadGzipFile, zlib.error)
    return ()


class _Lines:
    """Numbered lines of a text stream, each checked for bytes that are not UTF-8."""

    def __init__(self, path: Path, stream: TextIO) -> None:
        self.path = path
        self.stream = stream
        self.number = 0

    def __iter__(self) -> Iterator[tuple[int, str]]:
        for line in self.stream:
            self.number += 1
            if not _is_unicode(line):
                raise CorpusError(f"{self.path} line {self.number}: not valid UTF-8 text")
            yield self.number, line


def _file_documents(path: Path, text_field: str) -> Iterator[str]:
    """Documents of one corpus file, with every problem turned into a CorpusError naming the file."""
    parsed = split_suffix(path)
    if parsed is None:
        raise CorpusError(f"{path}: unsupported file type (supported: {_supported_names()})")
    fmt, compression = parsed
    try:
        stream = _open_text(path, compression)
    except OSError as e:
        raise CorpusError(f"{path}: cannot open: {e.strerror or e}") from None
    lines = _Lines(path, stream)
    documents = (
        _jsonl_documents(path, iter(lines), text_field) if fmt == ".jsonl" else _txt_documents(iter(lines))
    )
    count = 0
    with stream:
        try:
            for document in documents:
                count += 1
                yield document
        except _decompression_errors(compression) as e:
            raise CorpusError(
                f"{path}: truncated or corrupt {compression} data after line {lines.number} ({e})"
            ) from None
        except OSError as e:
            raise CorpusError(f"{path}: cannot read after line {lines.number}: {e.strerror or e}") from None
    if count == 0:
        raise CorpusError(f"{path} holds no documents")


def iter_documents(paths: Sequence[Path], text_field: str = "text") -> Iterator[str]:
    """Every document of ``paths`` in order, streamed (never a whole file in memory).

    ``.jsonl``: the ``text_field`` string of each non-blank line (empty strings are skipped);
    ``.txt``: each blank-line-separated block. Raises CorpusError naming the file and line for bad
    JSON, a missing or non-string field, invalid UTF-8, truncated or corrupt compressed data, or a
    file without documents.
    """
    for path in paths:
        yield from _file_documents(Path(path), text_field)


def hash_inputs(paths: Sequence[Path]) -> str:
    """sha256 (hex) over each file's name and content, in the given order: a cache key for the inputs.

    Only the base name counts, not the folder, so a corpus moved or copied elsewhere keeps its key.
    """
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        name = path.name.encode()
        # Lengths first, so that no two different lists of files feed the same bytes to the hash.
        digest.update(len(name).to_bytes(8, "little") + name + path.stat().st_size.to_bytes(8, "little"))
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()
