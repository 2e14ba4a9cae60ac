"""The decoder's Triton kernels compiled as a study launches (``search.training.kernel_warm_up``),
in a process of its own, while this one checks its inputs, imports and compiles its graphs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from search.options.search_options import SearchOptions
from search.study.settings import BUILTIN_OBJECTIVE
from search.training.devices import GPU_DEFAULT_PRESET
from search.trials.spawning import expected_workers


def start_kernel_warm_up(preset: str, device: str) -> subprocess.Popen[bytes]:
    """The warm-up for ``preset``'s shape on ``device``, started. In a session of its own, so a
    Ctrl-C meant for the study does not print its traceback; its one-line note on a failure goes
    to this process's stderr."""
    command = [sys.executable, "-m", "search.training.kernel_warm_up", "--preset", preset, "--device", device]
    return subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True
    )


@contextmanager
def kernels_compiled_ahead(options: SearchOptions) -> Iterator[subprocess.Popen[bytes] | None]:
    """The warm-up on the first GPU the study trains on, started now when it trains the built-in
    decoder on CUDA (None otherwise: on CPU nothing compiles); ended with the block if still
    running, as when the run is refused at once."""
    gpus, _ = expected_workers(options)
    if not gpus or options.objective != BUILTIN_OBJECTIVE:
        yield None
        return
    process = start_kernel_warm_up(options.preset or GPU_DEFAULT_PRESET, f"cuda:{gpus[0]}")
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait()
