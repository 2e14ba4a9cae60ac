"""Trainer throughput while other processes keep the host's cores busy, with the CUDA graph and without.

    python -m bench.busy_host --preset small --busy 0 16 32 --data DATA... --val-data VAL...

Trains the hand-found schedule with ``search.training.trainer.train`` once to compile, then, for each
count of spinning processes, once with the step replayed as a CUDA graph and once without.
Without the graph every kernel is launched from Python, so a busy host leaves the GPU waiting.
Prints one JSON line per run, then a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from model.presets import get_preset
from search.data.prepare import prepare_data
from search.data.spec import DataSpec
from search.options.counts import parse_count
from search.training.devices import training_device
from search.training.run_config import RunConfig
from search.training.trainer import train
from space.schedule import Schedule
from space.spec import HAND_FOUND


def _spin() -> None:
    while True:
        pass


@contextmanager
def busy_processes(count: int) -> Iterator[list[multiprocessing.Process]]:
    """``count`` processes spinning on the CPU for as long as the context lasts."""
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(count)]
    for spinner in spinners:
        spinner.start()
    try:
        yield spinners
    finally:
        for spinner in spinners:
            spinner.terminate()
        for spinner in spinners:
            spinner.join()


def main(argv: list[str] | None = None) -> int:
    """Measure and print the runs."""
    parser = argparse.ArgumentParser(prog="python -m bench.busy_host", description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small", help="model shape and settings (default small)")
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 16], help="spinners (default 0 16)")
    parser.add_argument("--data", nargs="+", required=True, help="training files, folders or globs")
    parser.add_argument("--val-data", nargs="+", default=[], help="validation files")
    parser.add_argument("--tokens", default="4M", help="training tokens per run (default 4M)")
    args = parser.parse_args(argv)
    preset = get_preset(args.preset)
    data = DataSpec(train=tuple(args.data), val=tuple(args.val_data))
    prepared = prepare_data(data, preset.model.vocab_size)
    schedule = Schedule(budget=preset.model.budget, mults=HAND_FOUND)
    run = RunConfig.from_preset(args.preset, data, prepared).variant(
        schedule=schedule, tokens=parse_count(args.tokens)
    )
    device = training_device()
    train(run, prepared.tokens, prepared.tokenizer, device)  # compiles, so no measured run does
    rows = []
    for count in args.busy:
        with busy_processes(count):
            for graph in (True, False):
                result = train(run, prepared.tokens, prepared.tokenizer, device, cuda_graph=graph)
                tokens_per_s = round(result.tokens_per_s)
                row = {"busy_processes": count, "cuda_graph": graph, "tokens_per_s": tokens_per_s}
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(json.dumps({"preset": args.preset, "device": str(device), "runs": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
