"""Where a worker's time goes before its first trial: ``python -m bench.startup --workers 2``

Two measurements on the sample corpus (any ``search.run`` data options work), caches warmed first:

- phases: runs the parent of ``search.run`` in a fresh interpreter with the real
  ``run_workers``, timing each start-up phase (imports, ``make_plan`` and its parts,
  ``open_plan_study``, ``Worker``) in the parent and in every spawned worker, up to the moment
  each worker would ask for its first trial (no trial runs). Times are seconds from the parent's
  process start. This parent imports every timed module before reading its options, so its
  children start after those imports; ``search.run`` starts them once its options are read.
- ``--e2e``: runs ``python -m search.run`` for real with 1 and with ``--workers`` workers and
  reports, per worker process, when its first trial started and when it was training (its first
  step done, compiling included), in seconds from the launch.

On a GPU machine ``search.run`` runs one worker per visible GPU whatever ``--workers`` says.

Prints the phase table, then one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna

import search.data.prepare
import search.data.token_cache
import search.data.tokenizer
import search.training.provenance
import search.training.run_config
import search.trials.plan
import search.trials.runner
import search.trials.spawning
import search.trials.workers
import search.trials.working
from bench.scaling import worker_figures
from model.presets import get_preset
from search.data.sample_corpus import sample_corpus
from search.data.spec import DataSpec
from search.options.search_options import read_search_options
from search.study.storage import open_storage
from search.training.compile_cache import use_compile_cache

# Imports are part of a worker's start-up: from the process start to here.
_IMPORTS_DONE = time.time()
_ROOT = Path(__file__).resolve().parents[1]
# Where a measured process appends its events (JSON lines); set by the launcher, inherited by
# spawned workers through the environment.
_EVENTS_ENV = "HOURGLASS_BENCH_STARTUP_EVENTS"
# (module, attribute, label) of what is timed.
_TIMED: list[tuple[Any, str, str]] = [
    (search.trials.plan, "make_plan", "make_plan"),
    (search.trials.plan, "open_plan_study", "open_plan_study"),
    (search.trials.working, "open_worker_plan", "open_worker_plan"),
    (search.trials.working, "open_plan_study", "open_plan_study"),
    (search.trials.workers, "plan_for_worker", "plan_for_worker"),
    (search.trials.spawning, "start_children", "start the children"),
    (search.trials.workers, "start_children", "start the children"),
    (search.trials.spawning, "driver_gpu_count", "driver gpu count (libcuda)"),
    (search.trials.working, "make_objective", "make_objective"),
    (search.trials.plan, "visible_gpus", "visible gpus (torch.cuda)"),
    (search.trials.plan, "load_space_spec", "space spec"),
    (search.trials.plan, "open_storage", "open_storage"),
    (search.trials.plan, "prepare_data", "prepare_data"),
    (search.trials.plan, "open_study", "open_study (create/load, settings check)"),
    (search.data.prepare, "resolve_inputs", "resolve_inputs"),
    (search.data.prepare, "resolve_tokenizer", "resolve_tokenizer"),
    (search.data.prepare, "load_token_data", "load_token_data"),
    (search.training.run_config, "provenance", "provenance"),
    (search.training.provenance, "code_commit", "code_commit (git)"),
    (search.data.tokenizer, "hash_inputs", "hash_inputs (tokenizer key)"),
    (search.data.tokenizer, "load_tokenizer", "load_tokenizer"),
    (search.data.token_cache, "hash_inputs", "hash_inputs (token cache key)"),
    (optuna, "get_all_study_summaries", "get_all_study_summaries"),
]


def process_start() -> float:
    """This process's start as a Unix time (to the kernel's clock tick), from /proc."""
    ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    # The start is counted on the boot clock; btime in /proc/stat is whole seconds and the wall
    # clock drifts from the boot clock, so convert through both clocks read now.
    since_start = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    return time.time() - since_start


def _record(label: str, began: float, ended: float) -> None:
    event = {"pid": os.getpid(), "label": label, "began": began, "ended": ended}
    with open(os.environ[_EVENTS_ENV], "a") as f:
        f.write(json.dumps(event) + "\n")


def _timed(function: Callable[..., Any], label: str) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.time()
        try:
            return function(*args, **kwargs)
        finally:
            _record(label, began, time.time())

    return wrapper


def _first_trial(self: search.trials.runner.Worker) -> search.trials.runner.WorkerResult:
    """Stands in for ``Worker.run``: the moment a worker would ask for its first trial."""
    _record("first trial would start", time.time(), time.time())
    return search.trials.runner.WorkerResult(0, "bench: stopped before the first trial", 0)


def _instrument() -> None:
    """Time every phase in ``_TIMED`` and stop each worker before its first trial."""
    _record("interpreter + imports", process_start(), _IMPORTS_DONE)
    for module, name, label in _TIMED:
        setattr(module, name, _timed(getattr(module, name), label))
    search.trials.runner.Worker.__init__ = _timed(search.trials.runner.Worker.__init__, "Worker()")  # type: ignore[method-assign]
    search.trials.runner.Worker.run = _first_trial  # type: ignore[method-assign]


_REAL_CHILD = search.trials.spawning._child


def _instrumented_child(*args: Any) -> None:
    """A spawned worker's entry: instrument this process, then run the real child code."""
    _record("spawn entry (main module + target unpickled)", _IMPORTS_DONE, time.time())
    _instrument()
    _REAL_CHILD(*args)


