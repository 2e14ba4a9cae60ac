"""Every file in studies/ parses: study settings files and exported run configs alike."""

import json
from pathlib import Path

import pytest

from model.presets import PRESETS
from search.training.run_config import load_run_config
from space.spec import baseline_schedules, load_space_spec

STUDIES = sorted((Path(__file__).resolve().parents[1] / "studies").glob("*.json"))


def test_there_are_study_files():
    assert STUDIES


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_study_file_parses(path):
    data = json.loads(path.read_text())
    if "model" in data:  # an exported best config
        config = load_run_config(path)
        assert config.params == config.model.params
        return
    spec = load_space_spec(str(path))
    for preset in PRESETS.values():
        space = spec.build(preset.model.budget)
        assert baseline_schedules(spec, space)
