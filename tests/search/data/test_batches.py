import gc
import threading

import numpy as np
import pytest
import torch

from search.data.batches import BatchLoader, batch_starts, val_batches, window_order

CONTEXT = 16


@pytest.fixture(scope="module")
def tokens() -> np.ndarray:
    """A split of 10,001 distinct tokens (uint16, as in the cache): 625 windows of 16."""
    return np.arange(10_001, dtype=np.uint16)


def loader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "hourglass-batches"]


def expected_batch(tokens: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    windows = np.stack([tokens[s : s + CONTEXT + 1] for s in starts]).astype(np.int64)
    return windows[:, :-1], windows[:, 1:]


def test_a_pass_visits_every_window_once_without_overlap():
    order = window_order(10_001, CONTEXT, seed=3)
    assert len(order) == 625
    assert sorted(order.tolist()) == list(range(0, 10_000, CONTEXT))
    assert order.max() + CONTEXT + 1 <= 10_001  # every window fits, targets included
    covered = np.concatenate([np.arange(s, s + CONTEXT) for s in order])
    assert len(np.unique(covered)) == len(covered)  # no input token is seen twice in a pass


def test_the_order_depends_on_the_seed_only():
    assert np.array_equal(window_order(10_001, CONTEXT, 7), window_order(10_001, CONTEXT, 7))
    assert not np.array_equal(window_order(10_001, CONTEXT, 7), window_order(10_001, CONTEXT, 8))
    assert np.array_equal(batch_starts(10_001, CONTEXT, 8, 7, 50), batch_starts(10_001, CONTEXT, 8, 7, 50))
    assert not np.array_equal(
        batch_starts(10_001, CONTEXT, 8, 7, 50), batch_starts(10_001, CONTEXT, 8, 8, 50)
    )


def test_a_longer_run_starts_fresh_passes_seeded_from_seed_and_pass():
    starts = batch_starts(10_001, CONTEXT, batch_size=10, seed=1, steps=150)  # 1,500 windows: 2.4 passes
    assert starts.shape == (150, 10) and starts.dtype == np.int64
    flat = starts.ravel()
    passes = [window_order(10_001, CONTEXT, 1, p) for p in range(3)]
    assert np.array_equal(flat[:625], passes[0])
    assert np.array_equal(flat[625:1250], passes[1])
    assert np.array_equal(flat[1250:], passes[2][:250])
    assert not np.array_equal(passes[0], passes[1])
    # a shorter run with the same seed sees the same batches as the start of a longer one
    assert np.array_equal(batch_starts(10_001, CONTEXT, 10, 1, 40), starts[:40])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((16, CONTEXT, 4, 0, 1), "16 tokens do not hold one window of context 16"),
        ((1000, CONTEXT, 0, 0, 1), "batch_size must be positive"),
        ((1000, 0, 4, 0, 1), "context must be at least 1"),
        ((1000, CONTEXT, 4, -1, 1), "seed and pass_index must be non-negative"),
    ],
)
def test_bad_shapes_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        batch_starts(*args)


def test_the_loader_yields_exactly_what_batch_starts_says(tokens):
    starts = batch_starts(len(tokens), CONTEXT, 8, 5, 200)
    with BatchLoader(tokens, CONTEXT, 8, 5, 200) as loader:
        assert len(loader) == 200
        batches = list(loader)
    assert len(batches) == 200
    for (inputs, targets), step_starts in zip(batches, starts, strict=True):
        assert inputs.dtype == targets.dtype == torch.int64
        assert inputs.shape == targets.shape == (8, CONTEXT) and inputs.device.type == "cpu"
        expected_inputs, expected_targets = expected_batch(tokens, step_starts)
        assert np.array_equal(inputs.numpy(), expected_inputs)
        assert np.array_equal(targets.numpy(), expected_targets)
    # batches kept by the consumer are its own: later batches do not overwrite them
    assert not np.shares_memory(batches[0][0].numpy(), batches[-1][0].numpy())


