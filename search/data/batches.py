"""Which windows of the token cache each step trains on, and loading them without stalling the GPU.

The order depends only on the seed and the cache, never on the schedule being trained, so every
trial of a study with the same seed sees exactly the same batches: schedules are compared on equal
data (a paired comparison), and a difference between two trials is the architecture's alone.
"""

from __future__ import annotations

import queue
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

# Batches gathered ahead of the consumer: enough to ride out a slow read from the page cache.
DEFAULT_PREFETCH = 4


def _window_count(n_tokens: int, context: int) -> int:
    if context < 1:
        raise ValueError(f"context must be at least 1, not {context}")
    count = (n_tokens - 1) // context
    if count < 1:
        raise ValueError(f"{n_tokens} tokens do not hold one window of context {context} + 1 tokens")
    return count


def window_order(n_tokens: int, context: int, seed: int, pass_index: int = 0) -> np.ndarray:
    """Start offsets of all windows of ``context + 1`` tokens at stride ``context``, shuffled.

    Windows share only their boundary token (the last target of one is the first input of the
    next), so within a pass every token is an input at most once. The order is a permutation drawn
    from ``PCG64`` seeded with (``seed``, ``pass_index``): it depends on nothing else.
    """
    if seed < 0 or pass_index < 0:
        raise ValueError(f"seed and pass_index must be non-negative, not {seed} and {pass_index}")
    rng = np.random.Generator(np.random.PCG64([seed, pass_index]))
    return rng.permutation(_window_count(n_tokens, context)).astype(np.int64) * context


