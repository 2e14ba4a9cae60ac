import pytest
import torch
import torch.nn.functional as F

from model.head_loss import head_cross_entropy, head_loss


def tensor_code_loss(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The decoder's loss before the op: the head's matmul, then cross-entropy in at least float32."""
    logits = h @ weight.T
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    return F.cross_entropy(logits.flatten(0, 1), targets.reshape(-1))


def test_loss_and_gradients_match_the_tensor_code():
    h = torch.randn(2, 9, 16, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(50, 16, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 50, (2, 9))
    expected = tensor_code_loss(h, weight, targets)
    expected_grads = torch.autograd.grad(expected * 3, (h, weight))
    loss = head_loss(h, weight, targets)
    grads = torch.autograd.grad(loss * 3, (h, weight))  # a scale on the loss reaches both gradients
    assert torch.allclose(loss, expected, rtol=1e-12)
    for got, want in zip(grads, expected_grads, strict=True):
        assert torch.allclose(got, want, rtol=1e-10, atol=1e-12)


def test_under_autocast_the_op_works_in_autocasts_dtype_and_gradients_keep_the_params():
    h = torch.randn(2, 4, 16, requires_grad=True)
    weight = torch.randn(30, 16, requires_grad=True)
    targets = torch.randint(0, 30, (2, 4))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = head_loss(h, weight, targets)
        expected = tensor_code_loss(h.bfloat16(), weight.bfloat16(), targets)
    loss.backward()
    assert loss.dtype == torch.float32
    assert torch.allclose(loss, expected, rtol=1e-3)
    assert h.grad is not None and h.grad.dtype == torch.float32
    assert weight.grad is not None and weight.grad.dtype == torch.float32


def test_without_gradients_no_gradient_is_written():
    h, weight = torch.randn(6, 8), torch.randn(20, 8)
    targets = torch.randint(0, 20, (6,))
    with torch.no_grad():
        loss, grad = head_cross_entropy(h, weight, targets, False)
    assert grad.numel() == 0
    assert torch.allclose(loss, F.cross_entropy(h @ weight.T, targets))


def test_the_op_passes_torch_library_checks():
    h = torch.randn(6, 8, requires_grad=True)
    weight = torch.randn(20, 8, requires_grad=True)
    targets = torch.randint(0, 20, (6,))
    torch.library.opcheck(head_cross_entropy, (h, weight, targets, True))
    torch.library.opcheck(head_cross_entropy, (h.detach(), weight.detach(), targets, False))
    torch.library.opcheck(head_cross_entropy, (h.double(), weight.double(), targets, True))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize(("N", "V"), [(64, 16384), (33, 50257), (8, 100)])
def test_the_triton_kernel_computes_what_the_tensor_code_does(N: int, V: int):
    h = torch.randn(N, 64, device="cuda").bfloat16()
    weight = (torch.randn(V, 64, device="cuda") * 0.3).bfloat16()
    targets = torch.randint(0, V, (N,), device="cuda")
    loss, grad = head_cross_entropy(h, weight, targets, True)
    want_loss, want_grad = head_cross_entropy(h.cpu(), weight.cpu(), targets.cpu(), True)
    assert torch.allclose(loss.cpu(), want_loss, rtol=1e-4)
    assert torch.allclose(grad.cpu().float(), want_grad.float(), rtol=2e-2, atol=1e-6)
    no_grad_loss, empty = head_cross_entropy(h, weight, targets, False)
    assert empty.numel() == 0
    assert torch.allclose(no_grad_loss, loss)
