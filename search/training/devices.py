"""Which device trains, and which preset fits it by default. torch is imported when asked: a
command's --help and its input errors do not wait for it."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

GPU_DEFAULT_PRESET = "small"
CPU_DEFAULT_PRESET = "tiny"


def training_device() -> torch.device:
    """The current CUDA GPU (set per worker), else the CPU."""
    import torch

    return (
        torch.device("cuda", torch.cuda.current_device())
        if torch.cuda.is_available()
        else torch.device("cpu")
    )


def training_autocast(device: torch.device) -> AbstractContextManager[object]:
    """Mixed precision as the trainer uses it: bf16 autocast on CUDA, plain fp32 elsewhere."""
    import torch

    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def default_preset() -> tuple[str, str]:
    """The preset to use when none is named, and a sentence saying why."""
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return GPU_DEFAULT_PRESET, f"CUDA GPU found ({name}): using the '{GPU_DEFAULT_PRESET}' preset"
    return CPU_DEFAULT_PRESET, f"no CUDA GPU: using the CPU-sized '{CPU_DEFAULT_PRESET}' preset"


def driver_gpu_count() -> int:
    """The CUDA GPUs this process sees, as the CUDA driver counts them: what
    ``torch.cuda.device_count()`` says, without importing torch (1.4 s on a CPU machine), so that
    workers can be started before it. 0 where no driver loads (a machine without NVIDIA GPUs)."""
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    count = ctypes.c_int(0)
    # cuInit reads CUDA_VISIBLE_DEVICES once, as torch's first CUDA call would; each returns 0 on success.
    if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value


def visible_device(visible: str | None, gpu: int) -> str:
    """The ``CUDA_VISIBLE_DEVICES`` entry of GPU number ``gpu`` as this process numbers them:
    ``--gpus`` counts the GPUs this process sees, which ``visible`` (when set) already narrows."""
    if visible is None:
        return str(gpu)
    return [entry.strip() for entry in visible.split(",")][gpu]


@contextmanager
def children_see_only(gpu: int | None) -> Iterator[None]:
    """While inside, this process's environment names only GPU ``gpu`` (numbered as this process
    sees them; None leaves it as it is): a process spawned meanwhile reads it at its start and sees
    that GPU alone. Restored on leaving."""
    saved = os.environ.get("CUDA_VISIBLE_DEVICES")
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = visible_device(saved, gpu)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = saved
