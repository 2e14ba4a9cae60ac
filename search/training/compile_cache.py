"""Where compiled kernels are kept: ``search.run --compile-cache DIR`` points Inductor's and
Triton's on-disk caches into one folder, e.g. beside the study, so that a fresh machine given the
folder, another host sharing it, or the study's next run finds its widths compiled. Without it
they stay in Inductor's and Triton's default folders (on one host: ``/tmp`` and ``~/.triton``).

Set before torch compiles anything and before workers are spawned, which inherit it; nothing is
written until something compiles. The caches' keys hold torch's version and the GPU's, so a
folder used by other machines hands each only what it can run.
"""

from __future__ import annotations

import os
from pathlib import Path


def use_compile_cache(folder: str | None) -> None:
    """Keep this process's (and its children's) compiled kernels in ``folder`` (None: the defaults)."""
    if folder is None:
        return
    root = Path(folder).absolute()
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(root / "inductor")
    os.environ["TRITON_CACHE_DIR"] = str(root / "triton")
