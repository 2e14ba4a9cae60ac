"""SwiGLU's gating, silu(gate) * up, as one op with its own backward.

Inductor writes the backward as one kernel over the concatenated (gate, up) gradient, which
reads gate, up and the output's gradient at 2.5 TB/s on an H200 (3.2 ms of the small preset's
36 ms step); the op's Triton kernels (``model.swiglu_triton``) take a column of the three at a
time. Elsewhere than CUDA the op is the tensor code below, which the kernels are tested against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _at_least_float32(x: Tensor) -> Tensor:
    return x.to(torch.promote_types(x.dtype, torch.float32))


@torch.library.custom_op("hourglass::swiglu", mutates_args=())
def swiglu(gate_up: Tensor) -> Tensor:
    """silu(gate) * up (B, T, W) from the fused projection gate_up (B, T, 2W), computed in at
    least float32."""
    gate, up = _at_least_float32(gate_up).chunk(2, dim=-1)  # (B, T, W) each
    return (F.silu(gate) * up).to(gate_up.dtype)


@torch.library.custom_op("hourglass::swiglu_backward", mutates_args=())
def swiglu_backward(d_out: Tensor, gate_up: Tensor) -> Tensor:
    """The gradient (B, T, 2W) of gate_up, from the output's d_out (B, T, W), in at least float32."""
    gate, up = _at_least_float32(gate_up).chunk(2, dim=-1)
    d_out = _at_least_float32(d_out)
    sig = torch.sigmoid(gate)
    d_gate = d_out * up * sig * (1 + gate * (1 - sig))
    d_up = d_out * gate * sig
    return torch.cat((d_gate, d_up), dim=-1).to(gate_up.dtype)


@swiglu.register_fake
def _swiglu_shape(gate_up: Tensor) -> Tensor:
    return gate_up.new_empty(*gate_up.shape[:-1], gate_up.shape[-1] // 2)


@swiglu_backward.register_fake
def _swiglu_backward_shape(d_out: Tensor, gate_up: Tensor) -> Tensor:
    return torch.empty_like(gate_up, memory_format=torch.contiguous_format)


@swiglu.register_kernel("cuda")
def _swiglu_cuda(gate_up: Tensor) -> Tensor:
    from model.swiglu_triton import swiglu_forward  # Triton ships with CUDA builds of torch only

    return swiglu_forward(gate_up)


@swiglu_backward.register_kernel("cuda")
def _swiglu_backward_cuda(d_out: Tensor, gate_up: Tensor) -> Tensor:
    from model.swiglu_triton import swiglu_gradient

    return swiglu_gradient(d_out, gate_up)


def _save_input(ctx: torch.autograd.function.FunctionCtx, inputs: tuple, output: Tensor) -> None:
    ctx.save_for_backward(inputs[0])


def _backward(ctx: torch.autograd.function.FunctionCtx, d_out: Tensor) -> Tensor:
    (gate_up,) = ctx.saved_tensors  # type: ignore[attr-defined]
    return swiglu_backward(d_out, gate_up)


swiglu.register_autograd(_backward, setup_context=_save_input)
