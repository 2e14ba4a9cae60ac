"""Trials per hour of one ``search.run`` study: ``python -m bench.scaling --gpus 0,1 -- OPTIONS``

Runs ``python -m search.run`` as a fresh study (its own journal file unless ``--storage`` names
one) with ``--gpus`` (or ``--workers`` on CPU) and the ``search.run`` options given after ``--``,
then prints one JSON object:

- ``wall_s`` and ``trials_per_hour``: from launching the command to its exit, start-up, compiling
  and the wait for the last worker included;
- ``steady_trials_per_hour``: each worker's finished trials after its first one, over the time
  from its first finished trial to its last, summed over workers (what a long study converges to);
- ``exit_after_last_trial_s``: from the last trial's end to the command's exit (waiting workers
  noticing, the closing report, the processes' ends);
- ``study_efficiency``: the finished trials' pure training time (tokens at the steady rate, no
  start-up, compiling or evaluation) over GPUs x ``wall_s``: the share of the GPUs' time that
  trained (null for an objective that records no tokens);
- per worker: when its first trial started, when that trial was training (its first step done,
  so compiled: ``first_training_s``, the trial's start plus its run's time to that step, so without
  the tenths of a second of bookkeeping between them) and when its first and last trials finished,
  in seconds from the launch, how many trials it finished, and the seconds its first trial and all
  its later ones spent compiling (null for an objective that records none). Compiling is what the
  worker waited for, background compiling not included; later trials' includes capturing each
  trial's step as a CUDA graph.

``--cold`` gives the study empty Inductor and Triton caches of its own, as on a fresh machine (and
so its own background compiling: see ``search.trials.background_compiling``).

Run it once with one GPU and once with two, same options, and divide: that is the scaling figure
the README gives.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from search.study import record
from search.study.storage import open_storage
from search.trials.liveness import worker_of

STUDY = "scaling"


def trials_by_worker(trials: list[FrozenTrial]) -> dict[tuple[str, int], list[FrozenTrial]]:
    """The started trials of each worker (host and pid), each worker's in the order they started."""
    by_worker: dict[tuple[str, int], list[FrozenTrial]] = defaultdict(list)
    for trial in trials:
        worker = worker_of(trial)
        if worker is not None and trial.datetime_start is not None:
            by_worker[worker].append(trial)
    for own in by_worker.values():
        own.sort(key=lambda t: t.datetime_start)  # type: ignore[arg-type, return-value]
    return dict(by_worker)


def worker_figures(trials: list[FrozenTrial], launched: datetime) -> list[dict[str, Any]]:
    """Per worker (host and pid), sorted by first start: its finished trials and when it started
    and finished them, in seconds after ``launched``."""
    rows: list[dict[str, Any]] = []
    for (host, pid), in_order in trials_by_worker(trials).items():
        finished = [t for t in in_order if t.state == TrialState.COMPLETE]
        done = sorted(t.datetime_complete for t in finished if t.datetime_complete is not None)
        compiling = [t.user_attrs.get(record.COMPILE_S) for t in in_order]
        known = [c for c in compiling if c is not None]
        first_start_s = (in_order[0].datetime_start - launched).total_seconds()  # type: ignore[operator]
        first_step_s = in_order[0].user_attrs.get(record.FIRST_STEP_S)
        rows.append(
            {
                "worker": f"{host}:{pid}",
                "finished": len(done),
                "first_start_s": first_start_s,
                "first_training_s": None if first_step_s is None else first_start_s + first_step_s,
                "first_done_s": (done[0] - launched).total_seconds() if done else float("nan"),
                "last_done_s": (done[-1] - launched).total_seconds() if done else float("nan"),
                "first_trial_compile_s": compiling[0],
                "later_compile_s": sum(known[1:]) if compiling[0] is not None else None,
            }
        )
    return sorted(rows, key=lambda row: float(row["first_start_s"]))


