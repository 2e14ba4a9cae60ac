"""python -m space.check: a schedule against a budget, as JSON, without the model."""

from __future__ import annotations

import json

import pytest

from space.check import main

HAND = "8,4,4,4,3,3,3,3,4,4,4,4"


def test_a_fitting_schedule_reports_its_widths_and_mlp_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([HAND]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] and report["widths"][0] == 8 * 512
    assert report["mlp_params_by_layer"][0] == 3 * 512 * 8 * 512
    assert report["mlp_params"] == report["budget_mlp_params"] == 3 * 512 * 48 * 512


def test_a_schedule_off_the_budget_names_the_problem(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["8,4,4,4,3,3,3,3,4,4,4,5"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"valid": False, "error": "sum is 49, budget is 48"}
    assert "sum is 49" in captured.err


def test_a_bad_layer_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["8,4,x,4,3,3,3,3,4,4,4,4"]) == 2
    assert "layer 2" in capsys.readouterr().err


def test_the_budget_follows_the_options(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = tmp_path / "space.json"
    settings.write_text(json.dumps({"space": "composition", "min_mult": 0}))
    assert (
        main(["0,8,4,4,4,4,4,4,4,4,4,4", "--d-model", "32", "--width-align", "32", "--space", str(settings)])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["widths"][:2] == [0, 8 * 32] and report["budget"]["d_model"] == 32
