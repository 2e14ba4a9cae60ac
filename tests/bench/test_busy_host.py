import json
import multiprocessing
import time

import pytest

import bench.busy_host
from bench.busy_host import busy_processes, main
from search.training.outcome import TrainResult
from search.training.trainer import train


def test_spinning_processes_run_for_the_context_only():
    with busy_processes(2) as spinners:
        time.sleep(0.2)
        assert len(spinners) == 2 and all(s.is_alive() for s in spinners)
    assert all(not s.is_alive() for s in spinners)


def test_each_load_is_measured_with_the_graph_and_without(corpus, capsys, monkeypatch: pytest.MonkeyPatch):
    # The real trainer runs; beside each run is noted what spun during it and what it measured.
    runs: list[dict[str, object]] = []

    def noted_train(*args: object, **kwargs: object) -> TrainResult:
        spinning = sum(p.is_alive() for p in multiprocessing.active_children())
        result = train(*args, **kwargs)
        graph = kwargs.get("cuda_graph", True)
        runs.append(
            {"busy_processes": spinning, "cuda_graph": graph, "tokens_per_s": round(result.tokens_per_s)}
        )
        return result

    monkeypatch.setattr(bench.busy_host, "train", noted_train)
    data = ["--data", str(corpus / "tiny" / "train-00000.jsonl.zst")]
    val = ["--val-data", str(corpus / "tiny" / "val-00000.jsonl.zst")]
    assert main(["--preset", "tiny", "--busy", "0", "1", "--tokens", "4096", *data, *val]) == 0
    *lines, last = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(last)
    # The first run only compiles, unloaded and unreported; each reported row is one measured run.
    warm_up, *measured = runs
    assert warm_up["busy_processes"] == 0
    assert [json.loads(line) for line in lines] == summary["runs"] == measured
    assert [(r["busy_processes"], r["cuda_graph"]) for r in measured] == [
        (0, True),
        (0, False),
        (1, True),
        (1, False),
    ]
    assert not multiprocessing.active_children()
