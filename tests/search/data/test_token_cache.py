import contextlib
import hashlib
import multiprocessing
import os
import signal
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers

import search.data.encoding
from search.data.corpus import CorpusError, iter_documents
from search.data.token_cache import TokenData, cache_root, load_token_data, token_cache_key
from search.data.tokenizer import TokenizerHandle, load_tokenizer, resolve_tokenizer
from tests.search.data.test_corpus import DOCS, write_jsonl

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture(scope="module")
def tiny(corpus) -> tuple[Path, Path]:
    """The sample corpus as the tiny shards: (train file, val file)."""
    return corpus / "tiny" / "train-00000.jsonl.zst", corpus / "tiny" / "val-00000.jsonl.zst"


@pytest.fixture(scope="module")
def tok(tiny) -> TokenizerHandle:
    return resolve_tokenizer([tiny[0]], 512)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    """An empty cache root of this test's own (child processes inherit it)."""
    root = tmp_path / "cache"
    monkeypatch.setenv("HOURGLASS_CACHE", str(root))
    return root


def documents_of(tokens: np.ndarray, tok: TokenizerHandle) -> list[str]:
    """The texts of a split, decoded document by document (they end at each end-of-text token)."""
    ends = np.flatnonzero(np.asarray(tokens) == tok.eos_id)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return tok.tokenizer.decode_batch([tokens[s:e].tolist() for s, e in zip(starts, ends, strict=True)])


def generated_corpus(path: Path, megabytes: float, seed: int = 0) -> Path:
    """A corpus of random pseudo-words, big enough for a build to take a while."""
    rng = np.random.default_rng(seed)
    words = np.array(["".join(rng.choice(list("abcdefghij"), size=rng.integers(2, 9))) for _ in range(3000)])
    texts = [" ".join(rng.choice(words, size=1500)) for _ in range(int(megabytes * 1e6 / 9000))]
    return write_jsonl(path, texts)


def test_built_once_then_reused_without_tokenizing(fresh_cache, tiny, tok, monkeypatch):
    first = load_token_data([tiny[0]], [tiny[1]], tok, progress=False)
    assert first.built
    assert first.path == cache_root() / "tokens" / first.key
    assert sorted(p.name for p in first.path.iterdir()) == ["meta.json", "train.bin", "val.bin"]

    def refuse(*args):
        raise AssertionError("tokenized again")

    monkeypatch.setattr(search.data.encoding.Encoder, "__call__", refuse)
    second = load_token_data([tiny[0]], [tiny[1]], tok, progress=False)
    assert not second.built
    assert (second.key, second.meta) == (first.key, first.meta)
    for data in (first, second):
        assert isinstance(data.train, np.memmap) and not data.train.flags.writeable
        assert data.train.dtype == data.val.dtype == np.uint16
    assert np.array_equal(first.train, second.train) and np.array_equal(first.val, second.val)


def test_every_document_is_there_followed_by_the_end_of_text_token(fresh_cache, tmp_path, tok):
    train = [write_jsonl(tmp_path / "a.jsonl.zst", DOCS), write_jsonl(tmp_path / "b.jsonl", DOCS[::-1])]
    val = [write_jsonl(tmp_path / "v.jsonl.gz", DOCS[:2])]
    data = load_token_data(train, val, tok, progress=False)
    assert documents_of(data.train, tok) == DOCS + DOCS[::-1]
    assert documents_of(data.val, tok) == DOCS[:2]
    assert data.train[-1] == data.val[-1] == tok.eos_id
    meta = data.meta
    assert meta["train"]["documents"] == 6 and meta["val"]["documents"] == 2
    assert meta["train"]["tokens"] == len(data.train) and meta["val"]["tokens"] == len(data.val)
    assert meta["train"]["bytes"] == 2 * sum(len(d.encode()) for d in DOCS) == tok.count_bytes(data.train)
    assert meta["train"]["files"] == [str(p) for p in train]
    assert meta["val_source"] == "files" and meta["val_share"] is None
    assert meta["tokenizer"]["sha256"] == tok.sha256 and meta["dtype"] == "uint16"
    assert meta["build_seconds"] > 0 and meta["mb_per_s"] > 0 and meta["cores"] >= 1


