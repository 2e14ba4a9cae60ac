"""Bytecode kept in Hourglass's cache where Python would compile every module at every launch."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Keeps bytecode for the package `probe`, imports it, and reports what this process and a child
# of it see.
_SCRIPT = """
import importlib.util, json, os, subprocess, sys
from search.bytecode import keep_bytecode
folder = keep_bytecode("probe", precompiled=sys.argv[1:])
import probe
child = subprocess.run(
    [sys.executable, "-c", "import sys; print(sys.pycache_prefix, sys.dont_write_bytecode)"],
    capture_output=True, text=True, check=True,
).stdout.split()
print(json.dumps({
    "folder": None if folder is None else str(folder),
    "cached": importlib.util.cache_from_source(probe.__file__),
    "child": child,
}))
"""


def _package(tmp_path: Path) -> Path:
    package = tmp_path / "src" / "probe"
    (package / "tests").mkdir(parents=True)
    (package / "__init__.py").write_text("VALUE = 1\n")
    (package / "later.py").write_text("VALUE = 2\n")
    (package / "tests" / "test_probe.py").write_text("VALUE = 3\n")
    return package


def _run(
    tmp_path: Path, *precompiled: str, dont_write: bool, prefix: Path | None = None, cache: Path | None = None
) -> tuple[dict[str, object], str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "src"), str(ROOT)]),
        "HOURGLASS_CACHE": str(cache or tmp_path / "cache"),
    }
    env.pop("PYTHONPYCACHEPREFIX", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if dont_write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    if prefix is not None:
        env["PYTHONPYCACHEPREFIX"] = str(prefix)
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *precompiled], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout), done.stderr


def test_a_package_without_bytecode_has_it_kept_in_the_cache_for_every_process(tmp_path):
    package = _package(tmp_path)
    seen, said = _run(tmp_path, str(package), dont_write=True)
    folder = tmp_path / "cache" / "bytecode"
    assert seen["folder"] == str(folder)
    cached = Path(str(seen["cached"]))
    assert cached.is_relative_to(folder) and cached.exists()
    assert not (package / "__pycache__").exists()  # the package's folder is left as it was
    assert seen["child"] == [str(folder), "False"]  # processes it starts keep bytecode there too
    assert f"its bytecode is kept in {folder} from now on" in said
    # The package's other modules compile in the background, tests left out.
    later = folder / Path(*package.parts[1:]) / f"later.{sys.implementation.cache_tag}.pyc"
    deadline = time.monotonic() + 60
    while not later.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert later.exists()
    assert not list(folder.rglob("test_probe*.pyc"))

    again, said_again = _run(tmp_path, str(package), dont_write=True)
    assert again["folder"] == str(folder) and again["cached"] == seen["cached"]
    assert said_again == ""  # said once, when the folder was made


def test_where_python_keeps_bytecode_itself_nothing_changes(tmp_path):
    package = _package(tmp_path)
    seen, said = _run(tmp_path, str(package), dont_write=False)
    assert seen["folder"] is None
    assert seen["child"] == ["None", "False"]
    assert (package / "__pycache__").is_dir()
    assert not (tmp_path / "cache" / "bytecode").exists() and said == ""


def test_a_prefix_of_the_users_is_where_the_bytecode_goes(tmp_path):
    package = _package(tmp_path)
    prefix = tmp_path / "prefix"
    # torch's bytecode is there already (else the search package, imported first, keeps it there
    # and compiles every package in the background); the probe's is not.
    torch_init = importlib.util.find_spec("torch").origin
    shipped = Path(importlib.util.cache_from_source(torch_init))
    kept_torch = prefix / Path(torch_init).parent.relative_to("/") / shipped.name
    kept_torch.parent.mkdir(parents=True)
    shutil.copy(shipped, kept_torch)
    seen, said = _run(tmp_path, str(package), dont_write=True, prefix=prefix)
    assert seen["folder"] == str(prefix) and Path(str(seen["cached"])).is_relative_to(prefix)
    assert Path(str(seen["cached"])).exists() and seen["child"] == [str(prefix), "False"]
    assert not (tmp_path / "cache" / "bytecode").exists()
    assert said == ""  # the folder was not new


def test_a_cache_folder_that_cannot_be_made_leaves_python_as_it_was_and_says_so(tmp_path):
    package = _package(tmp_path)
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    seen, said = _run(tmp_path, str(package), dont_write=True, cache=blocked)
    assert seen["folder"] is None and seen["child"] == ["None", "True"]
    assert "no bytecode kept, every process compiles probe from source" in said
