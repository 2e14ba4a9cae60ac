import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

import search.data.tokenizer
from search.data.corpus import iter_documents
from search.data.token_cache import cache_root
from search.data.tokenizer import (
    EOS_TOKEN,
    TokenizerError,
    load_tokenizer,
    resolve_tokenizer,
    sample_pieces,
    token_byte_lengths,
)
from tests.search.data.test_corpus import DOCS, write_jsonl

VOCAB = 512


@pytest.fixture(scope="module")
def tiny_train(corpus) -> list[Path]:
    return [corpus / "tiny" / "train-00000.jsonl.zst"]


@pytest.fixture(scope="module")
def tiny_tok(tiny_train):
    """The BPE of the sample corpus, trained once per test session in the session's cache."""
    return resolve_tokenizer(tiny_train, VOCAB)


def refuse_training(*args, **kwargs):
    raise AssertionError("a tokenizer was trained")


@pytest.fixture
def no_training(monkeypatch):
    """Make any attempt to train a tokenizer fail the test."""
    monkeypatch.setattr(search.data.tokenizer, "_train_and_save", refuse_training)


def word_level(tmp_path: Path, words: list[str], specials: list[str]) -> Path:
    """A tiny non-byte-level tokenizer file: whole words split on whitespace."""
    vocab = {w: i for i, w in enumerate(words)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=words[0]))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.add_special_tokens([AddedToken(s, special=True) for s in specials])
    path = tmp_path / "word-level.json"
    tokenizer.save(str(path))
    return path


def test_the_default_is_a_byte_level_bpe_of_the_asked_size(tiny_tok):
    assert tiny_tok.vocab_size == VOCAB == len(tiny_tok.token_bytes)
    assert tiny_tok.eos_id == tiny_tok.tokenizer.token_to_id(EOS_TOKEN)
    assert tiny_tok.path.parent == cache_root() / "tokenizers"
    assert tiny_tok.sha256 == hashlib.sha256(tiny_tok.path.read_bytes()).hexdigest()
    config = json.loads(tiny_tok.path.read_text())
    assert config["pre_tokenizer"]["type"] == "ByteLevel" and not config["pre_tokenizer"]["add_prefix_space"]
    assert config["decoder"]["type"] == "ByteLevel"


def test_a_second_call_loads_the_cached_file_without_training(tmp_path, monkeypatch, tiny_train):
    monkeypatch.setenv("HOURGLASS_CACHE", str(tmp_path))
    first = resolve_tokenizer(tiny_train, 300)
    assert list((tmp_path / "tokenizers").glob("*.json")) == [first.path]
    monkeypatch.setattr(search.data.tokenizer, "_train_and_save", refuse_training)
    second = resolve_tokenizer(tiny_train, 300)
    assert (second.path, second.sha256) == (first.path, first.sha256)
    assert not list((tmp_path / "tokenizers").glob("*.tmp-*"))


def test_a_different_vocab_size_or_field_is_a_different_tokenizer(tmp_path, monkeypatch):
    monkeypatch.setenv("HOURGLASS_CACHE", str(tmp_path))
    data = write_jsonl(tmp_path / "a.jsonl", DOCS * 3)
    renamed = write_jsonl(tmp_path / "b.jsonl", DOCS * 3, field="body")
    paths = {
        resolve_tokenizer([data], 300).path,
        resolve_tokenizer([data], 301).path,
        resolve_tokenizer([renamed], 300, text_field="body").path,
        resolve_tokenizer([data], 300, sample_chars=10).path,
    }
    assert len(paths) == 4


def test_token_bytes_add_up_to_the_utf8_length_of_the_text(tiny_tok, corpus):
    texts = [*DOCS, *list(iter_documents([corpus / "tiny" / "val-00000.jsonl.zst"]))[:5]]
    for text in texts:
        ids = tiny_tok.tokenizer.encode(text, add_special_tokens=False).ids
        assert tiny_tok.tokenizer.decode(ids) == text
        assert tiny_tok.count_bytes(np.array(ids)) == len(text.encode("utf-8"))
    assert tiny_tok.token_bytes[tiny_tok.eos_id] == 0
    assert tiny_tok.token_bytes.min() >= 0 and not tiny_tok.token_bytes.flags.writeable


