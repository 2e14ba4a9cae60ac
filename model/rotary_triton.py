"""Triton kernels of ``hourglass::rotary_qkv``: the split and rotation, and its backward.

Both kernels move each element once, in bf16, and rotate in float32 as the tensor code does. A
program takes ``ROWS`` tokens; a token's row of C (a head after another, first halves before
second halves in each) is indexed by pair: pair j is element j % (D/2) of head j // (D/2), and its
partner sits D/2 further on.
"""

from __future__ import annotations

import triton
import triton.language as tl
from torch import Tensor

ELEMENTS_PER_PROGRAM = 4096


@triton.jit
def _rotate(src, dst, c, s, mask, HALF_D: tl.constexpr):
    """Rotate the pairs at src (first halves; partners HALF_D on) into dst, in float32."""
    x1 = tl.load(src, mask=mask).to(tl.float32)
    x2 = tl.load(src + HALF_D, mask=mask).to(tl.float32)
    tl.store(dst, (x1 * c - x2 * s).to(dst.dtype.element_ty), mask=mask)
    tl.store(dst + HALF_D, (x1 * s + x2 * c).to(dst.dtype.element_ty), mask=mask)


@triton.jit
def _split_and_rotate_kernel(
    qkv, q_out, k_out, v_out, cos, sin, n_tokens, T,
    C: tl.constexpr, HALF_D: tl.constexpr, ROWS: tl.constexpr, PAIRS: tl.constexpr, COLS: tl.constexpr,
):  # fmt: skip
    tokens = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    token_ok = tokens < n_tokens
    tokens = tokens.to(tl.int64)
    pair = tl.arange(0, PAIRS)
    first = (pair // HALF_D) * (2 * HALF_D) + pair % HALF_D  # column of the pair's first element
    mask = token_ok[:, None] & (pair < C // 2)[None, :]
    angle = (tokens % T)[:, None] * HALF_D + (pair % HALF_D)[None, :]
    c = tl.load(cos + angle, mask=mask)
    s = tl.load(sin + angle, mask=mask)
    src = qkv + tokens[:, None] * (3 * C) + first[None, :]
    dst = tokens[:, None] * C + first[None, :]
    _rotate(src, q_out + dst, c, s, mask, HALF_D)
    _rotate(src + C, k_out + dst, c, s, mask, HALF_D)
    col = tl.arange(0, COLS)
    v_mask = token_ok[:, None] & (col < C)[None, :]
    v = tl.load(qkv + tokens[:, None] * (3 * C) + 2 * C + col[None, :], mask=v_mask)
    tl.store(v_out + tokens[:, None] * C + col[None, :], v, mask=v_mask)


@triton.jit
def _rotate_back_and_stack_kernel(
    dq, dk, dv, d_qkv, cos, sin, n_tokens, T,
    q_b, q_t, q_h, k_b, k_t, k_h, v_b, v_t, v_h,
    C: tl.constexpr, HALF_D: tl.constexpr, ROWS: tl.constexpr, PAIRS: tl.constexpr, COLS: tl.constexpr,
):  # fmt: skip
    tokens = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    token_ok = tokens < n_tokens
    tokens = tokens.to(tl.int64)
    b, t = tokens // T, tokens % T
    pair = tl.arange(0, PAIRS)
    head, half = pair // HALF_D, pair % HALF_D
    first = head * (2 * HALF_D) + half
    mask = token_ok[:, None] & (pair < C // 2)[None, :]
    angle = t[:, None] * HALF_D + half[None, :]
    c = tl.load(cos + angle, mask=mask)
    s = tl.load(sin + angle, mask=mask)
    dst = d_qkv + tokens[:, None] * (3 * C) + first[None, :]
    # Rotating by the opposite angles undoes the forward rotation.
    _rotate(dq + (b * q_b + t * q_t)[:, None] + (head * q_h + half)[None, :], dst, c, -s, mask, HALF_D)
    _rotate(dk + (b * k_b + t * k_t)[:, None] + (head * k_h + half)[None, :], dst + C, c, -s, mask, HALF_D)
    col = tl.arange(0, COLS)
    v_mask = token_ok[:, None] & (col < C)[None, :]
    src = dv + (b * v_b + t * v_t)[:, None] + ((col // (2 * HALF_D)) * v_h + col % (2 * HALF_D))[None, :]
    g = tl.load(src, mask=v_mask)
    tl.store(d_qkv + tokens[:, None] * (3 * C) + 2 * C + col[None, :], g, mask=v_mask)


def _grid(n_tokens: int, C: int) -> tuple[int, int, int]:
    """(tokens per program, pair block, column block): powers of two, as Triton's blocks must be."""
    cols = triton.next_power_of_2(C)
    rows = max(1, ELEMENTS_PER_PROGRAM // cols)
    return rows, cols // 2, cols


def split_and_rotate(qkv: Tensor, cos: Tensor, sin: Tensor, n_heads: int) -> tuple[Tensor, Tensor, Tensor]:
    """``rotary_qkv`` on the GPU: qkv (B, T, 3C) to contiguous q, k, v (B, T, H, D)."""
    B, T, three_c = qkv.shape
    C = three_c // 3
    qkv, cos, sin = qkv.contiguous(), cos.contiguous(), sin.contiguous()
    q, k, v = (qkv.new_empty(B, T, n_heads, C // n_heads) for _ in range(3))
    rows, pairs, cols = _grid(B * T, C)
    _split_and_rotate_kernel[(triton.cdiv(B * T, rows),)](
        qkv, q, k, v, cos, sin, B * T, T, C=C, HALF_D=C // n_heads // 2, ROWS=rows, PAIRS=pairs, COLS=cols
    )
    return q, k, v


def rotate_back_and_stack(dq: Tensor, dk: Tensor, dv: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """``rotary_qkv_backward`` on the GPU: q's, k's and v's gradients (B, T, H, D), in any layout
    whose last dimension is dense, to the projection's (B, T, 3C)."""
    B, T, H, D = dq.shape
    dq, dk, dv = (g if g.stride(-1) == 1 else g.contiguous() for g in (dq, dk, dv))
    cos, sin = cos.contiguous(), sin.contiguous()
    d_qkv = dq.new_empty(B, T, 3 * H * D)
    rows, pairs, cols = _grid(B * T, H * D)
    _rotate_back_and_stack_kernel[(triton.cdiv(B * T, rows),)](
        dq, dk, dv, d_qkv, cos, sin, B * T, T,
        *dq.stride()[:3], *dk.stride()[:3], *dv.stride()[:3],
        C=H * D, HALF_D=D // 2, ROWS=rows, PAIRS=pairs, COLS=cols,
    )  # fmt: skip
    return d_qkv
