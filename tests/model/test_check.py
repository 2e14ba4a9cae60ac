"""python -m model.check: a schedule at a preset, with the whole model's parameter count and FLOPs."""

from __future__ import annotations

import json

import pytest
import torch

from model.check import main
from model.decoder import Decoder
from model.presets import get_preset
from space.schedule import Schedule

HAND = (8, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4)


@pytest.mark.parametrize("preset", ["tiny", "small", "base"])
def test_the_count_is_the_budgets_and_the_built_models(
    preset: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([",".join(map(str, HAND)), "--preset", preset]) == 0
    report = json.loads(capsys.readouterr().out)
    model = get_preset(preset).model
    assert report["params"] == report["budget_params"] == model.params
    config = model.with_schedule(Schedule(budget=model.budget, mults=HAND))
    with torch.device("meta"):
        built = Decoder(config)
    assert report["params"] == sum(p.numel() for p in built.parameters())
    assert report["flops_per_token"] == config.flops_per_token


def test_an_unknown_preset_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["4,4,4,4,4,4,4,4,4,4,4,4", "--preset", "huge"]) == 2
    assert "unknown preset 'huge'" in capsys.readouterr().err