def test_long_documents_are_tokenized_as_if_whole(fresh_cache, tmp_path, tok, corpus):
    books = sorted(iter_documents([corpus / "tiny" / "train-00000.jsonl.zst"]), key=len)[-3:]
    assert len(search.data.encoding._cut(books[-1])) > 1  # long enough to be encoded in pieces
    train = write_jsonl(tmp_path / "books.jsonl", books)
    data = load_token_data([train], [write_jsonl(tmp_path / "v.jsonl", DOCS)], tok, progress=False)
    whole = [[*tok.tokenizer.encode(b, add_special_tokens=False).ids, tok.eos_id] for b in books]
    assert data.train.tolist() == [t for ids in whole for t in ids]


def test_the_held_out_share_is_whole_documents_and_the_same_every_time(tmp_path, monkeypatch, tiny, tok):
    builds: list[TokenData] = []
    for name in ("one", "two"):
        monkeypatch.setenv("HOURGLASS_CACHE", str(tmp_path / name))
        builds.append(load_token_data([tiny[0]], None, tok, val_share=0.1, progress=False))
    first, second = builds
    assert second.built and first.key == second.key
    assert np.array_equal(first.train, second.train) and np.array_equal(first.val, second.val)
    corpus_docs = list(iter_documents([tiny[0]]))
    train_docs, val_docs = documents_of(first.train, tok), documents_of(first.val, tok)
    assert Counter(train_docs) + Counter(val_docs) == Counter(corpus_docs)
    assert not set(train_docs) & set(val_docs)
    assert 0.03 < len(val_docs) / len(corpus_docs) < 0.2
    assert first.meta["val_source"] == "held-out share" and first.meta["val_share"] == 0.1


def test_the_key_follows_what_the_tokens_depend_on(tmp_path, tiny, tok):
    other = resolve_tokenizer([write_jsonl(tmp_path / "a.jsonl", DOCS * 20)], 300)
    train, val = [tiny[0]], [tiny[1]]
    keys = {
        token_cache_key(train, None, tok, "text", 0.01),
        token_cache_key(train, None, tok, "text", 0.02),
        token_cache_key(train, None, tok, "body", 0.01),
        token_cache_key(train, None, other, "text", 0.01),
        token_cache_key(train, val, tok, "text", 0.01),
    }
    assert len(keys) == 5
    # the share does not matter once validation files are given
    assert token_cache_key(train, val, tok, "text", 0.5) == token_cache_key(train, val, tok, "text", 0.01)


def test_a_vocabulary_over_65536_is_stored_as_uint32(fresh_cache, tmp_path):
    words = [f"w{i}" for i in range(70_000)]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="w0"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.add_special_tokens([AddedToken("<|endoftext|>", special=True)])
    tokenizer.save(str(tmp_path / "big.json"))
    big = load_tokenizer(tmp_path / "big.json")
    data = load_token_data(
        [write_jsonl(tmp_path / "t.jsonl", ["w1 w69999 w65536"])],
        [write_jsonl(tmp_path / "v.jsonl", ["w65535 w2"])],
        big,
        progress=False,
    )
    assert data.train.dtype == np.uint32
    assert data.train.tolist() == [1, 69_999, 65_536, 70_000]
    assert data.val.tolist() == [65_535, 2, 70_000]


@pytest.mark.parametrize(
    ("val_share", "message"),
    [
        (1e-12, r"the held-out validation share 1e-12 picked none of the 3 training documents; raise"),
        (0.999999999, r"all 3 documents fell in the held-out validation share 0.999999999; lower val_share"),
    ],
)
def test_an_empty_split_is_a_clear_error_and_leaves_nothing(fresh_cache, tmp_path, tok, val_share, message):
    with pytest.raises(CorpusError, match=message):
        load_token_data(
            [write_jsonl(tmp_path / "a.jsonl", DOCS)], None, tok, val_share=val_share, progress=False
        )
    assert not (fresh_cache / "tokens").exists()  # refused before the folder and its lock were made


def test_bad_split_settings(tmp_path, tok):
    path = write_jsonl(tmp_path / "a.jsonl", DOCS)
    for share in (0, 1, -0.5):
        with pytest.raises(ValueError, match="val_share must be between 0 and 1"):
            load_token_data([path], None, tok, val_share=share)
    with pytest.raises(CorpusError, match=r"a\.jsonl is both a training and a validation file"):
        load_token_data([path], [path], tok)
    with pytest.raises(CorpusError, match="no training files given"):
        load_token_data([], None, tok)


