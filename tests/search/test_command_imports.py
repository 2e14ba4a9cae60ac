"""The five commands answer --help and input errors without importing torch, scipy or matplotlib
(together about 4 s): those load only where a run trains, ranks or draws."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
COMMANDS = ("search.run", "search.train", "search.best", "search.confirm", "search.report")
HEAVY = ("torch", "scipy.stats", "scipy.linalg", "matplotlib")


def loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_commands_loads_nothing_heavy() -> None:
    assert loaded_after("; ".join(f"import {c}" for c in COMMANDS)) == []


def test_a_refused_search_loads_nothing_heavy(tmp_path: Path) -> None:
    argv = ["--data", str(tmp_path / "missing.jsonl"), "--storage", str(tmp_path / "s.db")]
    code = f"from search.run import main\nassert main({argv!r}) == 2"
    assert loaded_after(code) == []
    assert not (tmp_path / "s.db").exists()
