"""Many training runs spread over the GPUs: one process per GPU takes the next run from a queue.

The benchmarks that train panels of schedules (``bench.noise``, ``bench.recipe``) hand this module
their runs, each with a kernel variant: ``default`` trains as a study does (the project's Triton
ops, PyTorch's choice of attention kernel: cuDNN's on an H200), ``tensor-code`` with the three ops
replaced by their tensor-code twins, ``flash`` with flash attention only. A variant changes a
process for good (replaced methods, kernel switches), so each variant gets processes of its own.
Every run returns its figures and its per-step loss curve.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bench import step_variants
from search.data.prepare import PreparedData, SentData
from search.training.devices import children_see_only, training_device
from search.training.outcome import TrainingFailed
from search.training.run_config import RunConfig
from search.training.trainer import train

Variant = Literal["default", "tensor-code", "flash"]
VARIANTS: tuple[Variant, ...] = ("default", "tensor-code", "flash")
_TENSOR_CODE = ("rotary-tensor-code", "swiglu-tensor-code", "loss-tensor-code")


@dataclass(frozen=True)
class Job:
    """One training run: a label to report it by, its config and the kernels it runs with."""

    label: str
    run: RunConfig
    variant: Variant = "default"


def use_variant(variant: Variant) -> None:
    """Switch this process to ``variant``'s kernels (for the rest of its life)."""
    if variant == "tensor-code":
        step_variants.use_changes(_TENSOR_CODE)
    elif variant == "flash":
        step_variants.use_attention_backend("flash")


def run_jobs(jobs: Sequence[Job], prepared: PreparedData, gpus: Sequence[int]) -> list[dict[str, Any]]:
    """Train every job, spread over ``gpus`` (this process trains nothing); results in job order,
    each its summary, loss curve, label and variant, or the reason it failed."""
    data = SentData.of(prepared)
    results: dict[int, dict[str, Any]] = {}
    context = multiprocessing.get_context("spawn")
    for variant in VARIANTS:
        mine = [(i, job) for i, job in enumerate(jobs) if job.variant == variant]
        if not mine:
            continue
        todo: multiprocessing.Queue[tuple[int, Job] | None] = context.Queue()
        done: multiprocessing.Queue[tuple[int, dict[str, Any]]] = context.Queue()
        for item in mine:
            todo.put(item)
        workers = [
            context.Process(target=_work, args=(gpu, variant, data, todo, done), name=f"gpu-{gpu}")
            for gpu in gpus[: len(mine)]
        ]
        for _ in workers:
            todo.put(None)
        for gpu, worker in zip(gpus, workers, strict=False):
            with children_see_only(gpu):
                worker.start()
        for _ in mine:
            index, result = _next_result(done, workers)
            results[index] = result
            print(f"[{result['label']}] {result.get('val_loss', result.get('failed'))}", flush=True)
        for worker in workers:
            worker.join()
    return [results[i] for i in range(len(jobs))]


def _next_result(
    done: multiprocessing.Queue[tuple[int, dict[str, Any]]], workers: list[multiprocessing.Process]
) -> tuple[int, dict[str, Any]]:
    while True:
        try:
            return done.get(timeout=5)
        except queue.Empty:
            if not any(w.is_alive() for w in workers):
                raise RuntimeError("every GPU process ended with runs left; see its error above") from None


def _work(
    gpu: int,
    variant: Variant,
    data: SentData,
    todo: multiprocessing.Queue[tuple[int, Job] | None],
    done: multiprocessing.Queue[tuple[int, dict[str, Any]]],
) -> None:
    use_variant(variant)
    prepared = data.open()
    device = training_device()
    while (item := todo.get()) is not None:
        index, job = item
        result: dict[str, Any] = {"label": job.label, "variant": variant, "gpu": gpu}
        try:
            trained = train(job.run, prepared.tokens, prepared.tokenizer, device)
        except TrainingFailed as e:
            result["failed"] = f"{e.kind}: {e.reason}"
        else:
            result |= {**trained.summary(), "loss_curve": trained.loss_curve}
        done.put((index, result))
