"""The recorded code commit: the project's own, or 'unknown', in real git repositories."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from search.training.provenance import code_commit

PROJECT = Path(__file__).resolve().parents[3]


def git(folder: Path, *args: str) -> str:
    """Run git in ``folder`` with a fixed identity and no signing, whatever the user's settings."""
    identity = ("-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false")
    done = subprocess.run(
        ["git", *identity, "-C", str(folder), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def repository(folder: Path, files: dict[str, str]) -> str:
    """A git repository at ``folder`` with ``files`` committed; its commit."""
    folder.mkdir(parents=True, exist_ok=True)
    git(folder, "init", "--quiet")
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    git(folder, "add", "--all")
    git(folder, "commit", "--quiet", "-m", "files")
    return git(folder, "rev-parse", "HEAD")


def test_a_clean_project_records_its_commit(tmp_path: Path):
    commit = repository(tmp_path / "project", {"code.py": "x = 1\n"})
    assert code_commit(tmp_path / "project") == commit


def test_changed_tracked_files_make_it_dirty(tmp_path: Path):
    commit = repository(tmp_path / "project", {"code.py": "x = 1\n"})
    (tmp_path / "project" / "code.py").write_text("x = 2\n")
    assert code_commit(tmp_path / "project") == f"{commit}-dirty"


def test_an_untracked_file_makes_it_dirty_and_an_ignored_one_does_not(tmp_path: Path):
    project = tmp_path / "project"
    commit = repository(project, {"code.py": "x = 1\n", ".gitignore": "runs/\n"})
    (project / "runs").mkdir()
    (project / "runs" / "result.json").write_text("{}")
    assert code_commit(project) == commit
    (project / "new_module").mkdir()
    (project / "new_module" / "code.py").write_text("y = 1\n")  # inside an untracked folder, too
    assert code_commit(project) == f"{commit}-dirty"


def test_a_project_inside_another_repository_records_unknown(tmp_path: Path):
    outer = tmp_path / "outer"
    repository(outer, {"README": "outer\n", "vendor/project/code.py": "x = 1\n"})
    assert code_commit(outer / "vendor" / "project") == "unknown"


def test_a_folder_outside_any_repository_records_unknown(tmp_path: Path):
    (tmp_path / "project").mkdir()
    assert code_commit(tmp_path / "project") == "unknown"


def test_a_repository_without_a_commit_records_unknown(tmp_path: Path):
    (tmp_path / "project").mkdir()
    git(tmp_path / "project", "init", "--quiet")
    assert code_commit(tmp_path / "project") == "unknown"


def test_the_project_copied_into_another_repository_does_not_record_that_repositorys_commit(
    tmp_path: Path,
):
    outer = tmp_path / "outer"
    repository(outer, {"README": "outer\n"})
    copy = outer / "hourglass"
    for package in ("space", "model", "search"):
        shutil.copytree(PROJECT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    git(outer, "add", "--all")
    git(outer, "commit", "--quiet", "-m", "vendored hourglass")
    # The copy's own modules, found first on the path: its provenance reads its own location.
    script = "import search.training.provenance as p; print(p.__file__); print(p.code_commit())"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=copy, capture_output=True, text=True, check=True, timeout=120
    )
    where, commit = done.stdout.split()
    assert Path(where).resolve().is_relative_to(copy.resolve())
    assert commit == "unknown"


def test_this_project_records_its_own_commit_when_it_is_a_repository_of_its_own():
    try:
        top = Path(git(PROJECT, "rev-parse", "--show-toplevel"))
    except (OSError, subprocess.CalledProcessError):
        top = None
    recorded = code_commit()
    if top is None or top.resolve() != PROJECT:
        assert recorded == "unknown"
    else:
        assert recorded.removesuffix("-dirty") == git(PROJECT, "rev-parse", "HEAD")
