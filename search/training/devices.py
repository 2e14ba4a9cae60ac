"""Which device trains, and which preset fits it by default. torch is imported when asked: a
command's --help and its input errors do not wait for it."""

from __future__ import annotations

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


def default_preset() -> tuple[str, str]:
    """The preset to use when none is named, and a sentence saying why."""
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return GPU_DEFAULT_PRESET, f"CUDA GPU found ({name}): using the '{GPU_DEFAULT_PRESET}' preset"
    return CPU_DEFAULT_PRESET, f"no CUDA GPU: using the CPU-sized '{CPU_DEFAULT_PRESET}' preset"
