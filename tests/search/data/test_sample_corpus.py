import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import search.data.sample_corpus
from search.data.corpus import CorpusError, iter_documents
from search.data.prepare import PreparedData
from search.data.sample_corpus import sample_corpus
from search.data.spec import DataSpec
from search.training.passes import check_splits, data_passes
from search.training.run_config import RunConfig
from tests.search.data.test_corpus import read_lines

ROOT = Path(__file__).resolve().parents[3]


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in read_lines(path)]


def work(record: dict) -> str:
    """The book a document was taken from: its title without the passage number."""
    return record["title"].split(" (passage ")[0]


def test_the_sample_corpus_is_small_public_domain_text_read_like_any_corpus():
    train, val = sample_corpus()
    assert train.parent == val.parent == ROOT / "search" / "data" / "sample"
    assert train.stat().st_size + val.stat().st_size < 500_000
    for path, at_least in ((train, 100), (val, 10)):
        shipped = records(path)
        assert len(shipped) >= at_least
        assert all(r["source"] == "gutenberg" and r["title"] for r in shipped)
        assert list(iter_documents([path])) == [r["text"] for r in shipped]
    readme = (train.parent / "README.md").read_text()
    assert "public domain" in readme and "rcdm-uga/Gutenberg_Text" in readme
    books = {work(r) for r in records(train)}
    assert books.isdisjoint(work(r) for r in records(val))
    assert all(book.split("/")[0].split(",")[0] in readme for book in books)


def test_the_sample_corpus_fits_the_tiny_preset_without_repeating_a_token(
    tiny_spec: DataSpec, tiny_data: PreparedData
):
    run = RunConfig.from_preset("tiny", tiny_spec, tiny_data)
    train, val = len(tiny_data.tokens.train), len(tiny_data.tokens.val)
    check_splits(run, train, val)
    assert data_passes(run, train) < 1


def test_an_installation_without_the_sample_corpus_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(search.data.sample_corpus, "SAMPLE_FOLDER", tmp_path)
    with pytest.raises(CorpusError) as caught:
        sample_corpus()
    missing = tmp_path / "train.jsonl.zst"
    assert str(caught.value) == f"{missing}: the sample corpus is missing from this installation of hourglass"


def test_the_built_package_holds_the_sample_corpus(tmp_path):
    source, built = tmp_path / "source", tmp_path / "built"
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for package in ("space", "model", "search", "bench"):
        shutil.copytree(ROOT / package, source / package, ignore=junk)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    # build_py lays out what a wheel or an install holds, without the wheel package or a download.
    build = [
        sys.executable,
        "-c",
        "from setuptools import setup; setup()",
        "-q",
        "build_py",
        "--build-lib",
        built,
    ]
    subprocess.run(build, cwd=source, check=True, capture_output=True)
    for shipped in ("train.jsonl.zst", "val.jsonl.zst", "README.md"):
        assert (built / "search" / "data" / "sample" / shipped).is_file()
