import gzip
import io
import json
import re
from pathlib import Path

import pytest
import zstandard

from search.data.corpus import CorpusError, hash_inputs, iter_documents, resolve_inputs, split_name_warnings

DOCS = [
    "The first document.\nIt has two lines.",
    "Naïve café — ünïcödé, 日本語 and 😀 survive.",
    "A third one, with a trailing space ",
]


def compress(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path``, compressed as its name says (real zstd and gzip)."""
    if path.suffix in (".zst", ".zstd"):
        data = zstandard.ZstdCompressor().compress(data)
    elif path.suffix == ".gz":
        data = gzip.compress(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def write_jsonl(path: Path, texts: list[str], field: str = "text") -> Path:
    """A corpus file of ``texts``, one JSON object per line."""
    return compress(path, jsonl([{field: t, "title": f"doc {i}"} for i, t in enumerate(texts)]))


def read_lines(path: Path) -> list[str]:
    """The decompressed lines of a real corpus shard, read independently of search.data.corpus."""
    with zstandard.ZstdDecompressor().stream_reader(path.open("rb")) as reader:
        return io.TextIOWrapper(reader, encoding="utf-8").read().splitlines()


def error(paths: list[Path], text_field: str = "text") -> str:
    with pytest.raises(CorpusError) as caught:
        list(iter_documents(paths, text_field))
    return str(caught.value)


# --- resolving inputs ---


def test_folder_glob_and_file_resolve_to_the_same_sorted_unique_files(corpus):
    tiny = corpus / "tiny"
    expected = [tiny / "train-00000.jsonl.zst", tiny / "val-00000.jsonl.zst"]
    assert resolve_inputs([str(tiny)]) == expected
    assert resolve_inputs([str(tiny / "*.jsonl.zst")]) == expected
    assert resolve_inputs([str(expected[1]), str(tiny), str(tiny / "train-*")]) == expected


def test_folders_are_searched_recursively_for_supported_files_only(tmp_path):
    for name in [
        "a.jsonl",
        "deep/er/b.txt.gz",
        "c.jsonl.zstd",
        "notes.md",
        "d.json",
        ".hidden/e.jsonl",
        ".f.txt",
    ]:
        compress(tmp_path / name, b'{"text": "x"}\n')
    found = resolve_inputs([str(tmp_path)])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.jsonl",
        "c.jsonl.zstd",
        "deep/er/b.txt.gz",
    ]
    assert all(p.is_absolute() for p in found)


def test_relative_paths_are_made_absolute_and_deduplicated(tmp_path, monkeypatch):
    write_jsonl(tmp_path / "a.jsonl", DOCS)
    monkeypatch.chdir(tmp_path)
    assert resolve_inputs(["a.jsonl", "./a.jsonl", str(tmp_path / "a.jsonl"), "*.jsonl"]) == [
        tmp_path / "a.jsonl"
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("missing.jsonl", "missing.jsonl: no such file or folder"),
        ("nothing-*.jsonl", "nothing-*.jsonl: the pattern matches no files"),
        ("docs", "docs: the folder holds no supported corpus files (.jsonl, .txt, .jsonl.zst"),
        ("docs/readme.md", "docs/readme.md: unsupported file type (supported: .jsonl, .txt"),
        ("docs/*", "docs/*: the pattern matches 1 paths but no supported corpus files"),
    ],
)
def test_bad_input_specs_are_named(tmp_path, monkeypatch, spec, message):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.md").write_text("not a corpus")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CorpusError, match=re.escape(message)):
        resolve_inputs([spec])


def test_a_missing_path_names_where_it_was_looked_for_what_is_supported_and_an_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CorpusError) as caught:
        resolve_inputs(["corpus/missing.jsonl"])
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'corpus' / 'missing.jsonl'}: no such file or folder")
    assert "(given as corpus/missing.jsonl)" in message
    assert '.jsonl (one JSON object a line, its "text" field the document)' in message
    assert ".txt (documents separated by blank lines)" in message and ".zst, .zstd or .gz" in message
    assert message.endswith("e.g. data/ or 'data/*.jsonl.zst'")
    with pytest.raises(
        CorpusError, match=rf"^{re.escape(str(tmp_path / 'gone'))}: no such file or folder\. "
    ):
        resolve_inputs([str(tmp_path / "gone")])  # absolute already: not repeated


def test_no_specs_at_all_is_an_error():
    with pytest.raises(CorpusError, match="no corpus inputs given"):
        resolve_inputs([])


@pytest.mark.parametrize(
    "name",
    [
        "val-00000.jsonl.zst",
        "valid.txt",
        "Validation.jsonl",
        "wiki_test.jsonl.gz",
        "dev-set.txt",
        "eval.jsonl",
    ],
)
def test_a_training_file_named_like_a_held_out_split_is_warned_about(name):
    path = Path("/corpus") / name
    assert split_name_warnings([Path("/corpus/train-00000.jsonl.zst"), path]) == [
        f"warning: 1 training file is named like a validation or test split: {path}; held-out text "
        "belongs in the validation data (--val-data), not in the training data"
    ]


def test_names_that_only_contain_a_split_word_and_folders_named_like_one_are_not_warned_about():
    paths = [Path(f"/home/dev/test/{name}") for name in ("interval.jsonl", "latest.txt", "devices.jsonl")]
    assert split_name_warnings([*paths, Path("/val/train.jsonl")]) == []


def test_many_held_out_files_are_counted_and_the_first_three_named():
    paths = [Path(f"/corpus/val-{i:05}.jsonl.zst") for i in range(5)]
    (warning,) = split_name_warnings(paths)
    assert warning.startswith(
        "warning: 5 training files are named like a validation or test split: /corpus/val-00000.jsonl.zst, "
        "/corpus/val-00001.jsonl.zst, /corpus/val-00002.jsonl.zst and 2 more; "
    )


# --- reading documents ---


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.zst", "c.jsonl.zstd", "c.jsonl.gz"])
def test_every_jsonl_compression_reads_the_same_documents(tmp_path, name):
    assert list(iter_documents([write_jsonl(tmp_path / name, DOCS)])) == DOCS


@pytest.mark.parametrize("name", ["c.txt", "c.txt.zst", "c.txt.gz"])
def test_txt_files_hold_one_document_per_blank_line_separated_block(tmp_path, name):
    text = "\n\n" + "\n\n \t\n\n".join(DOCS) + "\n\n\n"
    assert list(iter_documents([compress(tmp_path / name, text.encode())])) == DOCS


def test_txt_windows_line_endings_read_as_plain_newlines(tmp_path):
    path = compress(tmp_path / "c.txt", b"one\r\nblock\r\n\r\ntwo\r\n")
    assert list(iter_documents([path])) == ["one\nblock", "two"]


def test_documents_stream_over_files_in_order_with_blank_lines_and_empty_texts_skipped(tmp_path):
    first = compress(tmp_path / "a.jsonl", b'\n{"text": "one"}\n   \n{"text": ""}\n{"text": "two"}')
    second = write_jsonl(tmp_path / "b.jsonl.zst", ["three"])
    assert list(iter_documents([first, second])) == ["one", "two", "three"]


def test_another_text_field_can_be_read(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", DOCS, field="body")
    assert list(iter_documents([path], text_field="body")) == DOCS


def test_a_byte_order_mark_does_not_break_the_first_line(tmp_path):
    path = compress(tmp_path / "a.jsonl", b"\xef\xbb\xbf" + jsonl([{"text": "bom"}]))
    assert list(iter_documents([path])) == ["bom"]


def test_zstd_files_of_several_frames_read_whole(tmp_path):
    frames = b"".join(zstandard.ZstdCompressor().compress(jsonl([{"text": t}])) for t in DOCS)
    path = tmp_path / "frames.jsonl.zst"
    path.write_bytes(frames)
    assert list(iter_documents([path])) == DOCS


def test_the_real_corpus_shard_reads_every_line(corpus):
    shard = corpus / "tiny" / "val-00000.jsonl.zst"
    expected = [json.loads(line)["text"] for line in read_lines(shard)]
    assert list(iter_documents([shard])) == expected
    assert len(expected) > 10


# --- every bad input names its file and line ---


def test_bad_json_names_the_line(tmp_path):
    lines = [json.dumps({"text": f"doc {i}"}) for i in range(20)]
    lines[16] = '{"text": "unfinished'
    path = compress(tmp_path / "bad.jsonl.zst", "\n".join(lines).encode())
    assert error([path]) == f"{path} line 17: not valid JSON: Unterminated string at column 10"


def test_a_missing_field_lists_the_fields_there_are(tmp_path):
    path = compress(tmp_path / "a.jsonl", jsonl([{"text": "a"}, {"text": "b"}, {"title": "t", "body": "b"}]))
    assert error([path]) == f"{path} line 3: no 'text' field (fields: title, body)"


@pytest.mark.parametrize(("value", "kind"), [(3, "int"), (None, "null"), (["a"], "list"), ({"a": 1}, "dict")])
def test_a_field_that_is_not_a_string(tmp_path, value, kind):
    path = compress(tmp_path / "a.jsonl", jsonl([{"text": "fine"}, {"text": value}]))
    assert error([path]) == f"{path} line 2: the 'text' field is {kind}, not a string"


def test_a_line_that_is_not_an_object(tmp_path):
    path = compress(tmp_path / "a.jsonl", b'{"text": "a"}\n["text"]\n')
    assert error([path]) == f"{path} line 2: not a JSON object but list"


def test_a_truncated_zstd_shard_is_caught_not_read_as_shorter(corpus, tmp_path):
    shard = (corpus / "tiny" / "val-00000.jsonl.zst").read_bytes()
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(shard[: len(shard) // 2])
    message = error([path])
    found = re.fullmatch(
        rf"{re.escape(str(path))}: truncated or corrupt zstd data after line (\d+) \(.*\)", message
    )
    assert found, message
    assert 0 < int(found.group(1)) < len(read_lines(corpus / "tiny" / "val-00000.jsonl.zst"))


def test_corrupt_zstd_data_is_caught(corpus, tmp_path):
    shard = bytearray((corpus / "tiny" / "val-00000.jsonl.zst").read_bytes())
    shard[len(shard) // 2 : len(shard) // 2 + 64] = b"\x00" * 64
    path = tmp_path / "corrupt.jsonl.zst"
    path.write_bytes(bytes(shard))
    assert re.match(rf"{re.escape(str(path))}: truncated or corrupt zstd data after line \d+", error([path]))


@pytest.mark.parametrize(("name", "kind"), [("plain.jsonl.zst", "zstd"), ("plain.jsonl.gz", "gzip")])
def test_an_uncompressed_file_with_a_compressed_name(tmp_path, name, kind):
    path = tmp_path / name
    path.write_bytes(jsonl([{"text": "not compressed"}]))
    assert error([path]).startswith(f"{path}: truncated or corrupt {kind} data after line 0")


def test_a_truncated_gzip_file_is_caught(tmp_path):
    data = gzip.compress(jsonl([{"text": f"document number {i} " * 20} for i in range(2000)]))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    assert re.match(rf"{re.escape(str(path))}: truncated or corrupt gzip data after line \d+ ", error([path]))


@pytest.mark.parametrize("name", ["bad.jsonl", "bad.jsonl.zst", "bad.txt"])
def test_invalid_utf8_names_the_line(tmp_path, name):
    data = b'{"text": "fine"}\n\n{"text": "caf\xe9"}\n' if "jsonl" in name else b"fine\n\ncaf\xe9\n"
    path = compress(tmp_path / name, data)
    assert error([path]) == f"{path} line 3: not valid UTF-8 text"


def test_an_unpaired_surrogate_escape_names_the_line(tmp_path):
    path = compress(tmp_path / "a.jsonl", b'{"text": "fine \\ud83d\\ude00"}\n{"text": "broken \\ud83d"}\n')
    assert error([path]) == (
        f"{path} line 2: the 'text' field holds an unpaired surrogate escape (not valid Unicode)"
    )


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.jsonl", b""),
        ("blank.jsonl.zst", b"\n \n\n"),
        ("empty-texts.jsonl", b'{"text": ""}\n'),
        ("ws.txt", b" \n\n"),
    ],
)
def test_a_file_without_documents(tmp_path, name, data):
    path = compress(tmp_path / name, data)
    good = write_jsonl(tmp_path / "good.jsonl", DOCS)
    assert error([good, path]) == f"{path} holds no documents"


def test_an_unreadable_file_is_named(tmp_path):
    assert error([tmp_path / "gone.jsonl"]).startswith(f"{tmp_path / 'gone.jsonl'}: cannot open")


# --- hashing ---


def test_hash_follows_names_and_content_but_not_folders(tmp_path):
    a = write_jsonl(tmp_path / "one" / "a.jsonl", DOCS)
    moved = write_jsonl(tmp_path / "two" / "a.jsonl", DOCS)
    renamed = write_jsonl(tmp_path / "two" / "b.jsonl", DOCS)
    changed = write_jsonl(tmp_path / "three" / "a.jsonl", [*DOCS, "one more"])
    assert hash_inputs([a]) == hash_inputs([moved]) == hash_inputs([Path(str(a))])
    assert (
        len({hash_inputs([a]), hash_inputs([renamed]), hash_inputs([changed]), hash_inputs([a, renamed])})
        == 4
    )
    assert re.fullmatch("[0-9a-f]{64}", hash_inputs([a]))