def cold_cache_env(folder: Path) -> dict[str, str]:
    """This process's environment with empty Inductor and Triton caches under ``folder`` (Triton's
    own cache holds the project's kernels, which Inductor does not compile), and an empty bytecode
    folder where Hourglass keeps the bytecode (``search.bytecode``), Python's own setting restored."""
    caches = {"TORCHINDUCTOR_CACHE_DIR": folder / "inductor", "TRITON_CACHE_DIR": folder / "triton"}
    if sys.pycache_prefix is not None:
        caches["PYTHONPYCACHEPREFIX"] = folder / "bytecode"
    for path in caches.values():
        path.mkdir(parents=True)
    env = {**os.environ, **{name: str(path) for name, path in caches.items()}}
    if sys.flags.dont_write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def steady_trials_per_hour(workers: list[dict[str, Any]]) -> float:
    """Trials per hour once every worker has finished its first trial: the sum of each worker's
    rate between its first and its last finished trial (workers with fewer than two count 0)."""
    rate = 0.0
    for row in workers:
        span = float(row["last_done_s"]) - float(row["first_done_s"])
        if int(row["finished"]) >= 2 and span > 0:
            rate += (int(row["finished"]) - 1) / span
    return rate * 3600


def study_efficiency(trials: list[FrozenTrial], devices: int, wall_s: float) -> float | None:
    """The finished trials' pure training seconds over ``devices`` x ``wall_s``; None when no
    finished trial recorded its training time."""
    seconds = [record.training_seconds(t) for t in trials if t.state == TrialState.COMPLETE]
    known = [s for s in seconds if s is not None]
    return sum(known) / (devices * wall_s) if known else None


def main(argv: list[str] | None = None) -> int:
    """Run the study and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__.split("\n")[0])
    parser.add_argument("--gpus", help="passed to search.run (default: every visible GPU)")
    parser.add_argument("--workers", type=int, help="passed to search.run (CPU workers)")
    parser.add_argument("--trials", type=int, default=20, help="the study's target (default 20)")
    parser.add_argument("--storage", help="a fresh storage for the study (default: a temporary journal file)")
    parser.add_argument("--cold", action="store_true", help="empty compile caches, as on a fresh machine")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="-- then search.run options (data, preset)")
    args = parser.parse_args(argv)
    options = args.options[1:] if args.options[:1] == ["--"] else args.options
    with tempfile.TemporaryDirectory(prefix="hourglass-scaling-") as folder:
        storage = args.storage or str(Path(folder) / "studies.db")
        command = [sys.executable, "-m", "search.run", "--study", STUDY, "--storage", storage,
                   "--trials", str(args.trials), *options]  # fmt: skip
        command += ["--gpus", args.gpus] if args.gpus else []
        command += ["--workers", str(args.workers)] if args.workers else []
        launched = datetime.now()
        started = time.perf_counter()
        env = cold_cache_env(Path(folder) / "caches") if args.cold else None
        done = subprocess.run(command, env=env)
        wall_s = time.perf_counter() - started
        if done.returncode != 0:
            print(json.dumps({"command": command, "error": f"search.run exited with {done.returncode}"}))
            return 1
        trials = optuna.load_study(study_name=STUDY, storage=open_storage(storage)).get_trials(deepcopy=False)
    finished = sum(t.state == TrialState.COMPLETE for t in trials)
    workers = worker_figures(trials, launched)
    last_done = [float(w["last_done_s"]) for w in workers if w["finished"]]
    devices = len(args.gpus.split(",")) if args.gpus else args.workers or len(workers)
    efficiency = study_efficiency(trials, devices, wall_s)
    result = {
        "command": command,
        "wall_s": round(wall_s, 2),
        "finished": finished,
        "trials_per_hour": round(finished / wall_s * 3600, 1),
        "steady_trials_per_hour": round(steady_trials_per_hour(workers), 1),
        "devices": devices,
        "cold_caches": args.cold,
        "study_efficiency": None if efficiency is None else round(efficiency, 3),
        "exit_after_last_trial_s": round(wall_s - max(last_done), 2) if last_done else None,
        "workers": workers,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