def batch_starts(n_tokens: int, context: int, batch_size: int, seed: int, steps: int) -> np.ndarray:
    """Window starts of every step, shape (steps, batch_size): consecutive passes over the windows,
    each a fresh permutation seeded from (``seed``, pass), cut into batches."""
    if batch_size < 1 or steps < 0:
        raise ValueError(f"batch_size must be positive and steps non-negative, not {batch_size} and {steps}")
    needed = steps * batch_size
    passes = -(-needed // _window_count(n_tokens, context))
    order = [window_order(n_tokens, context, seed, p) for p in range(passes)]
    flat = np.concatenate(order) if order else np.empty(0, dtype=np.int64)
    return flat[:needed].reshape(steps, batch_size)


def _gather(
    tokens: np.ndarray, starts: np.ndarray, context: int, inputs: np.ndarray, targets: np.ndarray
) -> None:
    """Copy each window into a row of ``inputs`` and, shifted by one token, of ``targets`` (as int64)."""
    for row, start in enumerate(starts):
        window = tokens[start : start + context + 1]
        inputs[row] = window[:-1]
        targets[row] = window[1:]


@dataclass
class _Slot:
    """One batch's CPU tensors; on CUDA pinned and reused, with the event that marks their last copy done."""

    inputs: torch.Tensor
    targets: torch.Tensor
    copied: torch.cuda.Event | None = None


@dataclass(frozen=True)
class _Failure:
    error: BaseException


def _take_slot(free: queue.Queue[_Slot | None] | None, shape: tuple[int, int]) -> _Slot | None:
    """Fresh tensors on CPU; on CUDA the next free pinned slot once its last copy is done (None: stop)."""
    if free is None:
        return _Slot(torch.empty(shape, dtype=torch.int64), torch.empty(shape, dtype=torch.int64))
    slot = free.get()
    if slot is not None and slot.copied is not None:
        slot.copied.synchronize()
    return slot


def _produce(
    tokens: np.ndarray,
    starts: np.ndarray,
    context: int,
    ready: queue.Queue[_Slot | _Failure],
    free: queue.Queue[_Slot | None] | None,
    stop: threading.Event,
) -> None:
    """The loader thread: fill a slot per step and queue it, until done or stopped.

    It is given only what it needs, never the loader itself, so that a loader nobody holds any more
    can be garbage-collected (and its finalizer stop this thread).
    """
    try:
        for step_starts in starts:
            slot = _take_slot(free, (len(step_starts), context))
            if slot is None or stop.is_set():
                return
            _gather(tokens, step_starts, context, slot.inputs.numpy(), slot.targets.numpy())
            ready.put(slot)
    except BaseException as error:  # handed to the consumer, which raises it in its own thread
        ready.put(_Failure(error))


def _shutdown(
    stop: threading.Event,
    ready: queue.Queue[_Slot | _Failure],
    free: queue.Queue[_Slot | None] | None,
    thread: threading.Thread,
) -> None:
    """Stop the loader thread wherever it waits, and join it."""
    stop.set()
    if free is not None:
        free.put(None)  # wakes it if it waits for a free slot
    # Emptying the queue wakes it if it waits for room; it then sees ``stop`` before its next put.
    while True:
        try:
            ready.get_nowait()
        except queue.Empty:
            break
    thread.join()


class BatchLoader:
    """``(inputs, targets)`` int64 tensors of shape (batch_size, context) on ``device``, for ``steps`` steps.

    Batches are exactly those of ``batch_starts``. A background thread gathers them from the
    memmapped tokens a few batches ahead, into pinned buffers copied to the GPU without blocking
    when ``device`` is CUDA. ``wait_s`` adds up the seconds the consumer was blocked waiting for a
    batch (the data-stall time). Close it, use it as a context manager, or drop it: the thread stops
    in every case.
    """

    def __init__(
        self,
        tokens: np.ndarray,
        context: int,
        batch_size: int,
        seed: int,
        steps: int,
        device: torch.device | str = "cpu",
        *,
        prefetch: int = DEFAULT_PREFETCH,
    ) -> None:
        if prefetch < 1:
            raise ValueError(f"prefetch must be at least 1, not {prefetch}")
        self.starts = batch_starts(len(tokens), context, batch_size, seed, steps)
        self.device = torch.device(device)
        self.wait_s = 0.0
        self._step = 0
        self._ready: queue.Queue[_Slot | _Failure] = queue.Queue(maxsize=prefetch)
        self._free: queue.Queue[_Slot | None] | None = None
        if self.device.type == "cuda":
            # One slot per queued batch, one being filled and one whose copy may still run.
            self._free = queue.Queue()
            for _ in range(prefetch + 2):
                inputs, targets = (
                    torch.empty(batch_size, context, dtype=torch.int64, pin_memory=True) for _ in range(2)
                )
                self._free.put(_Slot(inputs, targets))
        stop = threading.Event()
        thread = threading.Thread(
            target=_produce,
            args=(tokens, self.starts, context, self._ready, self._free, stop),
            name="hourglass-batches",
            daemon=True,
        )
        thread.start()
        self._finalizer = weakref.finalize(self, _shutdown, stop, self._ready, self._free, thread)

    def __len__(self) -> int:
        return len(self.starts)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._step >= len(self.starts) or not self._finalizer.alive:
            raise StopIteration
        began = time.perf_counter()
        item = self._ready.get()
        self.wait_s += time.perf_counter() - began
        if isinstance(item, _Failure):
            raise item.error
        self._step += 1
        if self.device.type == "cpu":
            return item.inputs, item.targets
        cuda = self.device.type == "cuda"
        inputs = item.inputs.to(self.device, non_blocking=cuda)
        targets = item.targets.to(self.device, non_blocking=cuda)
        if self._free is not None:
            item.copied = torch.cuda.Event()
            item.copied.record()
            self._free.put(item)
        return inputs, targets

    def close(self) -> None:
        """Stop the loader thread; iteration ends. Safe to call more than once."""
        self._finalizer()

    def __enter__(self) -> BatchLoader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def val_batches(
    val_tokens: np.ndarray, context: int, batch_size: int, n_tokens: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The fixed validation set: the first ``n_tokens`` of the split (rounded down to whole
    contexts) as consecutive windows, in batches of up to ``batch_size``, as CPU int64 tensors.

    It depends only on the cache, so every trial is scored on the same tokens.
    """
    windows = n_tokens // context
    if windows < 1:
        raise ValueError(f"{n_tokens} validation tokens are less than one context of {context}")
    needed = windows * context + 1
    if len(val_tokens) < needed:
        raise ValueError(
            f"the validation split holds {len(val_tokens):,} tokens, but {windows * context:,} "
            f"validation tokens at context {context} need {needed:,}: use fewer validation tokens "
            "or more validation text"
        )
    data = torch.from_numpy(np.asarray(val_tokens[:needed], dtype=np.int64))
    inputs, targets = data[:-1].view(windows, context), data[1:].view(windows, context)
    return [(inputs[i : i + batch_size], targets[i : i + batch_size]) for i in range(0, windows, batch_size)]
