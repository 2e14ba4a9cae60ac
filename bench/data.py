"""How fast the data layer is: ``python -m bench.data [--data PATHS...]``

Trains the tokenizer and builds the token cache of the corpus in a fresh temporary cache folder
(each timed on its own), then times the BatchLoader on CPU at the small preset's batch shape, and
prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from search.data.batches import BatchLoader
from search.data.corpus import CorpusError, resolve_inputs
from search.data.token_cache import TokenData, load_token_data
from search.data.tokenizer import TokenizerError, resolve_tokenizer

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = str(PROJECT_ROOT.parent / "shared" / "corpus" / "books" / "train-*.jsonl.zst")
# The small preset's shape: batch 32 of context 1024, vocabulary 16384.
BATCH_SIZE, CONTEXT, VOCAB_SIZE = 32, 1024, 16_384


@contextmanager
def fresh_cache() -> Iterator[Path]:
    """Point ``HOURGLASS_CACHE`` at an empty temporary folder for the duration, so nothing is reused."""
    before = os.environ.get("HOURGLASS_CACHE")
    with tempfile.TemporaryDirectory(prefix="hourglass-bench-") as folder:
        os.environ["HOURGLASS_CACHE"] = folder
        try:
            yield Path(folder)
        finally:
            if before is None:
                del os.environ["HOURGLASS_CACHE"]
            else:
                os.environ["HOURGLASS_CACHE"] = before


def bench_build(
    paths: Sequence[Path], vocab_size: int = VOCAB_SIZE, text_field: str = "text"
) -> tuple[dict[str, Any], TokenData]:
    """Train the tokenizer and build the token cache in the current cache root; their timings."""
    began = time.perf_counter()
    tok = resolve_tokenizer(paths, vocab_size, text_field)
    tokenizer_s = time.perf_counter() - began
    data = load_token_data(paths, None, tok, text_field, progress=False)
    meta = data.meta
    raw_bytes = meta["train"]["bytes"] + meta["val"]["bytes"]
    tokens = meta["train"]["tokens"] + meta["val"]["tokens"]
    figures = {
        "files": len(paths),
        "mb": round(raw_bytes / 1e6, 2),
        "seconds": meta["build_seconds"],
        "mb_per_s": meta["mb_per_s"],
        "tokens": tokens,
        "tokens_per_s": meta["tokens_per_s"],
        "bytes_per_token": meta["bytes_per_token"],
        "cores": meta["cores"],
        "vocab_size": tok.vocab_size,
        "tokenizer_train_s": round(tokenizer_s, 2),
    }
    return figures, data


def bench_loader(
    tokens: np.ndarray, context: int = CONTEXT, batch_size: int = BATCH_SIZE, steps: int = 500
) -> dict[str, Any]:
    """Batches per second the BatchLoader delivers on CPU to a consumer that does nothing else."""
    began = time.perf_counter()
    with BatchLoader(tokens, context, batch_size, 0, steps) as loader:
        for _ in loader:
            pass
    seconds = time.perf_counter() - began
    return {
        "loader_batch": [batch_size, context],
        "loader_batches_per_s": round(steps / seconds, 1),
        "loader_tokens_per_s": round(steps * batch_size * context / seconds),
        "loader_wait_share": round(loader.wait_s / seconds, 3),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures as one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.data", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data",
        nargs="+",
        default=[DEFAULT_DATA],
        help=f"corpus files, folders or globs (default {DEFAULT_DATA})",
    )
    parser.add_argument(
        "--vocab-size", type=int, default=VOCAB_SIZE, help=f"BPE vocabulary (default {VOCAB_SIZE})"
    )
    parser.add_argument(
        "--steps", type=int, default=500, help="batches the loader benchmark draws (default 500)"
    )
    args = parser.parse_args(argv)
    try:
        paths = resolve_inputs(args.data)
        with fresh_cache():
            figures, data = bench_build(paths, args.vocab_size)
            figures |= bench_loader(data.train, steps=args.steps)
    except (CorpusError, TokenizerError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
