"""Triton kernels of ``hourglass::swiglu``: the gating and its backward.

A program takes ``BLOCK`` columns of one token: gate's, up's and the output's (or its gradient's)
elements at those columns, each read once, in bf16, with the arithmetic in float32.
"""

from __future__ import annotations

import triton
import triton.language as tl
from torch import Tensor

BLOCK = 1024


@triton.jit
def _gate_and_up(gate_up, W, BLOCK: tl.constexpr):
    """This program's token, its ``BLOCK`` columns and their mask, and gate's and up's elements
    at those columns in float32."""
    token = tl.program_id(0).to(tl.int64)
    col = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = col < W
    src = gate_up + token * 2 * W + col
    gate = tl.load(src, mask=mask).to(tl.float32)
    up = tl.load(src + W, mask=mask).to(tl.float32)
    return token, col, mask, gate, up


@triton.jit
def _swiglu_kernel(gate_up, out, W, BLOCK: tl.constexpr):
    token, col, mask, gate, up = _gate_and_up(gate_up, W, BLOCK)
    h = gate * tl.sigmoid(gate) * up
    tl.store(out + token * W + col, h.to(out.dtype.element_ty), mask=mask)


@triton.jit
def _swiglu_gradient_kernel(d_out, gate_up, d_gate_up, W, BLOCK: tl.constexpr):
    token, col, mask, gate, up = _gate_and_up(gate_up, W, BLOCK)
    d = tl.load(d_out + token * W + col, mask=mask).to(tl.float32)
    sig = tl.sigmoid(gate)
    dst = d_gate_up + token * 2 * W + col
    tl.store(dst, (d * up * sig * (1 + gate * (1 - sig))).to(d_gate_up.dtype.element_ty), mask=mask)
    tl.store(dst + W, (d * gate * sig).to(d_gate_up.dtype.element_ty), mask=mask)


def swiglu_forward(gate_up: Tensor) -> Tensor:
    """``swiglu`` on the GPU: (B, T, 2W) to (B, T, W)."""
    gate_up = gate_up.contiguous()
    W = gate_up.shape[-1] // 2
    out = gate_up.new_empty(*gate_up.shape[:-1], W)
    tokens = gate_up.numel() // (2 * W)
    _swiglu_kernel[(tokens, triton.cdiv(W, BLOCK))](gate_up, out, W, BLOCK=BLOCK)
    return out


def swiglu_gradient(d_out: Tensor, gate_up: Tensor) -> Tensor:
    """``swiglu_backward`` on the GPU: (B, T, W) and (B, T, 2W) to (B, T, 2W)."""
    d_out, gate_up = d_out.contiguous(), gate_up.contiguous()
    W = gate_up.shape[-1] // 2
    d_gate_up = gate_up.new_empty(gate_up.shape)
    tokens = gate_up.numel() // (2 * W)
    _swiglu_gradient_kernel[(tokens, triton.cdiv(W, BLOCK))](d_out, gate_up, d_gate_up, W, BLOCK=BLOCK)
    return d_gate_up
