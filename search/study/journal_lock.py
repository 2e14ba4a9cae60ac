"""The journal file's lock, safe to interrupt.

Optuna's journal locks wait for the lock file in a retry loop, and when anything interrupts the
wait (a Ctrl-C reaching every worker at once, a SIGTERM passed on to a worker) they delete the
lock file, which is the one its current holder made: two processes then write at once and the
holder's release fails. Here every writer first takes an ``flock`` of its own on a file beside
the journal; an interrupt while waiting for it leaves the other writer's lock alone, and the
kernel drops it when its holder dies. Optuna's symlink lock is still taken under it, so writers
that use only Optuna's lock (the dashboard saving a note) stay excluded.
"""

from __future__ import annotations

import fcntl
import threading
from typing import IO

from optuna.storages.journal import JournalFileSymlinkLock


class InterruptSafeLock(JournalFileSymlinkLock):
    """Optuna's symlink lock for ``journal``, taken under an ``flock`` on ``journal.flock``.

    It is a JournalFileSymlinkLock for the type the journal backend takes, but the symlink lock it
    takes is a separate one: Optuna's lock calls its own ``release`` to break a stale lock while
    it waits, and that must not drop the flock this one holds.
    """

    def __init__(self, journal: str) -> None:
        super().__init__(journal)
        self._symlink = JournalFileSymlinkLock(journal)
        self._flock_path = journal + ".flock"
        # One handle per thread: a worker's heartbeat and its main thread write to the journal at once.
        self._held = threading.local()

    def acquire(self) -> bool:
        handle: IO[str] = open(self._flock_path, "a")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            self._symlink.acquire()
        except BaseException:
            handle.close()  # closing drops the flock, if it was taken
            raise
        self._held.handle = handle
        return True

    def release(self) -> None:
        handle: IO[str] = self._held.handle
        self._held.handle = None
        try:
            self._symlink.release()
        finally:
            handle.close()
