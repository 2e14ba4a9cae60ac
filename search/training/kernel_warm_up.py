"""The decoder's own Triton kernels compiled before a study's first step:
``python -m search.training.kernel_warm_up --preset small --device cuda:0``

With empty caches a study's first trial compiled them at their first call: 2.5 s of its first
forward on an H200 host, and more in its first backward (README, "Cold start"). ``search.run``
starts this as it launches, in a process of its own that needs neither Dynamo nor Inductor, so
it is done long before the trial's compiled graphs first call the kernels. It runs one eager
training step and one evaluation step of a one-block decoder, which call every kernel as a
trial's compiled graphs do, so the kernels land in Triton's on-disk cache. Kernels compile per
model shape, not per MLP width (a width is a runtime argument), so one width serves every trial.
"""

from __future__ import annotations

import argparse
import sys

import torch

from model.config import ModelConfig
from model.presets import get_preset
from search.training.devices import training_autocast
from search.training.one_block import one_block_decoder, step_and_evaluate, use_width


def run_each_kernel(config: ModelConfig, batch_size: int, device: torch.device) -> None:
    """One training step and one evaluation step, eager, of a one-block decoder of ``config``'s
    shape (its MLP the mean width) on batches of ``batch_size`` sequences."""
    width = next(w for w in config.budget.widths_nearest_mean if w)
    model, ids = one_block_decoder(config, batch_size, device)
    use_width(model, width, device)
    step_and_evaluate(model, model, ids, training_autocast(device))
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m search.training.kernel_warm_up", description=__doc__)
    parser.add_argument("--preset", required=True)
    parser.add_argument("--device", required=True)
    args = parser.parse_args(argv)
    try:
        preset = get_preset(args.preset)
        run_each_kernel(preset.model, preset.train.batch_size, torch.device(args.device))
    except Exception as e:  # the first trial compiles them itself: say so, do not stop the study
        print(
            f"note: the decoder's kernels were not compiled ahead ({e}); the first trial compiles them",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
