"""Many CPU workers on the default storage: ``python -m bench.soak --workers 4 --trials 40``

Runs ``python -m search.run`` with ``--workers N`` on a fresh journal file (tiny preset, real
training) and prints one JSON object: counted trials, schedules trained twice, trials left
running, error outcomes, lines mentioning a locked database, and the wall time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from search.data.sample_corpus import sample_corpus
from search.study.record import counts
from search.study.storage import open_storage

_TRAIN, _VAL = sample_corpus()


def main(argv: list[str] | None = None) -> int:
    """Run the soak and print what it found."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--tokens", default="8k", help="training tokens per tiny trial (default 8k)")
    parser.add_argument("--data", default=str(_TRAIN), help="training data (default: the sample corpus)")
    parser.add_argument("--val-data", default=str(_VAL), help="validation data (default: the sample corpus)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        storage = str(Path(folder) / "studies.db")
        command = [sys.executable, "-m", "search.run", "--trials", str(args.trials), "--workers",
                   str(args.workers), "--preset", "tiny", "--tokens", args.tokens, "--storage", storage,
                   "--study", "soak", "--data", args.data, "--val-data", args.val_data]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
        wall_s = time.perf_counter() - started
        trials = optuna.load_study(study_name="soak", storage=open_storage(storage)).get_trials()
    trained = [t.user_attrs["schedule_key"] for t in trials if counts(t)]
    output = done.stdout + done.stderr
    print(json.dumps({
        "workers": args.workers,
        "target": args.trials,
        "exit_code": done.returncode,
        "counted": sum(counts(t) for t in trials),
        "trials_in_storage": len(trials),
        "trained_twice": len(trained) - len(set(trained)),
        "left_running": sum(t.state == TrialState.RUNNING for t in trials),
        "errors": sum(t.user_attrs.get("outcome") == "error" for t in trials),
        "locked_lines": sum("locked" in line.lower() for line in output.splitlines()),
        "workers_seen": len({t.system_attrs.get("hourglass_pid") for t in trials}),
        "wall_s": round(wall_s, 1),
    }))  # fmt: skip
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
