"""Triton kernel of ``hourglass::head_cross_entropy``: each token's loss and its logits' gradient.

A program takes one token's row of V logits in blocks of ``BLOCK``: a first pass keeps a running
maximum and sum of exponentials per lane (online softmax) for the log-sum-exp, a second pass,
while the row is still in the cache, writes softmax minus the target's one-hot, over N, in place.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

BLOCK = 2048


@triton.jit
def _cross_entropy_kernel(
    logits, targets, losses, inv_n, V: tl.constexpr, WITH_GRAD: tl.constexpr, BLOCK: tl.constexpr
):
    token = tl.program_id(0).to(tl.int64)
    row = logits + token * V
    lanes = tl.arange(0, BLOCK)
    # A finite start: exp(-inf - start) is 0 on the masked lanes, where exp(-inf - -inf) is NaN.
    running_max = tl.full([BLOCK], -1e30, tl.float32)
    running_sum = tl.zeros([BLOCK], tl.float32)
    for start in range(0, V, BLOCK):
        x = tl.load(row + start + lanes, mask=start + lanes < V, other=-float("inf")).to(tl.float32)
        new_max = tl.maximum(running_max, x)
        running_sum = running_sum * tl.exp(running_max - new_max) + tl.exp(x - new_max)
        running_max = new_max
    row_max = tl.max(running_max, axis=0)
    lse = row_max + tl.log(tl.sum(running_sum * tl.exp(running_max - row_max), axis=0))
    target = tl.load(targets + token)
    tl.store(losses + token, lse - tl.load(row + target).to(tl.float32))
    if WITH_GRAD:
        for start in range(0, V, BLOCK):
            cols = start + lanes
            x = tl.load(row + cols, mask=cols < V).to(tl.float32)
            grad = tl.exp(x - lse) - tl.where(cols == target, 1.0, 0.0)
            tl.store(row + cols, (grad * inv_n).to(row.dtype.element_ty), mask=cols < V)


def cross_entropy_and_gradient(logits: Tensor, targets: Tensor, with_grad: bool) -> Tensor:
    """Each token's cross-entropy (N,) in float32 from logits (N, V) and targets (N,); with
    ``with_grad``, the logits are overwritten by the mean loss's gradient with respect to them."""
    N, V = logits.shape
    if not logits.is_contiguous():
        raise ValueError("the logits must be contiguous: the gradient is written over them")
    losses = torch.empty(N, device=logits.device, dtype=torch.float32)
    _cross_entropy_kernel[(N,)](
        logits, targets.contiguous(), losses, 1.0 / N, V=V, WITH_GRAD=with_grad, BLOCK=BLOCK, num_warps=8
    )
    return losses
