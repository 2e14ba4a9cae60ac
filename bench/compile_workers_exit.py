"""What Inductor's compile workers cost a process's exit: ``python -m bench.compile_workers_exit``

A fresh process starts the compile workers (``search.training.compiling.start_compile_workers``, as
a worker does before its first trial), waits until they are ready and exits: either leaving them to
torch's exit handler, which waits for them, or stopping them first (``stop_compile_workers``, as a
worker now does once its trials are done, while it waits for the other workers or they exit).
Printed per run as JSON: the processes the workers took (the pool's process, whose own workers are
its children), the stop's seconds and the exit's, from the process's last line to its end as this
process sees it. Waiting for the workers to be ready starts them where torch would not at a first
compile (without Triton, on a CPU-only build), so this runs on CPU too.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

_CHILD = """
import sys, time
from pathlib import Path
from torch._inductor.async_compile import AsyncCompile
from search.training.compiling import start_compile_workers, stop_compile_workers

def children():
    return [c for t in Path("/proc/self/task").iterdir() for c in (t / "children").read_text().split()]

start_compile_workers()
AsyncCompile.wait_pool_ready(timeout=300)
pool = len(children())
started = time.perf_counter()
if sys.argv[1] == "stopped":
    stop_compile_workers()
print(pool, time.perf_counter() - started, time.perf_counter(), flush=True)
"""


def one_exit(how: str) -> dict[str, float | str | int]:
    """One fresh process exiting ``how``: its workers "left" to torch's exit handler, or "stopped"."""
    child = subprocess.run([sys.executable, "-c", _CHILD, how], capture_output=True, text=True, check=False)
    ended = time.perf_counter()  # CLOCK_MONOTONIC, shared with the child
    if child.returncode != 0:
        raise SystemExit(child.stderr.strip().splitlines()[-1])
    pool, stop_s, last_line = child.stdout.split()
    return {
        "workers": how,
        "pool_processes": int(pool),
        "stop_s": round(float(stop_s), 3),
        "exit_s": round(ended - float(last_line), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compile_workers_exit", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="processes each way (default 3)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, not {args.runs}")
    for _ in range(args.runs):
        for how in ("left", "stopped"):
            print(json.dumps(one_exit(how)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
