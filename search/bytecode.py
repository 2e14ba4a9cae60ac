"""Bytecode kept between launches on hosts where Python would compile every module from source.

Some hosts set PYTHONDONTWRITEBYTECODE and install torch without bytecode (containers, and the
H200 machines this project is measured on): every process then compiles the 3,000 to 4,000 modules
a worker imports, most of its 13 to 17 s of imports there (README, "Cold start"). On such a host
the bytecode goes to Hourglass's cache folder instead of the packages' folders (Python's
``pycache_prefix``), for this process and every process it starts; the first time, the packages'
modules compile in parallel processes while this one imports them.
"""

from __future__ import annotations

import compileall
import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

from search.data.cache_folder import cache_root

# What a worker imports, biggest and earliest first: precompiled when the folder is new.
PRECOMPILED = ("torch", "sympy", "numpy", "optuna", "sqlalchemy", "pydantic", "networkx", "jinja2", "triton",
               "matplotlib", "mpmath")  # fmt: skip
# Never imported by a study, below a precompiled folder: tests, and the packages installed under
# the standard library's folder (some installs keep site-packages there).
_SKIPPED = r"(.*/)?(tests?|testing|site-packages|dist-packages)/"


def bytecode_folder() -> Path:
    """Where kept bytecode lives: ``PYTHONPYCACHEPREFIX`` when set, else Hourglass's cache."""
    return Path(sys.pycache_prefix) if sys.pycache_prefix else cache_root() / "bytecode"


def keep_bytecode(probe: str = "torch", precompiled: Sequence[str] | None = None) -> Path | None:
    """Keep bytecode in :func:`bytecode_folder` when ``probe`` (a package every worker imports) has
    none and Python would write none for it; returns the folder then, None when Python keeps
    bytecode itself, or when the folder cannot be made (it says so). Call it before the heavy
    imports; processes started afterwards inherit it.
    When the folder is new, the modules under the ``precompiled`` folders (by default those of
    ``PRECOMPILED`` and the standard library) compile in the background."""
    if not _compiled_every_launch(probe):
        return None
    folder = bytecode_folder()
    try:
        new = not folder.exists() or not any(folder.iterdir())
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"note: no bytecode kept, every process compiles {probe} from source: {e}", file=sys.stderr)
        return None
    sys.pycache_prefix = str(folder)
    sys.dont_write_bytecode = False
    os.environ["PYTHONPYCACHEPREFIX"] = str(folder)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    if new:
        print(
            f"note: Python here keeps no bytecode for {probe} (PYTHONDONTWRITEBYTECODE is set, or its folder "
            "is read-only), so every process would compile it from source (seconds each); its bytecode is "
            f"kept in {folder} from now on",
            file=sys.stderr,
        )
        _precompile_in_background(_default_precompiled() if precompiled is None else precompiled)
    return folder


def _compiled_every_launch(probe: str) -> bool:
    spec = importlib.util.find_spec(probe)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return False
    cached = Path(importlib.util.cache_from_source(spec.origin))
    if cached.exists():
        return False
    if sys.dont_write_bytecode:
        return True
    existing = next(p for p in (cached.parent, *cached.parents) if p.exists())
    return not os.access(existing, os.W_OK)


def _default_precompiled() -> list[str]:
    specs = [importlib.util.find_spec(name) for name in PRECOMPILED]
    folders = [
        spec.submodule_search_locations[0] for spec in specs if spec and spec.submodule_search_locations
    ]
    return [*folders, sysconfig.get_paths()["stdlib"]]


def _precompile_in_background(folders: Sequence[str]) -> None:
    """Compile ``folders`` in a process of its own that uses every core: this process, importing
    meanwhile, then finds most modules compiled."""
    subprocess.Popen(
        [sys.executable, "-m", "search.bytecode", *folders],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def precompile(folders: Sequence[str]) -> bool:
    """Compile every module under ``folders`` but tests, in parallel processes, into this
    process's ``pycache_prefix``; True when all compiled."""
    return all(
        compileall.compile_dir(
            folder, quiet=2, workers=0, rx=re.compile(re.escape(folder.rstrip("/")) + "/" + _SKIPPED)
        )
        for folder in folders
    )


if __name__ == "__main__":
    sys.exit(0 if precompile(sys.argv[1:]) else 1)
