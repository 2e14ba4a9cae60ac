import gc
import subprocess
import sys
import weakref
from pathlib import Path

import pytest
import torch

from model.decoder import Decoder
from model.presets import get_preset
from search.training.compiling import compile_model, compiled

ROOT = Path(__file__).resolve().parents[3]


def _tiny_model() -> Decoder:
    torch.manual_seed(0)
    return Decoder(get_preset("tiny").model)


def test_a_compiled_run_leaves_nothing_holding_its_model():
    gc.disable()  # a collection would free the cycles this test is about
    try:
        kept = _tiny_model()
        compile_model(kept, "static", kept.config.budget.distinct_widths)
        kept_ref = weakref.ref(kept)
        del kept
        assert kept_ref() is not None  # the compiled wrappers reference their module

        model = _tiny_model()
        ids = torch.randint(0, model.config.vocab_size, (2, 16))
        with compiled(model, "static", model.config.budget.distinct_widths) as step_fn:
            loss = step_fn(ids, ids)
            loss.backward()
        assert torch.isfinite(loss)
        model_ref = weakref.ref(model)
        del model, step_fn, loss
        assert model_ref() is None
    finally:
        gc.enable()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_compile_workers_started_ahead_are_ready_before_anything_compiles() -> None:
    _in_a_fresh_process(
        "from torch._inductor.async_compile import AsyncCompile\n"
        "from search.training.compiling import start_compile_workers\n"
        "start_compile_workers()\n"
        "AsyncCompile.wait_pool_ready(timeout=120)\n"
        "assert AsyncCompile.use_process_pool()\n"
    )


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_compile_workers_stopped_are_gone_and_a_later_compile_starts_them_again() -> None:
    _in_a_fresh_process(
        "from pathlib import Path\n"
        "import torch\n"
        "from torch._inductor.async_compile import AsyncCompile\n"
        "from search.training.compiling import start_compile_workers, stop_compile_workers\n"
        "def children():\n"
        "    tasks = Path('/proc/self/task').iterdir()\n"
        "    return {c for t in tasks for c in (t / 'children').read_text().split()}\n"
        "start_compile_workers()\n"
        "AsyncCompile.wait_pool_ready(timeout=120)\n"
        "assert children(), 'no compile workers started'\n"
        "stop_compile_workers()\n"
        "assert not children(), children()\n"
        "f = torch.compile(lambda x: x.sin() + 1)\n"
        "assert f(torch.ones(8, device='cuda')).sum().item() > 0\n"
    )


def _in_a_fresh_process(script: str) -> None:
    """Run ``script`` in a new interpreter (compile workers are per process); fail if it fails."""
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=300)
