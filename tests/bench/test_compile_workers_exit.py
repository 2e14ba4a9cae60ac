import json

import pytest

from bench import compile_workers_exit


def test_each_exit_is_timed_with_the_workers_left_and_stopped_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert compile_workers_exit.main(["--runs", "1"]) == 0
    left, stopped = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert left["workers"] == "left" and stopped["workers"] == "stopped"
    # Both processes had the pool's process; only the second stopped it, which took time.
    assert left["pool_processes"] >= 1 and stopped["pool_processes"] >= 1
    assert left["stop_s"] == 0 and stopped["stop_s"] > 0
    assert left["exit_s"] > 0 and stopped["exit_s"] > 0


def test_runs_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        compile_workers_exit.main(["--runs", "0"])
    assert "--runs must be at least 1" in capsys.readouterr().err
