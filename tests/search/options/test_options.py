"""Command lines read into frozen, validated options: defaults in one place, errors naming the option."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from search.options.search_options import SearchOptions, read_search_options
from search.options.study_options import read_confirm_options, read_export_options
from search.options.train_options import read_train_options


def test_search_defaults_are_the_models() -> None:
    options = read_search_options(None, [])
    assert options == SearchOptions()
    assert (options.trials, options.study, options.storage, options.data) == (
        50,
        "hourglass",
        "studies.db",
        None,
    )
    assert options.text_field == "text"
    assert options.builtin_objective and options.gpus is None and options.tokens is None


def test_counts_gpus_and_lists_are_parsed() -> None:
    options = read_search_options(
        None, ["--tokens", "20M", "--gpus", "1,0", "--data", "a", "b", "--objective", "m:f", "--wandb"]
    )
    assert options.tokens == 20_000_000 and options.gpus == (0, 1) and options.data == ("a", "b")
    assert not options.builtin_objective and options.wandb and options.time_limit is None
    assert read_search_options(None, ["--time-limit", "45m"]).time_limit == 2700.0
    assert read_search_options(None, ["--time-limit", "1.5h"]).time_limit == 5400.0
    assert read_search_options(None, ["--time-limit", "90"]).time_limit == 90.0
    assert read_search_options(None, ["--compile-cache", "kernels"]).compile_cache == "kernels"
    assert options.compile_cache is None
    with pytest.raises(ValidationError):
        options.trials = 3  # type: ignore[misc]


# What each bad command line is told (tests/search/trials/test_faults.py runs more through search.run).
BAD_SEARCH_OPTIONS = {
    "--trials 0": "--trials: must be at least 1, got 0",
    "--workers 0": "--workers: must be at least 1, got 0",
    "--tokens 20X": "--tokens: '20X' is not a count",
    "--gpus a,b": "--gpus: must be GPU numbers like 0,1",
    "--study ../x": "--study: study name '../x'",
    "--preset huge": "--preset: unknown preset 'huge'",
    "--objective nocolon": "--objective: must look like module:function",
    "--seed -1": "--seed: must be at least 0",
    "--time-limit soon": "--time-limit: 'soon' is not a duration",
    "--time-limit 0m": "--time-limit: '0m' must be a positive, finite duration",
    "--compile-cache /dev/null": "--compile-cache: '/dev/null' is a file, not a folder",
}


@pytest.mark.parametrize(("command_line", "message"), BAD_SEARCH_OPTIONS.items())
def test_bad_search_options_name_the_option(command_line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_search_options(None, command_line.split())


def test_train_options_leave_unset_values_to_the_config() -> None:
    options = read_train_options(None, ["--config", "run.json", "--tokens", "1.5B"])
    assert options.config == "run.json" and options.tokens == 1_500_000_000
    assert options.seed is None and options.data is None and not options.deterministic


def test_study_command_options() -> None:
    confirm = read_confirm_options(None, ["--top", "2", "--tokens", "200M"])
    assert (confirm.top, confirm.seeds, confirm.tokens, confirm.study) == (2, 5, 200_000_000, "hourglass")
    with pytest.raises(ValueError, match="--seeds: must be at least 1"):
        read_confirm_options(None, ["--seeds", "0"])
    with pytest.raises(SystemExit):
        read_export_options(None, [])  # --out is required


def test_confirm_reads_an_objective_only_from_its_command_line() -> None:
    assert read_confirm_options(None, []).objective is None
    assert read_confirm_options(None, ["--objective", "pkg.mod:score"]).objective == "pkg.mod:score"
    for spec in ("nocolon", "mod:", ":score"):
        with pytest.raises(ValueError, match=f"--objective: must look like module:function, got '{spec}'"):
            read_confirm_options(None, ["--objective", spec])


def test_export_options_choose_a_rule_or_a_trial() -> None:
    assert read_export_options(None, ["--out", "b.json"]).choice is None
    assert read_export_options(None, ["--out", "b.json", "--rule", "model"]).choice == "model"
    assert read_export_options(None, ["--out", "b.json", "--trial", "0"]).choice == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rule", "observed", "--trial", "3"], "--rule and --trial exclude each other"),
        (["--rule", "best"], "--rule: Input should be 'confirmed', 'model' or 'observed'"),
        (["--trial", "-2"], "--trial: must be at least 0, got -2"),
    ],
)
def test_bad_export_options_name_the_option(argv: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_export_options(None, ["--out", "b.json", *argv])
