"""The small corpus shipped inside the package: what the tests read, and what a first run without data of
its own trains on (public-domain books; licence and provenance in ``sample/README.md``)."""

from __future__ import annotations

from pathlib import Path

from search.data.corpus import CorpusError

SAMPLE_FOLDER = Path(__file__).resolve().parent / "sample"


def sample_corpus() -> tuple[Path, Path]:
    """The shipped sample corpus: its (training, validation) files, absolute.

    About 1 MB of text, 344 KB + 45 KB on disk: enough for the tiny preset's trials, far too little for
    a GPU preset's validation set. Raises CorpusError when the installation lacks the files (a package
    built without its package data).
    """
    train, val = SAMPLE_FOLDER / "train.jsonl.zst", SAMPLE_FOLDER / "val.jsonl.zst"
    for path in (train, val):
        if not path.is_file():
            raise CorpusError(f"{path}: the sample corpus is missing from this installation of hourglass")
    return train, val


def is_sample_corpus(train: tuple[str, ...]) -> bool:
    """Whether ``train`` (a data spec's training inputs) is the shipped sample corpus."""
    return [Path(p) for p in train] == [SAMPLE_FOLDER / "train.jsonl.zst"]
