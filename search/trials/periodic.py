"""One action repeated at a fixed interval from a background thread while a block runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Self


class Periodic:
    """Calls ``action`` every ``seconds`` from a daemon thread while the ``with`` block runs,
    until the block ends or ``action`` returns False."""

    def __init__(self, seconds: float, action: Callable[[], bool | None], name: str) -> None:
        self._seconds = seconds
        self._action = action
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._repeat, name=name, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _repeat(self) -> None:
        while not self._stop.wait(self._seconds):
            if self._action() is False:
                return
