"""The decoder's own Triton kernels, compiled in a process of their own before a study's first step."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[3]
# The project's kernels, by the names Triton keeps them under in its cache.
KERNELS = ("_split_and_rotate_kernel", "_rotate_back_and_stack_kernel", "_swiglu_kernel",
           "_swiglu_gradient_kernel", "_cross_entropy_kernel")  # fmt: skip


def _warm_up(preset: str, device: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "search.training.kernel_warm_up", "--preset", preset, "--device", device]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_the_warm_up_runs_a_training_and_an_evaluation_step_and_ends():
    done = _warm_up("tiny", "cpu")  # the kernels' tensor-code twins: nothing compiles on CPU
    assert done.returncode == 0 and done.stderr == ""


def test_a_warm_up_that_fails_says_so_in_one_line_and_the_study_goes_on_without_it():
    done = _warm_up("no-such-preset", "cpu")
    assert done.returncode == 1
    assert done.stderr.startswith("note: the decoder's kernels were not compiled ahead (")
    assert done.stderr.rstrip().endswith("the first trial compiles them") and done.stderr.count("\n") == 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_after_the_warm_up_a_trials_compiled_step_compiles_none_of_the_kernels(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TRITON_CACHE_DIR": str(tmp_path / "triton"),
        "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "i"),
    }
    assert _warm_up("small", "cuda:0", env).returncode == 0
    kept = sorted(p.name for p in (tmp_path / "triton").rglob("*.cubin") if p.stem in KERNELS)
    assert {Path(name).stem for name in kept} == set(KERNELS)
    # A compiled training step and evaluation of the full decoder, as a trial runs them.
    script = textwrap.dedent(
        """
        import torch
        from model.decoder import Decoder
        from model.presets import get_preset
        from search.training.compiling import compiled
        from search.training.devices import training_autocast
        from search.training.one_block import step_and_evaluate
        preset, device = get_preset("small"), torch.device("cuda")
        model = Decoder(preset.model).to(device)
        ids = torch.randint(0, 100, (preset.train.batch_size, preset.model.context), device=device)
        with compiled(model, "static", preset.model.budget.distinct_widths) as step:
            step_and_evaluate(model, step, ids, training_autocast(device))
        torch.cuda.synchronize()
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=600)
    after = sorted(p.name for p in (tmp_path / "triton").rglob("*.cubin") if p.stem in KERNELS)
    assert after == kept
