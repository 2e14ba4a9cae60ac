"""Stopping cleanly on Ctrl-C or SIGTERM (a timeout, a cluster's preemption), never halfway
through writing to the study.

An interrupt raises KeyboardInterrupt in the main thread wherever it happens to be. Landing just
after a storage call took a lock and before its ``with`` block began, it leaves the lock taken for
good and the process deadlocks at its next storage call (its clean-up's included). So a worker's
bookkeeping runs with interrupts deferred: one that arrives is noted and raised at the next safe
point (the top of the worker's loop, or the start of training), while training itself, the long
part, stays interruptible.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

# Whether an interrupt raises at once, innermost section last; interrupts raise outside any section.
_raise_now: list[bool] = [True]
_pending: list[bool] = [False]


def interrupt(signum: int, frame: object) -> None:
    """The handler of SIGINT and SIGTERM: raise KeyboardInterrupt now, or note it for later."""
    if _raise_now[-1]:
        raise KeyboardInterrupt
    _pending[0] = True


def stop_on_sigterm() -> None:
    """Make SIGTERM behave like Ctrl-C in this process, both through :func:`interrupt`."""
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def raise_if_interrupted() -> None:
    """A safe point: raise the interrupt that arrived while interrupts were deferred."""
    if _pending[0]:
        _pending[0] = False
        raise KeyboardInterrupt


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Within the block an interrupt is only noted (writes to the study are never cut short)."""
    _raise_now.append(False)
    try:
        yield
    finally:
        _raise_now.pop()


def exit_on_sigterm() -> None:
    """In a worker that its parent ends with SIGTERM: exit through SystemExit, so that exit handlers
    still run, and ignore any later SIGTERM (``timeout`` signals the whole process group, then the
    parent signals its workers again) so none cuts them short. Killed outright, a process leaves the
    semaphores of its multiprocessing locks (tqdm makes one) to the resource tracker, which warns of
    them as leaked."""
    signal.signal(signal.SIGTERM, _exit_now)


def _exit_now(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def ignore_interrupts_from_now() -> None:
    """In a process already stopping on an interrupt: ignore any later Ctrl-C or SIGTERM, so none
    cuts the stop short. Ignored, not noted: Python gives a handled signal back its default action
    as the interpreter ends, and a Ctrl-C then killed the process instead of letting it exit with
    its code."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@contextmanager
def interruptible() -> Iterator[None]:
    """Within the block an interrupt raises at once; one noted before raises on entering it."""
    _raise_now.append(True)
    try:
        raise_if_interrupted()
        yield
    finally:
        _raise_now.pop()


@contextmanager
def started_deaf_to_ctrl_c() -> Iterator[None]:
    """Processes started within the block begin with Ctrl-C ignored: an ignored signal stays
    ignored across exec, and Python then installs no KeyboardInterrupt handler, so a Ctrl-C in
    their first imports prints no traceback. A Ctrl-C reaching this process's main thread meanwhile
    is held, not dropped, and raised as the block ends. A process started here may inherit the
    hold as well (seen with multiprocessing's spawn): it calls :func:`hear_ctrl_c` once it runs."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if handler is None else handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def hear_ctrl_c() -> None:
    """In a process started deaf to Ctrl-C: from now on a Ctrl-C goes to :func:`interrupt`."""
    signal.signal(signal.SIGINT, interrupt)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