def test_the_same_seed_gives_the_same_batches_on_memmapped_tokens(tokens, tmp_path):
    path = tmp_path / "train.bin"
    tokens.tofile(path)
    mapped = np.memmap(path, dtype=np.uint16, mode="r")
    runs = []
    for seed in (11, 11, 12):
        with BatchLoader(mapped, CONTEXT, 4, seed, 30) as loader:
            runs.append(torch.stack([torch.cat(batch) for batch in loader]))
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_the_wait_for_batches_is_recorded(tokens):
    with BatchLoader(tokens, CONTEXT, 8, 0, 20) as loader:
        assert loader.wait_s == 0
        for _ in loader:
            pass
    assert loader.wait_s > 0


def test_closing_early_stops_the_thread_and_ends_iteration(tokens):
    loader = BatchLoader(tokens, CONTEXT, 8, 0, 1000, prefetch=2)
    next(loader)
    loader.close()
    loader.close()  # twice is fine
    assert not loader_threads()
    with pytest.raises(StopIteration):
        next(loader)


def test_leaving_a_with_block_early_stops_the_thread(tokens):
    with BatchLoader(tokens, CONTEXT, 8, 0, 1000) as loader:
        for step, _ in enumerate(loader):
            if step == 3:
                break
    assert not loader_threads()


def test_a_dropped_loader_is_collected_and_its_thread_stopped(tokens):
    loader = BatchLoader(tokens, CONTEXT, 8, 0, 1000, prefetch=1)
    next(loader)
    del loader
    gc.collect()
    assert not loader_threads()


def test_an_error_in_the_loader_thread_reaches_the_consumer():
    broken = np.array([None] * 1000, dtype=object)  # cannot become int64
    with BatchLoader(broken, CONTEXT, 4, 0, 10) as loader, pytest.raises(TypeError):
        next(loader)
    assert not loader_threads()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_batches_arrive_on_the_gpu_and_match(tokens):
    starts = batch_starts(len(tokens), CONTEXT, 8, 2, 300)
    with BatchLoader(tokens, CONTEXT, 8, 2, 300, "cuda", prefetch=2) as loader:
        # Slots are reused: keep every batch so that a slot overwritten too early would show.
        batches = [(inputs.clone(), targets.clone()) for inputs, targets in loader]
    for (inputs, targets), step_starts in zip(batches, starts, strict=True):
        assert inputs.is_cuda and targets.is_cuda
        expected_inputs, expected_targets = expected_batch(tokens, step_starts)
        assert np.array_equal(inputs.cpu().numpy(), expected_inputs)
        assert np.array_equal(targets.cpu().numpy(), expected_targets)


def test_validation_batches_are_the_first_tokens_in_consecutive_windows(tokens):
    batches = val_batches(tokens, CONTEXT, batch_size=3, n_tokens=170)  # 10 windows: 3 + 3 + 3 + 1
    assert [x.shape[0] for x, _ in batches] == [3, 3, 3, 1]
    inputs = torch.cat([x for x, _ in batches]).ravel().numpy()
    targets = torch.cat([y for _, y in batches]).ravel().numpy()
    assert np.array_equal(inputs, tokens[:160]) and np.array_equal(targets, tokens[1:161])
    again = val_batches(tokens, CONTEXT, batch_size=3, n_tokens=170)
    assert all(
        torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(batches, again, strict=True)
    )


def test_validation_needs_enough_tokens(tokens):
    message = (
        "the validation split holds 10,000 tokens, but 10,000 validation tokens at context 16 need 10,001"
    )
    with pytest.raises(ValueError, match=message):
        val_batches(tokens[:10_000], CONTEXT, 4, 10_000)
    with pytest.raises(ValueError, match="8 validation tokens are less than one context of 16"):
        val_batches(tokens, CONTEXT, 4, 8)
