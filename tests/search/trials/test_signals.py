"""Interrupts: raised at once where a worker trains, noted and raised at a safe point where it
writes to the study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from search.trials.signals import deferred_interrupts, interruptible, raise_if_interrupted, stop_on_sigterm


@pytest.fixture
def handlers() -> Iterator[None]:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    stop_on_sigterm()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])


@pytest.mark.usefixtures("handlers")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_raises_at_once_outside_any_section(signum: int) -> None:
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signum)


@pytest.mark.usefixtures("handlers")
def test_a_deferred_interrupt_waits_for_the_next_safe_point() -> None:
    with deferred_interrupts():
        os.kill(os.getpid(), signal.SIGINT)  # noted, not raised: a write here finishes
        reached = True
        with pytest.raises(KeyboardInterrupt):
            raise_if_interrupted()
        raise_if_interrupted()  # raised once only
    assert reached


@pytest.mark.usefixtures("handlers")
def test_training_inside_deferred_bookkeeping_stays_interruptible() -> None:
    with deferred_interrupts():
        with pytest.raises(KeyboardInterrupt), interruptible():
            os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)  # back in bookkeeping: noted
        with pytest.raises(KeyboardInterrupt), interruptible():  # raised on entering training
            pytest.fail("training must not start with an interrupt pending")


def test_a_process_stopping_on_an_interrupt_ignores_the_next_even_in_a_training_section() -> None:
    # In a process of its own: from the call on, the process never raises on an interrupt again.
    program = """
import os, signal
from search.trials.signals import interruptible, ignore_interrupts_from_now, stop_on_sigterm
stop_on_sigterm()
ignore_interrupts_from_now()
with interruptible():
    os.kill(os.getpid(), signal.SIGINT)
    os.kill(os.getpid(), signal.SIGTERM)
print("stopped on my own terms")
raise SystemExit(130)
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (130, "stopped on my own terms\n", "")
