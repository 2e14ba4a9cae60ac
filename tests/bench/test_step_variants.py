import pytest
import torch

from bench import step_variants
from model import decoder, rotary
from model.presets import get_preset


def test_refuses_to_run_without_a_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit) as exited:
        step_variants.main(["--preset", "small"])
    assert exited.value.code == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def test_one_backend_at_a_time_and_never_the_math_fallback() -> None:
    cuda = torch.backends.cuda
    saved = (
        cuda.flash_sdp_enabled(),
        cuda.mem_efficient_sdp_enabled(),
        cuda.cudnn_sdp_enabled(),
        cuda.math_sdp_enabled(),
    )
    try:
        step_variants.use_attention_backend("cudnn")
        assert (cuda.flash_sdp_enabled(), cuda.cudnn_sdp_enabled(), cuda.math_sdp_enabled()) == (
            False,
            True,
            False,
        )
        step_variants.use_attention_backend("flash")
        assert (cuda.flash_sdp_enabled(), cuda.cudnn_sdp_enabled(), cuda.math_sdp_enabled()) == (
            True,
            False,
            False,
        )
    finally:
        cuda.enable_flash_sdp(saved[0])
        cuda.enable_mem_efficient_sdp(saved[1])
        cuda.enable_cudnn_sdp(saved[2])
        cuda.enable_math_sdp(saved[3])


def test_the_flip_form_rotates_exactly_as_the_decoder_does() -> None:
    cos, sin = rotary.rotary_tables(16, 8)
    x = torch.randn(2, 3, 16, 8)  # (B, H, T, D)
    assert torch.equal(step_variants._rotary_flip(x, cos, sin), rotary.apply_rotary(x, cos, sin))


@pytest.mark.parametrize("max_norm", [0.05, 1e9])
def test_clipping_in_adamw_updates_as_clip_grad_norm_does(max_norm: float) -> None:
    def trained(clip_in_adamw: bool) -> torch.Tensor:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.Linear(32, 4))
        params = list(model.parameters())
        optimizer = torch.optim.AdamW(params, lr=1e-2, fused=True)
        for _ in range(4):
            model(torch.randn(8, 32)).pow(2).sum().mul(100).backward()
            if clip_in_adamw:
                step_variants.clip_in_adamw(optimizer, params, max_norm)
            else:
                torch.nn.utils.clip_grad_norm_(params, max_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return torch.cat([p.detach().flatten() for p in params])

    assert torch.allclose(trained(True), trained(False), rtol=1e-5, atol=1e-7)


def tiny_loss_and_grads() -> tuple[torch.Tensor, list[torch.Tensor]]:
    config = get_preset("tiny").model
    torch.manual_seed(0)
    model = decoder.Decoder(config)
    model.init_weights(0.02)
    idx, targets = (torch.randint(0, config.vocab_size, (2, 16)) for _ in range(2))
    loss = model(idx, targets)
    return loss.detach(), [g.detach() for g in torch.autograd.grad(loss, list(model.parameters()))]


@pytest.mark.parametrize("change", sorted(set(step_variants._REPLACED) - {"no-rotary"}))
def test_every_rewrite_of_the_step_computes_the_decoders_loss_and_gradients(
    change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected_loss, expected_grads = tiny_loss_and_grads()
    owner, name, replacement = step_variants._REPLACED[change]
    monkeypatch.setattr(owner, name, replacement)
    loss, grads = tiny_loss_and_grads()
    assert torch.allclose(loss, expected_loss, rtol=1e-6)
    for got, want in zip(grads, expected_grads, strict=True):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-7)


def test_the_no_rotary_ablation_changes_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    expected_loss, expected_grads = tiny_loss_and_grads()
    monkeypatch.setattr(decoder.Attention, "forward", step_variants._REPLACED["no-rotary"][2])
    loss, grads = tiny_loss_and_grads()
    assert not torch.equal(loss, expected_loss)
    assert any(not torch.allclose(g, w, rtol=1e-2) for g, w in zip(grads, expected_grads, strict=True))
