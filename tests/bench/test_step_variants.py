import pytest
import torch

from bench import step_variants


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
