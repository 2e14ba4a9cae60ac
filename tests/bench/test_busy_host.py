import json
import time

from bench.busy_host import busy_processes, main


def test_spinning_processes_run_for_the_context_only():
    with busy_processes(2) as spinners:
        time.sleep(0.2)
        assert len(spinners) == 2 and all(s.is_alive() for s in spinners)
    assert all(not s.is_alive() for s in spinners)


def test_each_load_is_measured_with_the_graph_and_without(corpus, capsys):
    data = ["--data", str(corpus / "tiny" / "train-00000.jsonl.zst")]
    val = ["--val-data", str(corpus / "tiny" / "val-00000.jsonl.zst")]
    assert main(["--preset", "tiny", "--busy", "0", "1", "--tokens", "4096", *data, *val]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    runs = [(r["busy_processes"], r["cuda_graph"]) for r in summary["runs"]]
    assert runs == [(0, True), (0, False), (1, True), (1, False)]
    assert all(r["tokens_per_s"] > 0 for r in summary["runs"])
