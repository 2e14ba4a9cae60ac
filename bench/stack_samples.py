"""Where a command's wall time goes, from samples of its main thread's stack.

    python -m bench.stack_samples --out samples.jsonl -- -m search.run --trials 2 ...
    python -m bench.stack_samples --summary samples.jsonl [--until SECONDS]

The first runs the module in this process while a thread records the main thread's stack every
``--every`` seconds (wall clock, so waiting counts too), and writes the samples as JSON lines when
the command ends. The second sums the time between samples by phase: importing, compiling (Dynamo,
AOT autograd, Inductor, Triton), training steps and the rest, each split by whether a trial was
running, and prints the largest. Threads other than the main one are not sampled: autograd's
backward runs in a thread of its own on a GPU, so its compiling shows as the step that waits for it.
"""

from __future__ import annotations

import argparse
import atexit
import json
import runpy
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType

# (substring of a frame, phase), the first that matches a sample's stack names its phase.
PHASES = (
    (":<module>", "importing"),
    ("/torch/_dynamo/", "compiling"),
    ("/torch/_functorch/", "compiling"),
    ("/torch/_inductor/", "compiling"),
    ("/triton/", "compiling"),
    ("_triton.py:", "compiling"),
    ("/training/step.py:", "training steps"),
    ("/training/trainer.py:", "training steps"),
)


def _frames(frame: FrameType | None) -> list[str]:
    """The stack from its outermost frame, each frame as ``file:function``."""
    names: list[str] = []
    while frame is not None:
        names.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")
        frame = frame.f_back
    return names[::-1]


def record(out: Path, every: float, module: str, args: list[str]) -> None:
    """Run ``module`` with ``args`` as ``python -m`` would, sampling its main thread into ``out``."""
    main = threading.get_ident()
    started = time.perf_counter()
    samples: list[tuple[float, list[str]]] = []

    def sample() -> None:
        while True:
            time.sleep(every)
            samples.append((time.perf_counter() - started, _frames(sys._current_frames().get(main))))

    def write() -> None:
        out.write_text("".join(json.dumps(s) + "\n" for s in list(samples)))

    atexit.register(write)
    threading.Thread(target=sample, daemon=True).start()
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def phase_of(stack: list[str]) -> str:
    """A sample's phase, from the frames below the sampled module's own top level (the frame after
    runpy's last)."""
    runpy_frames = [
        i for i, name in enumerate(stack) if name.startswith("<frozen runpy>:") or "/runpy.py:" in name
    ]
    called = stack[runpy_frames[-1] + 2 :] if runpy_frames else stack
    trial = "trial " if any(name.endswith(":run_trial") for name in called) else ""
    for part, phase in PHASES:
        if any(part in name for name in called):
            return trial + phase
    if not called:
        return trial + "other: idle"
    path, _, function = called[-1].rpartition(":")
    return f"{trial}other: {Path(path).parent.name}/{Path(path).name}:{function}"


def summary(samples: Path, until: float) -> list[tuple[str, float]]:
    """Seconds by phase up to ``until`` seconds, largest first."""
    seconds: Counter[str] = Counter()
    previous = 0.0
    for line in samples.read_text().splitlines():
        at, stack = json.loads(line)
        if at > until:
            break
        seconds[phase_of(stack)] += at - previous
        previous = at
    return seconds.most_common()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stack_samples", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="record: where the samples go")
    parser.add_argument("--every", type=float, default=0.01, help="record: seconds between samples")
    parser.add_argument("--summary", type=Path, help="summarise these samples instead")
    parser.add_argument("--until", type=float, default=float("inf"), help="summary: up to this second")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="record: -- -m MODULE ARGS...")
    args = parser.parse_args(argv)
    if args.summary is not None:
        for phase, seconds in summary(args.summary, args.until)[:20]:
            print(f"{seconds:8.2f} s  {phase}")
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.out is None or len(command) < 2 or command[0] != "-m":
        parser.error("record with --out FILE -- -m MODULE ARGS..., or summarise with --summary FILE")
    record(args.out, args.every, command[1], command[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
