"""Bitwise-repeatable training on the GPU, switched on for one run at a time.

Without it, two GPU runs of one config share their first step and then drift apart: backward
kernels (attention's among them) add partial results with atomics, in whatever order the
threads finish. With it, a retrained export gives its trial's loss exactly, at some cost in
speed (measured by ``python -m bench.step_variants``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

# cuBLAS's workspace setting that PyTorch requires before it allows deterministic matmuls; it is
# read when cuBLAS first runs in a process, so it is set before the run builds its model.
CUBLAS_WORKSPACE_CONFIG = ":4096:8"


@contextmanager
def deterministic_kernels(enabled: bool) -> Iterator[None]:
    """While active and ``enabled``, every kernel is deterministic: flash attention's
    deterministic backward (PyTorch never picks cuDNN attention then), Inductor's reductions
    compiled without on-device autotuning, cuBLAS with a fixed workspace. An operation with no
    deterministic version raises instead of running. The previous setting is restored after."""
    if not enabled:
        yield
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE_CONFIG)
    was_enabled = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_enabled, warn_only=was_warn_only)
