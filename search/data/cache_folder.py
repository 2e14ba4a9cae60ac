"""Where tokenizers and token caches live, and the file lock that lets one process build while others wait."""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def cache_root() -> Path:
    """Where tokenizers and token caches live: ``$HOURGLASS_CACHE``, else ``~/.cache/hourglass``."""
    configured = os.environ.get("HOURGLASS_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "hourglass"


@contextmanager
def exclusive_lock(path: Path, waiting: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``; print ``waiting`` once if another process holds it.

    The kernel releases the lock when its holder dies, even by SIGKILL, so a crash never leaves
    the others waiting forever.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(waiting, file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
