"""Fixtures for the trial-running tests: broken corpus files, one of each kind."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest


@pytest.fixture
def bad_data(tmp_path: Path, corpus: Path) -> dict[str, Path]:
    good = (corpus / "tiny" / "train-00000.jsonl.zst").read_bytes()
    files = {
        "truncated zstd": tmp_path / "cut.jsonl.zst",
        "bad JSON line": tmp_path / "bad.jsonl",
        "missing field": tmp_path / "nofield.jsonl.gz",
        "empty file": tmp_path / "empty.jsonl",
    }
    files["truncated zstd"].write_bytes(good[: len(good) // 2])
    files["bad JSON line"].write_text('{"text": "fine"}\n{"text": broken\n')
    with gzip.open(files["missing field"], "wt") as f:
        f.write(json.dumps({"body": "no text here"}) + "\n")
    files["empty file"].write_text("")
    return files
