"""Interrupts: raised at once where a worker trains, noted and raised at a safe point where it
writes to the study."""

from __future__ import annotations

import os
import signal
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
