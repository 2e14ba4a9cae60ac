import os
from pathlib import Path

import pytest

from search.training.compile_cache import use_compile_cache


def test_a_compile_cache_holds_inductors_and_tritons_caches_and_is_made_by_compiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR"):
        monkeypatch.setenv(name, "before")  # restored after the test
    use_compile_cache(None)
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == os.environ["TRITON_CACHE_DIR"] == "before"
    use_compile_cache("kernels")  # relative: spawned workers see the same folder
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "kernels" / "inductor")
    assert os.environ["TRITON_CACHE_DIR"] == str(tmp_path / "kernels" / "triton")
    assert not (tmp_path / "kernels").exists()
