"""Trainer throughput beside the plain compiled reference decoder, same shape, same session.

    python -m bench.trainer --presets small base --data DATA... [--reference PATH] [--cuda-graph on off]

For each preset and schedule (uniform, hand-found) it trains with ``search.training.trainer.train`` on
real data and runs ``reference_decoder.py`` (random tokens, whole-model compile) with the same
shape, then prints one JSON object: tokens/s, MFU (against the datasheet's dense bf16 peak, and
against the 790 TFLOP/s measured on an H200, the reference's denominator), peak memory, time to the
first step, and the ratio of the trainer's tokens/s to the reference's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
from pathlib import Path

from model.presets import get_preset
from search.data.prepare import prepare_data
from search.data.spec import DataSpec
from search.options.counts import parse_count
from search.training.devices import training_device
from search.training.run_config import RunConfig
from search.training.trainer import train
from space.schedule import Schedule
from space.spec import HAND_FOUND

DEFAULT_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "bench" / "reference_decoder.py"


def reference_run(
    path: Path, preset_name: str, mults: tuple[int | float, ...], steps: int
) -> dict[str, object]:
    """Run the reference decoder with a preset's shape and return its JSON line."""
    preset = get_preset(preset_name)
    model, train_settings = preset.model, preset.train
    command = [
        sys.executable, str(path),
        "--d-model", str(model.d_model),
        "--heads", str(model.n_heads),
        "--mults", ",".join(str(m) for m in mults),
        "--batch", str(train_settings.batch_size),
        "--ctx", str(model.context),
        "--vocab", str(model.vocab_size),
        "--steps", str(steps),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Measure and print the comparison."""
    parser = argparse.ArgumentParser(prog="python -m bench.trainer", description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["small"], help="presets to measure (default small)")
    parser.add_argument("--data", nargs="+", required=True, help="training files, folders or globs")
    parser.add_argument("--val-data", nargs="+", default=[], help="validation files")
    parser.add_argument("--tokens", default="4M", help="training tokens per measured run (default 4M)")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="reference_decoder.py")
    parser.add_argument("--reference-steps", type=int, default=30, help="timed steps of the reference")
    parser.add_argument("--compile-modes", nargs="+", default=["static"], choices=["static", "dynamic"])
    parser.add_argument("--cuda-graph", nargs="+", default=["on"], choices=["on", "off"], help="default on")
    args = parser.parse_args(argv)
    device = training_device()
    rows = []
    for preset_name in args.presets:
        preset = get_preset(preset_name)
        data = DataSpec(train=tuple(args.data), val=tuple(args.val_data))
        prepared = prepare_data(data, preset.model.vocab_size)
        for label, mults in (("uniform", (4,) * 12), ("hand-found", HAND_FOUND)):
            schedule = Schedule(budget=preset.model.budget, mults=mults)
            run = RunConfig.from_preset(preset_name, data, prepared).variant(
                schedule=schedule, tokens=parse_count(args.tokens)
            )
            reference = reference_run(args.reference, preset_name, mults, args.reference_steps)
            for mode, graph in itertools.product(args.compile_modes, args.cuda_graph):
                data_args = (prepared.tokens, prepared.tokenizer, device)
                ours = train(run, *data_args, compile_mode=mode, cuda_graph=graph == "on").summary()
                row = {
                    "preset": preset_name,
                    "schedule": label,
                    "compile_mode": mode,
                    "cuda_graph": graph,
                    "trainer": {
                        k: ours[k]
                        for k in (
                            "tokens_per_s",
                            "mfu",
                            "mfu_measured_ceiling",
                            "peak_mem_gb",
                            "estimated_mem_gb",
                            "first_step_s",
                            "compile_s",
                            "data_wait_s",
                            "train_s",
                        )
                    },
                    "reference": reference,
                    "ratio_tokens_per_s": round(
                        float(ours["tokens_per_s"]) / float(reference["tokens_per_s"]), 3
                    ),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(json.dumps({"device": str(device), "runs": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