def test_a_bad_file_stops_the_build_and_leaves_nothing(fresh_cache, tmp_path, tok):
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"text": "fine"}\n{"title": "no text"}\n')
    with pytest.raises(CorpusError, match=r"b\.jsonl line 2: no 'text' field"):
        load_token_data([write_jsonl(tmp_path / "a.jsonl", DOCS), bad], None, tok, progress=False)
    assert not (fresh_cache / "tokens").exists()  # refused before the folder and its lock were made


def build_at_once(train: str, barrier, results, log: str) -> None:
    """Child process: wait for the others, then resolve the tokenizer and the token cache."""
    with open(log, "w") as stream, contextlib.redirect_stderr(stream):
        barrier.wait()
        tok = resolve_tokenizer([Path(train)], 300)
        data = load_token_data([Path(train)], None, tok, val_share=0.1, progress=False)
        digest = hashlib.sha256(data.train.tobytes() + data.val.tobytes()).hexdigest()
        results.put((data.built, data.key, digest))


def test_processes_starting_together_build_once_and_read_the_same(fresh_cache, tiny, tmp_path):
    barrier, results = SPAWN.Barrier(3), SPAWN.Queue()
    logs = [tmp_path / f"{i}.log" for i in range(3)]
    procs = [
        SPAWN.Process(target=build_at_once, args=(str(tiny[0]), barrier, results, str(log))) for log in logs
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    assert sorted(built for built, _, _ in outcomes) == [False, False, True]
    assert len({(key, digest) for _, key, digest in outcomes}) == 1
    text = "".join(log.read_text() for log in logs)
    assert text.count("training a 300-token byte-level BPE") == 1
    assert len(list((fresh_cache / "tokens").glob("*.tmp-*"))) == 0
    assert len([p for p in (fresh_cache / "tokens").iterdir() if p.is_dir()]) == 1


def build_in_small_batches(train: str, tokenizer: str) -> None:
    """Child process: a build that writes many small batches, so that it can be killed half way."""
    search.data.encoding._BATCH_CHARS = 1 << 14
    load_token_data([Path(train)], None, load_tokenizer(tokenizer), val_share=0.05, progress=False)


def test_a_builder_killed_mid_build_leaves_no_cache_and_the_next_call_builds_it(fresh_cache, tmp_path, tok):
    train = generated_corpus(tmp_path / "big.jsonl", megabytes=3)
    key = token_cache_key([train], None, tok, "text", 0.05)
    proc = SPAWN.Process(target=build_in_small_batches, args=(str(train), str(tok.path)))
    proc.start()
    partial = fresh_cache / "tokens" / f"{key}.tmp-{proc.pid}" / "train.bin"
    while proc.is_alive() and not (partial.exists() and partial.stat().st_size > 0):
        time.sleep(0.001)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert proc.exitcode == -signal.SIGKILL
    assert partial.exists(), "the builder finished before it could be killed"
    assert not (fresh_cache / "tokens" / key).exists()

    data = load_token_data([train], None, tok, val_share=0.05, progress=False)
    assert data.built and data.key == key
    assert not partial.parent.exists()  # the dead builder's folder was cleared away
    documents = data.meta["train"]["documents"] + data.meta["val"]["documents"]
    assert documents == len(list(iter_documents([train])))
    assert np.count_nonzero(data.train == tok.eos_id) + np.count_nonzero(data.val == tok.eos_id) == documents
    assert data.meta["train"]["tokens"] == len(data.train) and data.train[-1] == tok.eos_id


def test_a_cache_folder_without_its_meta_is_rebuilt(fresh_cache, tmp_path, tok):
    texts = [f"document number {i}" for i in range(30)]
    train = write_jsonl(tmp_path / "a.jsonl", texts)
    key = token_cache_key([train], None, tok, "text", 0.3)
    broken = fresh_cache / "tokens" / key
    broken.mkdir(parents=True)
    (broken / "train.bin").write_bytes(b"\x00\x01")
    data = load_token_data([train], None, tok, val_share=0.3, progress=False)
    assert data.built and data.path == broken
    assert sorted(documents_of(data.train, tok) + documents_of(data.val, tok)) == sorted(texts)