def test_the_sample_is_deterministic_and_drawn_from_every_file(tmp_path):
    first = write_jsonl(tmp_path / "a.jsonl", ["alpha " * 5000] * 20)
    second = write_jsonl(tmp_path / "b.jsonl", ["omega " * 5000] * 20)
    sample = sample_pieces([first, second], "text", 100_000)
    assert sample == sample_pieces([first, second], "text", 100_000)
    assert 90_000 <= sum(map(len, sample)) <= 110_000
    alpha = sum("alpha" in piece for piece in sample)
    assert 0.3 < alpha / len(sample) < 0.7  # about half from each file, though it stops nowhere early
    assert all(piece.strip() and not piece.startswith("lpha") for piece in sample)  # cut between words


def test_a_small_corpus_is_sampled_whole(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", DOCS)
    assert sorted(sample_pieces([path], "text", 1_000_000)) == sorted(DOCS)


def test_a_given_tokenizer_file_is_used_as_it_is(tmp_path, tiny_tok, tiny_train, no_training):
    given = tmp_path / "mine" / "tokenizer.json"
    given.parent.mkdir()
    shutil.copy(tiny_tok.path, given)
    handle = resolve_tokenizer(tiny_train, 999, tokenizer_path=str(given))
    assert handle.path == given
    assert handle.sha256 == tiny_tok.sha256
    assert handle.vocab_size == VOCAB
    assert np.array_equal(handle.token_bytes, tiny_tok.token_bytes)


def test_other_end_of_text_tokens_are_found(tmp_path):
    path = word_level(tmp_path, ["<unk>", "hello", "world"], ["<s>", "</s>"])
    assert load_tokenizer(path).eos_id == 4
    path = word_level(tmp_path, ["<unk>", "hello"], ["<pad>", "<|end_of_text|>", "</s>"])
    assert load_tokenizer(path).eos_id == 3


def test_a_tokenizer_without_an_end_of_text_token_is_refused(tmp_path):
    path = word_level(tmp_path, ["<unk>", "hello"], ["<pad>", "<mask>"])
    with pytest.raises(
        TokenizerError, match=r"has no end-of-text token .*; its special tokens: <pad>, <mask>"
    ):
        load_tokenizer(path)


def test_token_bytes_of_other_tokenizers_come_from_decoding(tmp_path):
    handle = load_tokenizer(word_level(tmp_path, ["<unk>", "café", "日本"], ["</s>"]))
    assert handle.token_bytes.tolist() == [5, 5, 6, 0]


def test_byte_fallback_tokens_count_one_byte(tmp_path):
    vocab = [("<unk>", 0.0), ("<0xE2>", 0.0), ("▁a", -1.0)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=True))
    tokenizer.decoder = decoders.ByteFallback()
    tokenizer.add_special_tokens([AddedToken("</s>", special=True)])
    assert token_byte_lengths(tokenizer)[1] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such tokenizer file"),
        (b"not json at all", "is not a tokenizers JSON file (a tokenizer.json)"),
        (b'{"vocab": {"a": 0}}', "is not a tokenizers JSON file (a tokenizer.json)"),
    ],
)
def test_a_missing_or_corrupt_tokenizer_file_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "tokenizer.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TokenizerError, match=re.escape(message)) as caught:
        resolve_tokenizer([], VOCAB, tokenizer_path=str(path))
    assert str(caught.value).startswith(str(path))


def test_a_folder_is_not_a_tokenizer_file(tmp_path):
    with pytest.raises(TokenizerError, match=r"is a folder; give the tokenizer\.json file itself"):
        load_tokenizer(tmp_path)


def test_a_vocabulary_smaller_than_the_bytes_or_no_data_is_refused(tmp_path):
    with pytest.raises(TokenizerError, match="vocab_size 256 is too small"):
        resolve_tokenizer([write_jsonl(tmp_path / "a.jsonl", DOCS)], 256)
    with pytest.raises(TokenizerError, match="no training files to train the tokenizer on"):
        resolve_tokenizer([], VOCAB)
