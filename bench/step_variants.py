"""Where the trainer's step loses time against the reference decoder: ablations in one session.

    python -m bench.step_variants --preset small [--reference PATH]

Times one training step (forward, backward, fused AdamW, and gradient clipping for the trainer
as in its loop; bf16 autocast) of the hand-found schedule on random tokens, for the reference
decoder (whole-model compile) and for this project's decoder (per-block static compile, as the
trainer runs it), under each attention backend and with or without the rotary embedding the
reference lacks. Every variant runs in its own process with Inductor's caches off, so one
variant's kernels are never reused by the next. Prints one JSON line per variant.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from bench.trainer import DEFAULT_REFERENCE
from model import decoder
from model.presets import get_preset
from search.compiling import compile_model
from space.schedule import Schedule
from space.spec import HAND_FOUND

VARIANTS = (
    ("reference", "default", "rotary"),
    ("reference", "flash", "rotary"),
    ("reference", "cudnn", "rotary"),
    ("trainer", "default", "rotary"),
    ("trainer", "flash", "rotary"),
    ("trainer", "cudnn", "rotary"),
    ("trainer", "default", "no-rotary"),
)


def use_attention_backend(name: str) -> None:
    """Allow only the named SDPA backend (``default``: PyTorch's own choice); never the slow
    math fallback, so an unsupported backend fails instead of being timed."""
    cuda = torch.backends.cuda
    cuda.enable_flash_sdp(name in ("flash", "default"))
    cuda.enable_mem_efficient_sdp(name == "default")
    cuda.enable_cudnn_sdp(name in ("cudnn", "default"))
    cuda.enable_math_sdp(False)


def step_seconds(
    model: torch.nn.Module, fwd: torch.nn.Module, batch: int, context: int, vocab: int, clip: bool
) -> tuple[float, float]:
    """(first step, mean of 30 steps after 3 warm-up steps) in seconds."""
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(params, lr=1e-4, fused=True)
    idx, tgt = (torch.randint(0, vocab, (batch, context), device="cuda") for _ in range(2))

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = fwd(idx, tgt)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    started = time.perf_counter()
    step()
    torch.cuda.synchronize()
    first = time.perf_counter() - started
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(30):
        step()
    torch.cuda.synchronize()
    return first, (time.perf_counter() - started) / 30


def measure(
    preset_name: str, model_kind: str, backend: str, rotary: str, reference: Path
) -> dict[str, object]:
    """Time one variant in this process."""
    use_attention_backend(backend)
    preset = get_preset(preset_name)
    shape, batch = preset.model, preset.train.batch_size
    torch.manual_seed(0)
    if model_kind == "reference":
        spec = importlib.util.spec_from_file_location("reference_decoder", reference)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        widths = [m * shape.d_model for m in HAND_FOUND]
        model = module.Decoder(shape.vocab_size, shape.d_model, shape.n_heads, widths).cuda()
        fwd = torch.compile(model)
    else:
        if rotary == "no-rotary":  # an ablation only: what the rotary embedding costs
            decoder.apply_rotary = lambda x, cos, sin: x
        config = shape.with_schedule(Schedule(budget=shape.budget, mults=HAND_FOUND))
        with torch.device("cuda"):
            model = decoder.Decoder(config)
        fwd = compile_model(model, "static", config.budget.distinct_widths)
    # Each steps as it trains: the reference's own loop does not clip gradients, the trainer does.
    clip = model_kind == "trainer"
    first, step = step_seconds(model, fwd, batch, shape.context, shape.vocab_size, clip)
    return {
        "preset": preset_name,
        "model": model_kind,
        "attention": backend,
        "rotary": rotary,
        "tokens_per_s": round(batch * shape.context / step),
        "step_ms": round(step * 1e3, 2),
        "first_step_s": round(first, 1),
        "peak_mem_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Run every variant in a child process (or, with --one, a single variant here)."""
    parser = argparse.ArgumentParser(prog="python -m bench.step_variants", description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small", help="model shape (default small)")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="reference_decoder.py")
    parser.add_argument("--one", nargs=3, metavar=("MODEL", "ATTENTION", "ROTARY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        parser.error("needs a CUDA GPU")
    if args.one:
        print(json.dumps(measure(args.preset, *args.one, args.reference)), flush=True)
        return 0
    env = {**os.environ, "TORCHINDUCTOR_FX_GRAPH_CACHE": "0", "TORCHINDUCTOR_AUTOGRAD_CACHE": "0"}
    for variant in VARIANTS:
        command = [sys.executable, "-m", "bench.step_variants", "--preset", args.preset,
                   "--reference", str(args.reference), "--one", *variant]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        lines = done.stdout.strip().splitlines()
        if done.returncode == 0 and lines:
            print(lines[-1], flush=True)
        else:
            failure = (done.stderr.strip().splitlines() or ["no output"])[-1]
            print(json.dumps({"preset": args.preset, "variant": variant, "error": failure}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
