"""Where the trainer's step loses time against the reference decoder: ablations in one session.

    python -m bench.step_variants --preset small [--reference PATH]

Times one training step (forward, backward, fused AdamW, and gradient clipping for the trainer
as in its loop; bf16 autocast) of the hand-found schedule on random tokens, for the reference
decoder (whole-model compile) and for this project's decoder (per-block static compile, as the
trainer runs it), under each attention backend, and with one change to the trainer's step:

- ``no-rotary``: without the rotary embedding the reference lacks (an ablation);
- ``rotary-tensor-code``: the rotation as tensor code that Inductor compiles (the decoder's until
  2026-11-29), instead of the ``hourglass::rotary_qkv`` op and its Triton kernels;
- ``swiglu-tensor-code``: SwiGLU's gating as tensor code (``silu(gate) * up``, the decoder's
  until 2026-11-29) instead of the ``hourglass::swiglu`` op and its Triton kernels;
- ``loss-tensor-code``: the head's matmul and the cross-entropy as tensor code (the decoder's
  until 2026-11-29) instead of the ``hourglass::head_cross_entropy`` op and its Triton kernel;
- ``rotary-flip``: the rotary tensor code with the rotation written as ``x cos + flip(x) sin`` (sin's
  first half negated) instead of rotating the halves and concatenating them (2026-11-29: 1.1%
  slower than the tensor code);
- ``rotary-before-transpose``: as tensor code, q and k rotated together where they lie in the
  (B, T, 3, H, D) projection, before the transpose (a layout tried on 2026-11-28: 1.1% slower);
- ``contiguous-v``: v copied to (B, H, T, D) like the rotated q and k, so that attention gets
  three tensors of one layout;
- ``one-qkv-buffer``: rotated q and k and a copy of v written into one (B, T, 3, H, D) buffer,
  the layout the reference passes;
- ``deterministic``: with deterministic kernels, as ``TrainSettings.deterministic`` trains;
- ``coordinate-descent``: Inductor tunes the block size of every generated kernel by coordinate
  descent (``coordinate_descent_tuning``);
- ``max-autotune``: Inductor also benchmarks Triton matmul templates against cuBLAS and picks
  the faster per shape (the ``max-autotune-no-cudagraphs`` mode);
- ``no-clip``: without gradient clipping (an ablation: what the trainer's clipping costs);
- ``clip-in-adamw``: clipping folded into fused AdamW, whose ``grad_scale`` divides every
  gradient, instead of ``clip_grad_norm_``'s own pass over them (2026-11-29: no gain);
- ``cuda-graphs``: blocks and loss compiled with ``mode="reduce-overhead"`` (CUDA graphs;
  2026-11-29: 0.4% faster, within the session's drift);
- ``real-tokens``: the first batch of a token cache's ``train.bin`` (``--tokens``) instead of
  random ids: whether text's skewed token counts slow a step (embedding backward, cross-entropy).

Every variant runs in its own process with Inductor's caches off, so one variant's kernels are
never reused by the next. Prints one JSON line per variant; ``--profile`` adds the kernels that
took the most GPU time per step.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch._inductor.config as inductor_config
import torch.nn.functional as F

from bench.trainer import DEFAULT_REFERENCE
from model import decoder, rotary
from model.presets import get_preset
from search.data.token_cache import open_token_cache
from search.training.compiling import compile_model
from search.training.determinism import deterministic_kernels
from space.schedule import Schedule
from space.spec import HAND_FOUND

VARIANTS = (
    ("reference", "default", "none"),
    ("reference", "flash", "none"),
    ("trainer", "default", "none"),
    ("trainer", "cudnn", "none"),
    ("trainer", "default", "no-rotary"),
    ("trainer", "default", "rotary-tensor-code"),
    ("trainer", "default", "swiglu-tensor-code"),
    ("trainer", "default", "loss-tensor-code"),
    ("trainer", "default", "rotary-flip"),
    ("trainer", "default", "rotary-before-transpose"),
    ("trainer", "default", "contiguous-v"),
    ("trainer", "default", "one-qkv-buffer"),
    ("trainer", "default", "deterministic"),
    ("trainer", "default", "coordinate-descent"),
    ("trainer", "default", "max-autotune"),
    ("trainer", "default", "no-clip"),
    ("trainer", "default", "clip-in-adamw"),
    ("trainer", "default", "cuda-graphs"),
    ("trainer", "default", "real-tokens"),
    ("reference", "default", "coordinate-descent"),
    ("reference", "default", "none"),  # again, last: how much the figures drift in one session
)
STEPS = 60
PROFILED_STEPS = 5
TOP_KERNELS = 15
INDUCTOR_CHANGES = {
    "coordinate-descent": {"coordinate_descent_tuning": True},
    "max-autotune": {"max_autotune": True, "coordinate_descent_tuning": True},
}


Rotation = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _tensor_code(rotate: Rotation, contiguous_v: bool = False) -> Callable[..., torch.Tensor]:
    """The decoder's attention with its rotation as tensor code (``rotate``) instead of the op;
    with ``contiguous_v``, v copied to the rotated q and k's layout."""

    def forward(
        self: decoder.Attention, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
    ) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, C // self.n_heads).unbind(2)  # (B, T, H, D)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        v = v.contiguous() if contiguous_v else v
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, D)
        return self.out(y.transpose(1, 2).reshape(B, T, C))

    return forward


