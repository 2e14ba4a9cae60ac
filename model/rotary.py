"""Rotary position embedding, and the op that splits the fused q, k, v projection and rotates q and k.

The op has its own backward, which writes the projection's gradient in one pass: q's and k's
gradients rotated back, stacked with v's. Written as tensor code instead, the rotation costs
Inductor three kernels of its own (the rotation, its backward and a copy: 1.64 ms of a 36 ms step
of the small preset on an H200) beside the stacking of the three gradients that the backward of the
split needs anyway. On CUDA the op runs two Triton kernels (``model.rotary_triton``); elsewhere the
tensor code below, which is also what the kernels are tested against.
"""

from __future__ import annotations

import torch
from torch import Tensor


def rotary_tables(context: int, head_dim: int, base: float = 10_000.0) -> tuple[Tensor, Tensor]:
    """cos and sin of every position's rotation angles, each (T, D/2), in float32."""
    inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(context, dtype=torch.float32), inv_freq)  # (T, D/2)
    return angles.cos(), angles.sin()


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate pairs (first half, second half) of x's last dimension by angles that broadcast to
    x's halves: x (B, H, T, D) with cos, sin (T, D/2), or x (B, T, H, D) with (T, 1, D/2)."""
    x1, x2 = x.float().chunk(2, dim=-1)  # (..., D/2) each
    rotated = torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return rotated.type_as(x)


@torch.library.custom_op("hourglass::rotary_qkv", mutates_args=())
def rotary_qkv(qkv: Tensor, cos: Tensor, sin: Tensor, n_heads: int) -> tuple[Tensor, Tensor, Tensor]:
    """(q, k, v), each (B, T, H, D) and contiguous, from the projection qkv (B, T, 3C); q and k
    rotated by cos and sin (T, D/2)."""
    B, T, _ = qkv.shape
    q, k, v = qkv.view(B, T, 3, n_heads, -1).unbind(2)  # (B, T, H, D) each
    cos, sin = cos[:, None], sin[:, None]  # (T, 1, D/2): the same angles for every head
    v = v.clone(memory_format=torch.contiguous_format)  # an op's outputs may not alias its input
    return apply_rotary(q, cos, sin), apply_rotary(k, cos, sin), v


@torch.library.custom_op("hourglass::rotary_qkv_backward", mutates_args=())
def rotary_qkv_backward(dq: Tensor, dk: Tensor, dv: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """The projection's gradient (B, T, 3C) from q's, k's and v's (B, T, H, D): a rotation by the
    opposite angles undoes the forward one."""
    B, T, _, _ = dq.shape
    cos, sin = cos[:, None], sin[:, None]  # (T, 1, D/2)
    dq, dk = apply_rotary(dq, cos, -sin), apply_rotary(dk, cos, -sin)
    return torch.stack((dq, dk, dv), dim=2).view(B, T, -1)


@rotary_qkv.register_fake
def _rotary_qkv_shapes(qkv: Tensor, cos: Tensor, sin: Tensor, n_heads: int) -> tuple[Tensor, Tensor, Tensor]:
    B, T, three_c = qkv.shape
    shape = (B, T, n_heads, three_c // 3 // n_heads)
    return qkv.new_empty(shape), qkv.new_empty(shape), qkv.new_empty(shape)


@rotary_qkv_backward.register_fake
def _rotary_qkv_backward_shape(dq: Tensor, dk: Tensor, dv: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    B, T, H, D = dq.shape
    return dq.new_empty(B, T, 3 * H * D)


@rotary_qkv.register_kernel("cuda")
def _rotary_qkv_cuda(qkv: Tensor, cos: Tensor, sin: Tensor, n_heads: int) -> tuple[Tensor, Tensor, Tensor]:
    from model.rotary_triton import split_and_rotate  # Triton ships with CUDA builds of torch only

    return split_and_rotate(qkv, cos, sin, n_heads)


@rotary_qkv_backward.register_kernel("cuda")
def _rotary_qkv_backward_cuda(dq: Tensor, dk: Tensor, dv: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    from model.rotary_triton import rotate_back_and_stack

    return rotate_back_and_stack(dq, dk, dv, cos, sin)


def _save_angles(ctx: torch.autograd.function.FunctionCtx, inputs: tuple, output: tuple) -> None:
    _, cos, sin, _ = inputs
    ctx.save_for_backward(cos, sin)


def _backward(ctx: torch.autograd.function.FunctionCtx, dq: Tensor, dk: Tensor, dv: Tensor) -> tuple:
    cos, sin = ctx.saved_tensors  # type: ignore[attr-defined]
    return rotary_qkv_backward(dq, dk, dv, cos, sin), None, None, None


rotary_qkv.register_autograd(_backward, setup_context=_save_angles)