def _parent(argv: list[str]) -> int:
    """The measured parent: what ``search.run`` does, with every phase timed."""
    _instrument()
    # Spawned workers run _instrumented_child, which wraps the real entry.
    search.trials.spawning._child = _instrumented_child
    options = read_search_options(None, argv)
    use_compile_cache(options.compile_cache)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with search.trials.spawning.early_children(options) as children:
        plan = search.trials.plan.make_plan(options)
        study, plan, _ = search.trials.plan.open_plan_study(plan, 0)
        result = _timed(search.trials.workers.run_workers, "run_workers")(plan, study, children)
    return result.exit_code


def _warm(args: argparse.Namespace) -> None:
    """Build the tokenizer and token cache once, so both sides see warm caches."""
    spec = DataSpec(train=tuple(args.data), val=tuple(args.val_data))
    search.data.prepare.prepare_data(spec, get_preset(args.preset).model.vocab_size, progress=False)


def _search_args(args: argparse.Namespace, storage: str, workers: int, trials: int) -> list[str]:
    return ["--trials", str(trials), "--workers", str(workers), "--preset", args.preset,
            "--tokens", args.tokens, "--storage", storage, "--study", "startup",
            "--data", *args.data, "--val-data", *args.val_data]  # fmt: skip


def phases(args: argparse.Namespace) -> dict[str, Any]:
    """Run the instrumented parent; returns every process's phases, from the parent's start."""
    with tempfile.TemporaryDirectory() as folder:
        events_file = Path(folder) / "events.jsonl"
        command = [sys.executable, "-m", "bench.startup", "--role-parent", "--",
                   *_search_args(args, str(Path(folder) / "studies.db"), args.workers, 1)]  # fmt: skip
        env = {**os.environ, _EVENTS_ENV: str(events_file)}
        done = subprocess.run(command, cwd=_ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"the measured parent failed:\n{done.stdout}{done.stderr}")
        events = [json.loads(line) for line in events_file.read_text().splitlines()]
    parent = min(events, key=lambda e: e["began"])["pid"]
    zero = next(e["began"] for e in events if e["pid"] == parent and e["label"] == "interpreter + imports")
    processes: dict[str, list[dict[str, Any]]] = {}
    for pid in sorted({e["pid"] for e in events}, key=lambda p: (p != parent, p)):
        role = "parent" if pid == parent else f"child {pid}"
        rows = sorted((e for e in events if e["pid"] == pid), key=lambda e: (e["began"], -e["ended"]))
        processes[role] = [
            {
                "phase": e["label"],
                "depth": sum(
                    o is not e and o["began"] <= e["began"] <= e["ended"] <= o["ended"] for o in rows
                ),
                "at_s": round(e["began"] - zero, 3),
                "took_s": round(e["ended"] - e["began"], 3),
            }
            for e in rows
        ]
    return processes


def e2e(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    """The real command: when each worker process started its first trial, from the launch."""
    with tempfile.TemporaryDirectory() as folder:
        storage = str(Path(folder) / "studies.db")
        command = [sys.executable, "-m", "search.run", *_search_args(args, storage, workers, 2 * workers)]
        launched = time.time()
        done = subprocess.run(command, cwd=_ROOT, capture_output=True, text=True)
        wall_s = time.time() - launched
        if done.returncode != 0:
            raise SystemExit(f"search.run failed:\n{done.stdout}{done.stderr}")
        trials = optuna.load_study(study_name="startup", storage=open_storage(storage)).get_trials()
    per_worker = worker_figures(trials, datetime.fromtimestamp(launched))
    return {
        "workers": workers,
        "first_trial_s": sorted(round(float(w["first_start_s"]), 2) for w in per_worker),
        # When each worker's first trial was training (first step done, so compiled), or None.
        "first_training_s": [
            None if (at := w["first_training_s"]) is None else round(float(at), 2) for w in per_worker
        ],
        "wall_s": round(wall_s, 2),
    }


def _print_table(processes: dict[str, list[dict[str, Any]]]) -> None:
    for role, rows in processes.items():
        print(f"{role}:", file=sys.stderr)
        for row in rows:
            name = "  " * row["depth"] + row["phase"]
            print(f"  {name:<58} at {row['at_s']:7.3f} s  took {row['took_s']:7.3f} s", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Warm the caches, measure, print the table and the JSON."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["--role-parent", "--"]:
        return _parent(argv[2:])
    sample_train, sample_val = sample_corpus()
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--tokens", default="64k", help="training tokens per trial for --e2e (default 64k)")
    parser.add_argument("--data", nargs="+", default=[str(sample_train)])
    parser.add_argument("--val-data", nargs="+", default=[str(sample_val)])
    parser.add_argument("--e2e", action="store_true", help="also time the real command, 1 vs --workers")
    args = parser.parse_args(argv)
    _warm(args)
    processes = phases(args)
    _print_table(processes)
    report: dict[str, Any] = {"phases": processes}
    if args.e2e:
        report["e2e"] = [e2e(args, 1), e2e(args, args.workers)]
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
