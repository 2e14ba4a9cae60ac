"""The journal's lock: one writer at a time, and an interrupt while waiting leaves the holder's
lock in place (Optuna's own locks delete it)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

from search.study.journal_lock import InterruptSafeLock

SPAWN = multiprocessing.get_context("spawn")


def wait_for_the_lock(journal: str, waiting: str) -> None:
    """Child process: announce, then wait for a lock that the parent holds (until interrupted)."""
    lock = InterruptSafeLock(journal)
    Path(waiting).touch()
    lock.acquire()


def test_an_interrupted_waiter_leaves_the_holders_lock(tmp_path: Path) -> None:
    journal = str(tmp_path / "studies.db")
    holder = InterruptSafeLock(journal)
    holder.acquire()
    waiting = tmp_path / "waiting"
    child = SPAWN.Process(target=wait_for_the_lock, args=(journal, str(waiting)))
    child.start()
    try:
        deadline = time.monotonic() + 60
        while not waiting.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # into its wait
        assert child.is_alive()
        os.kill(child.pid, signal.SIGINT)
        child.join(timeout=30)
        assert child.exitcode not in (0, None)  # the interrupt ended its wait
        assert os.path.lexists(journal + ".lock")  # the holder's lock is still there
        holder.release()  # and releasing it works
    finally:
        if child.is_alive():
            child.kill()
    assert not os.path.lexists(journal + ".lock")


def test_threads_of_one_process_write_one_at_a_time(tmp_path: Path) -> None:
    lock = InterruptSafeLock(str(tmp_path / "studies.db"))
    inside = 0
    most = 0
    guard = threading.Lock()

    def write() -> None:
        nonlocal inside, most
        for _ in range(20):
            lock.acquire()
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(0.001)
            with guard:
                inside -= 1
            lock.release()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
