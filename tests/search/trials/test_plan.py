"""The plan of a search: every input checked, in order, before anything is written."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from search.data.sample_corpus import sample_corpus
from search.options.search_options import read_search_options
from search.run import main as run_main
from search.trials.plan import make_plan, pruner_note
from tests.search.trials.test_faults import PLUGIN


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("HOURGLASS_CACHE", str(cache))
    return cache


def written(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("problem", ["truncated zstd", "bad JSON line", "missing field", "empty file"])
def test_a_refused_first_run_writes_nothing(fresh_cache, tmp_path, bad_data, problem, capsys):
    storage = tmp_path / "new" / "studies.db"
    storage.parent.mkdir()
    argv = ["--preset", "tiny", "--storage", str(storage), "--data", str(bad_data[problem])]
    assert run_main(argv) == 2
    assert bad_data[problem].name in capsys.readouterr().err
    assert written(storage.parent) == [] and not fresh_cache.exists()


def test_a_study_resumed_with_other_settings_is_refused_before_any_data_work(
    fresh_cache, tmp_path, tiny_args, capsys
):
    storage = tmp_path / "studies.db"
    base = ["--storage", str(storage), "--study", "S", "--trials", "2", "--tokens", "32768"]
    assert run_main([*base, "--preset", "tiny", *tiny_args]) == 0
    before, cached = storage.read_bytes(), written(fresh_cache)
    assert run_main([*base, "--preset", "small", *tiny_args]) == 2
    err = capsys.readouterr().err
    assert "base.preset: stored 'tiny', now 'small'" in err
    assert f"to continue it: python -m search.run --study S --storage {storage} --preset tiny" in err
    assert storage.read_bytes() == before  # byte for byte
    assert written(fresh_cache) == cached  # no tokenizer trained for the small preset's vocabulary


def test_without_data_a_run_trains_the_sample_corpus_and_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./data here
    plan = make_plan(read_search_options(None, ["--storage", str(tmp_path / "s.db")]), log=False)
    train, val = sample_corpus()
    assert plan.settings.base.data.train == (str(train),) and plan.settings.base.data.val == (str(val),)
    assert plan.settings.preset == "tiny"
    assert any("sample corpus" in note and "not a finding" in note for note in plan.notes)


def test_a_training_file_named_like_a_split_is_warned_about(tmp_path, corpus):
    named = tmp_path / "valid-00000.jsonl.zst"
    named.write_bytes((corpus / "tiny" / "train-00000.jsonl.zst").read_bytes())
    argv = ["--preset", "tiny", "--storage", str(tmp_path / "s.db"), "--data", str(named), *PLUGIN]
    plan = make_plan(read_search_options(None, argv), log=False)
    assert plan.notes == ()  # a user's objective reads no data: nothing to warn about
    argv = argv[: -len(PLUGIN)]
    plan = make_plan(read_search_options(None, argv), log=False)
    assert any(note.startswith("warning: ") and named.name in note for note in plan.notes)


def test_a_budget_below_one_step_is_refused(tmp_path, tiny_args):
    argv = ["--preset", "tiny", "--tokens", "100", "--storage", str(tmp_path / "s.db"), *tiny_args]
    with pytest.raises(ValueError, match="less than one step of 512 tokens"):
        make_plan(read_search_options(None, argv), log=False)
    assert not (tmp_path / "s.db").exists()


def test_whole_steps_say_how_many_tokens_they_train(tmp_path, tiny_args, capsys):
    argv = ["--preset", "tiny", "--tokens", "1000", "--trials", "1", "--storage", str(tmp_path / "s.db")]
    assert run_main([*argv, *PLUGIN, *tiny_args]) == 0
    assert "note: trains 512 tokens (1 steps of 512), not the 1,000 asked" in capsys.readouterr().out


def test_a_pruner_with_no_checkpoint_after_warm_up_to_judge_says_it_prunes_nothing(tmp_path, tiny_args):
    argv = ["--preset", "tiny", "--storage", str(tmp_path / "s.db"), *tiny_args]
    plan = make_plan(read_search_options(None, argv), log=False)
    assert pruner_note(plan) is None  # tiny: 64 steps, checkpoints after 21 and 43, warm-up 3 steps
    base = plan.settings.base
    late = replace(plan, settings=plan.settings.model_copy(update={"base": base.variant(warmup_frac=0.7)}))
    note = pruner_note(late)
    assert note is not None and "--pruner margin prunes no trial" in note
    assert "after warm-up (23,040 tokens)" in note and "at 10,752, 22,016 tokens" in note
