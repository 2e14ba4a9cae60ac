"""search.train: options that conflict, data that changed, results that are never replaced silently,
paths that work from any folder, and an export retrained beside the loss it promised."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from model.presets import get_preset
from search.best import main as best_main
from search.data.prepare import prepare_data
from search.data.spec import DataSpec
from search.train import main as train_main
from search.training.run_config import RunConfig, save_run_config
from tests.search.test_confirm import STUDY, copy_study, one_torch_thread

UNIFORM = ",".join(["4"] * 12)


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


def results_of(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.parametrize(
    "given", [["--preset", "tiny"], ["--mults", UNIFORM], ["--preset", "tiny", "--mults", UNIFORM]]
)
def test_a_config_excludes_preset_and_mults(
    given: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert train_main(["--config", "best.json", *given]) == 2
    flags = " and ".join(flag for flag in given if flag.startswith("--"))
    assert f"--config excludes {flags}: the config file sets the model" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_an_existing_out_is_refused_unless_overwrite_is_given(
    tmp_path: Path, tiny_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "result.json"
    out.write_text("an earlier result\n")
    command = ["--preset", "tiny", "--tokens", "1k", *tiny_args, "--out", str(out)]
    assert train_main(command) == 2
    assert f"--out: {out} exists; give --overwrite to replace it" in capsys.readouterr().err
    assert out.read_text() == "an earlier result\n"
    assert train_main(["--preset", "tiny", "--tokens", "1k", *tiny_args, "--overwrite"]) == 2
    assert "--overwrite needs --out" in capsys.readouterr().err

    assert train_main([*command, "--overwrite"]) == 0
    assert results_of(out)["config"]["train"]["tokens"] == 1000


def test_a_rerun_goes_to_a_new_name_that_says_its_tokens(
    tmp_path: Path, tiny_args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    command = ["--preset", "tiny", "--tokens", "2k", *tiny_args]
    first = Path("runs", f"tiny-{UNIFORM.replace(',', '-')}-seed0-2k.json")
    assert train_main(command) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["results"] == str(first)
    earlier = first.read_text()

    assert train_main(command) == 0
    second = first.with_name(first.stem + "-2.json")
    printed = capsys.readouterr().out
    assert f"{first} holds an earlier result, so this one goes to {second}" in printed
    assert json.loads(printed.splitlines()[-1])["results"] == str(second)
    assert first.read_text() == earlier and results_of(second)["config"] == results_of(first)["config"]
    assert second.with_suffix(".curve.csv").exists() and second.with_suffix(".curve.png").exists()


def test_data_paths_are_recorded_absolute_whatever_folder_they_were_typed_in(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(corpus / "tiny" / "val-00000.jsonl.zst", home)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(corpus)
    out = tmp_path / "result.json"
    data = ["--data", "tiny/train-*.jsonl.zst", "--val-data", "~/val-00000.jsonl.zst"]
    assert train_main(["--preset", "tiny", "--tokens", "1k", *data, "--out", str(out)]) == 0
    recorded = results_of(out)["config"]["data"]
    assert recorded["train"] == [str(corpus / "tiny" / "train-*.jsonl.zst")]
    assert recorded["val"] == [str(home / "val-00000.jsonl.zst")]


def test_an_export_says_where_it_came_from_and_retrains_to_the_loss_it_promised(
    tmp_path_factory: pytest.TempPathFactory,
    corpus: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    storage = copy_study(tmp_path_factory, corpus, tmp_path)
    best = tmp_path / "best.json"
    assert best_main(["--study", STUDY, "--storage", str(storage), "--out", str(best)]) == 0
    capsys.readouterr()
    origin = results_of(best)["origin"]

    out = tmp_path / "retrained.json"
    assert train_main(["--config", str(best), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"exported from study '{STUDY}', trial {origin['trial']}, chosen by rule 'observed': " in printed
    loss, tokens = origin["observed_loss"], origin["tokens"]
    # On CPU an export retrains to its trial's loss exactly.
    assert (
        f"val loss {loss:.4f} at {tokens:,} tokens; trial {origin['trial']} had {loss:.4f} (+0.00%)"
        in printed
    )
    assert results_of(out)["config"]["origin"] == origin


def test_a_config_whose_data_changed_is_refused_unless_data_is_named(
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "corpus"
    shutil.copytree(corpus / "tiny", folder)
    spec = DataSpec(
        train=(str(folder / "train-00000.jsonl.zst"),), val=(str(folder / "val-00000.jsonl.zst"),)
    )
    prepared = prepare_data(spec, get_preset("tiny").model.vocab_size, progress=False)
    config = tmp_path / "run.json"
    save_run_config(RunConfig.from_preset("tiny", spec, prepared).variant(tokens=1024), config)
    # The training file is rewritten with the first half of its documents: same path, other data.
    train = folder / "train-00000.jsonl.zst"
    lines = zstandard.ZstdDecompressor().decompressobj().decompress(train.read_bytes()).splitlines(True)
    train.write_bytes(zstandard.ZstdCompressor().compress(b"".join(lines[: len(lines) // 2])))

    monkeypatch.chdir(tmp_path)
    assert train_main(["--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"the data differs from what {config} was trained on" in err and "Give --data" in err
    assert not Path("runs").exists()

    out = tmp_path / "result.json"
    assert train_main(["--config", str(config), "--data", str(train), "--out", str(out)]) == 0
    assert f"note: this run trains on other data than {config} recorded" in capsys.readouterr().err
    assert results_of(out)["config"]["provenance"]["data_hash"] != prepared.tokens.key
