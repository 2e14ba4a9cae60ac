"""Stopping cleanly on SIGTERM (a timeout, a cluster's preemption) exactly as on Ctrl-C."""

from __future__ import annotations

import signal


def interrupt(signum: int, frame: object) -> None:
    """A signal handler that raises KeyboardInterrupt, so every clean-up path for Ctrl-C runs."""
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """Make SIGTERM behave like Ctrl-C in this process."""
    signal.signal(signal.SIGTERM, interrupt)
