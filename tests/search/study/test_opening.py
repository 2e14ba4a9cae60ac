"""Creating and resuming a study: a resumed study keeps the model and recipe it was created with,
and refuses settings that would make it another study."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from search.data.spec import DataSpec
from search.study.opening import open_study
from search.study.settings import StudySettings
from search.study.storage import open_storage
from search.training.run_config import RunConfig
from space.spec import SpaceSpec


def settings(**changes: object) -> StudySettings:
    base = RunConfig.from_preset("tiny", DataSpec(train=("corpus.jsonl",)), None).variant(**changes)
    return StudySettings(preset="tiny", space=SpaceSpec(), objective="builtin", base=base)


def open_tiny(storage: Path, asked: StudySettings) -> tuple[optuna.Study, StudySettings, bool]:
    space = asked.space.build(asked.base.model.budget)
    sampler, pruner = optuna.samplers.RandomSampler(seed=0), optuna.pruners.NopPruner()
    return open_study(open_storage(str(storage)), "S", asked, space, sampler, pruner)


def test_a_new_study_queues_its_baselines_and_keeps_its_settings(tmp_path: Path) -> None:
    study, kept, created = open_tiny(tmp_path / "s.db", settings(warmup_frac=0.05))
    assert created and kept.base.train.warmup_frac == 0.05
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert [t.user_attrs.get("baseline") for t in waiting] == ["uniform"] * 3 + ["hand-found"]


def test_a_resumed_study_trains_with_the_recipe_it_was_created_with(tmp_path: Path) -> None:
    open_tiny(tmp_path / "s.db", settings(warmup_frac=0.05, lr=1e-2))
    before = (tmp_path / "s.db").read_bytes()
    asked = settings(warmup_frac=0.3, lr=2e-3)  # the preset's recipe changed since
    _, kept, created = open_tiny(tmp_path / "s.db", asked)
    assert not created and (kept.base.train.warmup_frac, kept.base.train.lr) == (0.05, 1e-2)
    assert {path for path, _, _ in kept.kept(asked)} == {"base.train.lr", "base.train.warmup_frac"}
    assert (tmp_path / "s.db").read_bytes()[: len(before)] == before


@pytest.mark.parametrize(
    ("changes", "field"), [({"seed": 3}, "base.seed"), ({"tokens": 4096}, "base.train.tokens")]
)
def test_what_the_command_line_asks_must_agree(tmp_path: Path, changes: dict, field: str) -> None:
    open_tiny(tmp_path / "s.db", settings())
    with pytest.raises(ValueError, match=f"created with other settings \\({field}"):
        open_tiny(tmp_path / "s.db", settings(**changes))
