import pytest
import torch

from model.rotary import apply_rotary, rotary_qkv, rotary_qkv_backward, rotary_tables


def test_rotary_keeps_norms_and_is_identity_at_position_zero():
    cos, sin = rotary_tables(8, 16)
    x = torch.randn(1, 2, 8, 16)  # (B, H, T, D)
    rotated = apply_rotary(x, cos, sin)
    assert torch.allclose(rotated.norm(dim=-1), x.norm(dim=-1), atol=1e-5)
    assert torch.allclose(rotated[:, :, 0], x[:, :, 0])


def test_rotary_turns_each_pair_by_position_times_frequency():
    T, D = 8, 16
    cos, sin = rotary_tables(T, D)
    x = torch.randn(2, 3, T, D)  # (B, H, T, D)
    # Dimension i pairs with i + D/2 as one complex number, turned by angle t * 10000^(-2i/D).
    pairs = torch.complex(x[..., : D // 2], x[..., D // 2 :])
    freq = 10_000.0 ** (-torch.arange(0, D, 2, dtype=torch.float32) / D)
    turn = torch.polar(torch.ones(T, D // 2), torch.arange(T, dtype=torch.float32)[:, None] * freq)
    expected = pairs * turn
    rotated = apply_rotary(x, cos, sin)
    assert torch.allclose(rotated, torch.cat((expected.real, expected.imag), dim=-1), atol=1e-5)


def split_then_rotate(qkv: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, n_heads: int):
    """The decoder's attention before the op: split, transpose, rotate q and k as tensor code."""
    B, T, _ = qkv.shape
    q, k, v = (t.transpose(1, 2) for t in qkv.view(B, T, 3, n_heads, -1).unbind(2))  # (B, H, T, D)
    return apply_rotary(q, cos, sin), apply_rotary(k, cos, sin), v


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_op_and_its_backward_match_the_tensor_code_exactly(dtype: torch.dtype):
    B, T, H, D = 2, 12, 3, 8
    cos, sin = rotary_tables(T, D)
    qkv = torch.randn(B, T, 3 * H * D, dtype=dtype, requires_grad=True)
    weights = [torch.randn(B, H, T, D, dtype=dtype) for _ in range(3)]

    def outputs_and_grad(split):
        outputs = split(qkv)
        loss = sum((out.float() * w.float()).sum() for out, w in zip(outputs, weights, strict=True))
        (grad,) = torch.autograd.grad(loss, qkv)
        return outputs, grad

    by_op, grad_by_op = outputs_and_grad(lambda x: [t.transpose(1, 2) for t in rotary_qkv(x, cos, sin, H)])
    by_code, grad_by_code = outputs_and_grad(lambda x: split_then_rotate(x, cos, sin, H))
    for op_out, code_out in zip(by_op, by_code, strict=True):
        assert torch.equal(op_out, code_out)
    assert torch.equal(grad_by_op, grad_by_code)


def test_the_op_returns_fresh_contiguous_tensors():
    qkv = torch.randn(2, 5, 3 * 16)
    cos, sin = rotary_tables(5, 4)
    q, k, v = rotary_qkv(qkv, cos, sin, 4)
    assert all(t.shape == (2, 5, 4, 4) and t.is_contiguous() for t in (q, k, v))
    assert v.data_ptr() != qkv.data_ptr() + 2 * 16 * qkv.element_size()
    assert torch.equal(v.flatten(2), qkv[..., 32:])


def test_the_ops_pass_torch_library_checks():
    B, T, H, D = 2, 6, 2, 8
    cos, sin = rotary_tables(T, D)
    qkv = torch.randn(B, T, 3 * H * D, requires_grad=True)
    torch.library.opcheck(rotary_qkv, (qkv, cos, sin, H))
    grads = [torch.randn(B, H, T, D).transpose(1, 2) for _ in range(3)]  # SDPA's gradients' layout
    torch.library.opcheck(rotary_qkv_backward, (*grads, cos, sin))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize(("B", "T", "H", "D"), [(2, 64, 8, 64), (3, 37, 12, 64), (1, 16, 6, 32)])
def test_the_triton_kernels_compute_what_the_tensor_code_does(B: int, T: int, H: int, D: int):
    C = H * D
    cos, sin = (t.cuda() for t in rotary_tables(T, D))
    qkv = torch.randn(B, T, 3 * C, device="cuda").bfloat16()
    expected = rotary_qkv(qkv.cpu(), cos.cpu(), sin.cpu(), H)
    for got, want in zip(rotary_qkv(qkv, cos, sin, H), expected, strict=True):
        assert got.is_contiguous()
        # float32 rounding may differ by fused multiply-adds: at most one bf16 step, rarely
        assert torch.allclose(got.cpu().float(), want.float(), rtol=1e-2, atol=1e-2)
        assert (got.cpu() != want).float().mean() < 0.01
    grads = [torch.randn(B, H, T, D, device="cuda").bfloat16().transpose(1, 2) for _ in range(3)]
    got = rotary_qkv_backward(*grads, cos, sin)
    want = rotary_qkv_backward(*(g.cpu() for g in grads), cos.cpu(), sin.cpu())
    assert torch.allclose(got.cpu().float(), want.float(), rtol=1e-2, atol=1e-2)
    assert (got.cpu() != want).float().mean() < 0.01