def _rotary_flip(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """The decoder's rotation, (x1 cos - x2 sin, x2 cos + x1 sin), without a concatenation."""
    halves = x.float().unflatten(-1, (2, -1))  # (B, H, T, 2, D/2)
    signed_sin = torch.stack((-sin, sin), dim=-2)  # (T, 2, D/2)
    return (halves * cos.unsqueeze(-2) + halves.flip(-2) * signed_sin).flatten(-2).type_as(x)


def _rotary_before_transpose(
    self: decoder.Attention, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> torch.Tensor:
    B, T, C = x.shape
    qkv = self.qkv(x).view(B, T, 3, self.n_heads, C // self.n_heads)  # (B, T, 3, H, D)
    cos, sin = cos[:, None, None], sin[:, None, None]  # (T, 1, 1, D/2)
    q, k = rotary.apply_rotary(qkv[:, :, :2], cos, sin).unbind(2)  # (B, T, H, D) each
    q, k, v = (t.transpose(1, 2) for t in (q, k, qkv[:, :, 2]))  # (B, H, T, D)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, D)
    return self.out(y.transpose(1, 2).reshape(B, T, C))


def _one_qkv_buffer(
    self: decoder.Attention, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> torch.Tensor:
    B, T, C = x.shape
    qkv = self.qkv(x).view(B, T, 3, self.n_heads, C // self.n_heads)  # (B, T, 3, H, D)
    qk = rotary.apply_rotary(qkv[:, :, :2], cos[:, None, None], sin[:, None, None])  # (B, T, 2, H, D)
    qkv = torch.cat((qk, qkv[:, :, 2:]), dim=2)  # (B, T, 3, H, D): q, k, v in one layout
    q, k, v = (t.transpose(1, 2) for t in qkv.unbind(2))  # (B, H, T, D)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, D)
    return self.out(y.transpose(1, 2).reshape(B, T, C))


def _swiglu_tensor_code(self: decoder.SwiGLU, x: torch.Tensor) -> torch.Tensor:
    gate, up = self.gate_up(x).chunk(2, dim=-1)  # (B, T, W) each
    return self.down(F.silu(gate) * up)  # (B, T, C)


def _loss_tensor_code(self: decoder.Decoder, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = self.head(self.final_norm(x)).float()  # (B, T, V)
    return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


# The decoder's methods that a change replaces (before the model is built and compiled).
_ATTENTION = (decoder.Attention, "forward")
_REPLACED: dict[str, tuple[type, str, Callable[..., torch.Tensor]]] = {
    "swiglu-tensor-code": (decoder.SwiGLU, "forward", _swiglu_tensor_code),
    "loss-tensor-code": (decoder.Decoder, "loss", _loss_tensor_code),
    # an ablation only: what the rotation costs
    "no-rotary": (*_ATTENTION, _tensor_code(lambda x, cos, sin: x)),
    "rotary-tensor-code": (*_ATTENTION, _tensor_code(rotary.apply_rotary)),
    "rotary-flip": (*_ATTENTION, _tensor_code(_rotary_flip)),
    "rotary-before-transpose": (*_ATTENTION, _rotary_before_transpose),
    "contiguous-v": (*_ATTENTION, _tensor_code(rotary.apply_rotary, contiguous_v=True)),
    "one-qkv-buffer": (*_ATTENTION, _one_qkv_buffer),
}


def use_changes(changes: Sequence[str]) -> None:
    """Replace the decoder's methods that ``changes`` name (keys of the replacement table), in this
    process for good: call it before any model is built and compiled."""
    for change in changes:
        owner, name, replacement = _REPLACED[change]
        setattr(owner, name, replacement)


def use_attention_backend(name: str) -> None:
    """Allow only the named SDPA backend (``default``: PyTorch's own choice); never the slow
    math fallback, so an unsupported backend fails instead of being timed."""
    cuda = torch.backends.cuda
    cuda.enable_flash_sdp(name in ("flash", "default"))
    cuda.enable_mem_efficient_sdp(name == "default")
    cuda.enable_cudnn_sdp(name in ("cudnn", "default"))
    cuda.enable_math_sdp(False)


Batch = tuple[torch.Tensor, torch.Tensor]


def fixed_batch(batch: int, context: int, vocab: int, tokens: Path | None) -> Batch:
    """(inputs, targets) on the GPU: random ids, or the first batch of a token cache's split file."""
    if tokens is None:
        inputs, targets = (torch.randint(0, vocab, (batch, context), device="cuda") for _ in range(2))
        return inputs, targets
    train = open_token_cache(tokens.parent, tokens.parent.name).train
    ids = train[: batch * (context + 1)].astype(np.int64)
    rows = torch.from_numpy(ids.reshape(batch, context + 1)).cuda()
    return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()


Clipping = Literal["none", "clip_grad_norm", "adamw_grad_scale"]


def clip_in_adamw(optimizer: torch.optim.Optimizer, params: list[torch.Tensor], max_norm: float) -> None:
    """Clip the gradients' total norm to ``max_norm`` in a fused AdamW's coming step: it divides
    every gradient by its ``grad_scale``, which stays on the GPU."""
    norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None], foreach=True)
    optimizer.grad_scale = ((norm + 1e-6) / max_norm).clamp(min=1.0)  # type: ignore[attr-defined]


def make_step(
    model: torch.nn.Module, fwd: torch.nn.Module, batch: Batch, clip: Clipping, cuda_graphs: bool = False
) -> Callable[[], None]:
    """One training step on a fixed batch: forward, backward, (clipping), fused AdamW."""
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(params, lr=1e-4, fused=True)
    idx, tgt = batch

    def step() -> None:
        if cuda_graphs:  # this step may overwrite the graphs' outputs of the last one
            torch.compiler.cudagraph_mark_step_begin()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = fwd(idx, tgt)
        loss.backward()
        if clip == "clip_grad_norm":
            torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        elif clip == "adamw_grad_scale":
            clip_in_adamw(optimizer, params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def step_seconds(step: Callable[[], None]) -> tuple[float, float]:
    """(first step, mean of ``STEPS`` steps after 3 warm-up steps) in seconds."""
    started = time.perf_counter()
    step()
    torch.cuda.synchronize()
    first = time.perf_counter() - started
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(STEPS):
        step()
    torch.cuda.synchronize()
    return first, (time.perf_counter() - started) / STEPS


def top_kernels(step: Callable[[], None]) -> list[dict[str, object]]:
    """The ``TOP_KERNELS`` GPU kernels with the most time per step over ``PROFILED_STEPS`` steps."""
    activities = [torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities) as profiler:
        for _ in range(PROFILED_STEPS):
            step()
        torch.cuda.synchronize()
    kernels = [e for e in profiler.key_averages() if e.device_time_total > 0]
    kernels.sort(key=lambda e: e.device_time_total, reverse=True)
    return [
        {
            "kernel": e.key[:90],
            "ms_per_step": round(e.device_time_total / 1e3 / PROFILED_STEPS, 3),
            "calls_per_step": e.count // PROFILED_STEPS,
        }
        for e in kernels[:TOP_KERNELS]
    ]


def measure(
    preset_name: str,
    model_kind: str,
    backend: str,
    change: str,
    reference: Path,
    profile: bool,
    tokens: Path | None = None,
) -> dict[str, object]:
    """Time one variant in this process (and list its busiest kernels with ``profile``)."""
    use_attention_backend(backend)
    if change == "deterministic":
        deterministic_kernels(True).__enter__()  # for the rest of this process
    for option, value in INDUCTOR_CHANGES.get(change, {}).items():
        setattr(inductor_config, option, value)  # this process runs one variant only
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
        if change in _REPLACED:
            use_changes([change])  # this process runs one variant only
        config = shape.with_schedule(Schedule(budget=shape.budget, mults=HAND_FOUND))
        with torch.device("cuda"):
            model = decoder.Decoder(config)
        if change == "cuda-graphs":
            for block in model.blocks:
                block.compile(mode="reduce-overhead")
            model.loss = torch.compile(model.loss, mode="reduce-overhead")  # type: ignore[method-assign]
            fwd = model
        else:
            fwd = compile_model(model, "static", config.budget.distinct_widths)
    # Each steps as it trains: the reference's own loop does not clip gradients, the trainer does.
    clip: Clipping = "none" if model_kind == "reference" or change == "no-clip" else "clip_grad_norm"
    clip = "adamw_grad_scale" if change == "clip-in-adamw" else clip
    ids = fixed_batch(batch, shape.context, shape.vocab_size, tokens if change == "real-tokens" else None)
    step = make_step(model, fwd, ids, clip, cuda_graphs=change == "cuda-graphs")
    first, seconds = step_seconds(step)
    kernels = {"top_kernels": top_kernels(step)} if profile else {}
    return {
        "preset": preset_name,
        "model": model_kind,
        "attention": backend,
        "change": change,
        "tokens_per_s": round(batch * shape.context / seconds),
        "step_ms": round(seconds * 1e3, 2),
        "first_step_s": round(first, 1),
        "peak_mem_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2),
    } | kernels


def main(argv: list[str] | None = None) -> int:
    """Run every variant in a child process (or, with --one, a single variant here)."""
    parser = argparse.ArgumentParser(prog="python -m bench.step_variants", description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small", help="model shape (default small)")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="reference_decoder.py")
    parser.add_argument("--tokens", type=Path, help="a token cache's train.bin, for the real-tokens variant")
    parser.add_argument("--profile", action="store_true", help="also list each variant's busiest kernels")
    parser.add_argument("--only", help="comma-separated changes to run beside the baselines (default: all)")
    parser.add_argument("--one", nargs=3, metavar=("MODEL", "ATTENTION", "CHANGE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        parser.error("needs a CUDA GPU")
    if args.one:
        print(
            json.dumps(measure(args.preset, *args.one, args.reference, args.profile, args.tokens)), flush=True
        )
        return 0
    env = {**os.environ, "TORCHINDUCTOR_FX_GRAPH_CACHE": "0", "TORCHINDUCTOR_AUTOGRAD_CACHE": "0"}
    chosen = set(args.only.split(",")) if args.only else None
    for variant in VARIANTS:
        baseline = variant[1:] == ("default", "none")
        if chosen is not None and not baseline and variant[2] not in chosen:
            continue
        command = [sys.executable, "-m", "bench.step_variants", "--preset", args.preset,
                   "--reference", str(args.reference), "--one", *variant]  # fmt: skip
        command += ["--profile"] if args.profile else []
        command += ["--tokens", str(args.tokens)] if args.tokens else []
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
