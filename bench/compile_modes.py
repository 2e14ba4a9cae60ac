"""Which compilation strategy trains fastest and compiles least across schedules of different widths.

    python -m bench.compile_modes --preset small --steps 40

For each strategy it builds the decoder for the uniform and the hand-found schedule in turn (in
one process, so later schedules show whether compiled code is reused), trains ``--steps`` steps
on random tokens and prints one JSON line per (strategy, schedule): tokens/s, the CPU time to
issue one step (close to the step time means the CPU, not the GPU, limits speed), the first
step's time (compile) and the number of graphs dynamo compiled so far.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch._dynamo
from torch._dynamo.utils import counters

from model.decoder import Decoder
from model.presets import get_preset
from search.training.compiling import compile_model
from search.training.devices import training_device
from space.schedule import Schedule
from space.spec import HAND_FOUND

# Static first: the dynamic strategies change process-wide dynamo settings.
STRATEGIES: dict[str, Callable[[Decoder], torch.nn.Module]] = {
    "eager": lambda model: model,
    "whole_static": torch.compile,
    "regional_static": lambda model: compile_model(model, "static", model.config.budget.distinct_widths),
    "regional_dynamic": lambda model: compile_model(model, "dynamic", model.config.budget.distinct_widths),
}


def measure(strategy: str, preset_name: str, mults: tuple[int, ...], steps: int) -> dict[str, object]:
    """Train ``steps`` steps of one schedule under one strategy; its speed figures."""
    preset = get_preset(preset_name)
    config = preset.model.with_schedule(Schedule(budget=preset.model.budget, mults=mults))
    batch, context = preset.train.batch_size, config.context
    torch.manual_seed(0)
    device = training_device()
    with device:
        model = Decoder(config)
    model.init_weights(0.02)
    step_fn = STRATEGIES[strategy](model)
    cuda = device.type == "cuda"
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=cuda)
    idx = torch.randint(0, config.vocab_size, (batch, context), device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = step_fn(idx, idx)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    started = time.perf_counter()
    step()
    sync()
    first_s = time.perf_counter() - started
    for _ in range(3):
        step()
    sync()
    issue: list[float] = []
    started = time.perf_counter()
    for _ in range(steps):
        t = time.perf_counter()
        step()
        issue.append(time.perf_counter() - t)
    sync()
    step_s = (time.perf_counter() - started) / steps
    return {
        "strategy": strategy,
        "schedule": ",".join(map(str, mults)),
        "tokens_per_s": round(batch * context / step_s),
        "step_ms": round(step_s * 1000, 2),
        "cpu_issue_ms": round(statistics.median(issue) * 1000, 2),
        "first_step_s": round(first_s, 2),
        "graphs_so_far": counters["stats"]["unique_graphs"],
    }


def main(argv: list[str] | None = None) -> int:
    """Measure every strategy in a fresh dynamo state each, print JSON lines."""
    parser = argparse.ArgumentParser(prog="python -m bench.compile_modes", description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    args = parser.parse_args(argv)
    for strategy in args.strategies:
        torch._dynamo.reset()
        counters.clear()
        for mults in ((4,) * 12, HAND_FOUND):
            print(json.dumps(measure(strategy, args.preset, mults, args.steps)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
