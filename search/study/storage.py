"""Where studies live: a journal file by default, any Optuna storage URL on request.

A bare path such as ``studies.db`` is an Optuna journal file: several worker processes on one
host append to it safely (file locks, no "database is locked"), and ``optuna-dashboard
studies.db`` opens it as it is. A URL (``postgresql://...``, ``sqlite:///x.db``) is an RDB
storage, the choice for workers on several hosts.
"""

from __future__ import annotations

import re
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from search.study.journal_lock import InterruptSafeLock

_SQLITE_HEADER = b"SQLite format 3\x00"
_STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class StorageError(ValueError):
    """A storage that cannot be opened, with the reason."""


def is_url(storage: str) -> bool:
    """True for ``scheme://...`` storage URLs, False for journal file paths."""
    return "://" in storage


def check_journal_path(storage: str) -> None:
    """Whether a journal file could be opened at ``storage``, without creating it; errors say why not."""
    path = Path(storage)
    if path.is_dir():
        raise StorageError(f"storage {path} is a folder; give a file path such as {path / 'studies.db'}")
    if path.exists() and _header(path) == _SQLITE_HEADER:
        raise StorageError(f"{path} is a SQLite database; pass --storage sqlite:///{path}")
    if not path.parent.exists():
        raise StorageError(f"folder {path.parent} for storage {path} does not exist")


def _header(path: Path) -> bytes:
    """The first bytes of ``path``, as many as a SQLite header holds: a journal grows with its study."""
    with path.open("rb") as file:
        return file.read(len(_SQLITE_HEADER))


def open_storage(storage: str) -> BaseStorage:
    """Open (creating if needed) the storage a ``--storage`` value names; errors say why not."""
    if is_url(storage):
        return _open_rdb(storage)
    check_journal_path(storage)
    return JournalStorage(JournalFileBackend(storage, lock_obj=InterruptSafeLock(storage)))


def open_if_present(storage: str) -> BaseStorage | None:
    """The storage ``storage`` names when it exists already (a URL always does), else None; a
    journal file is never created here."""
    if not is_url(storage) and not Path(storage).exists():
        check_journal_path(storage)
        return None
    return open_storage(storage)


def _open_rdb(url: str) -> RDBStorage:
    try:
        return RDBStorage(url, engine_kwargs=_engine_kwargs(url))
    except ImportError as e:
        raise StorageError(f"storage {_redact(url)} needs a database driver: {e}") from None
    except Exception as e:  # SQLAlchemy raises many types for an unreachable or wrong server
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise StorageError(f"cannot open storage {_redact(url)}: {first_line}") from None


def _engine_kwargs(url: str) -> dict[str, object]:
    # An unreachable server should fail in seconds, not hang on the OS's TCP timeout.
    if url.startswith("postgresql"):
        return {"connect_args": {"connect_timeout": 10}, "pool_pre_ping": True}
    return {}


def _redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def artifact_dir(storage: str) -> Path:
    """Folder for trial pictures: ``artifacts`` beside a journal file, ``./artifacts`` for URLs."""
    base = Path(".") if is_url(storage) else Path(storage).parent
    return base / "artifacts"


def check_study_name(name: str) -> str:
    """The name itself, or a ValueError when it could escape a folder or is not a plain name."""
    if not _STUDY_NAME.fullmatch(name):
        raise ValueError(
            f"study name '{name}' must be 1-100 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit (no path characters)"
        )
    return name


def load_existing_study(storage: str, name: str | None) -> optuna.Study:
    """The study ``name`` in an existing storage, or its only study when ``name`` is None;
    ValueError for a bad name, a storage file that does not exist (it is not created), an unknown
    study or, without a name, a storage that holds other than one (the errors list the studies)."""
    if name is not None:
        check_study_name(name)
    if not is_url(storage) and not Path(storage).is_file():
        raise ValueError(f"storage {storage} does not exist")
    opened = open_storage(storage)
    if name is None:
        names = optuna.get_all_study_names(opened)
        if len(names) != 1:
            raise ValueError(f"{storage} holds {len(names)} studies ({', '.join(names)}): name one")
        name = names[0]
    try:
        return optuna.load_study(study_name=name, storage=opened)
    except KeyError:
        names = optuna.get_all_study_names(opened)
        known = ", ".join(names) if names else "none"
        raise ValueError(f"no study '{name}' in this storage (studies there: {known})") from None


def trial_id(storage: BaseStorage, study_name: str, number: int) -> int:
    """The storage's id of trial ``number`` of ``study_name``: what a storage's per-trial methods
    take, for trials of this or another worker (Optuna keeps its own handle on it private)."""
    study_id = storage.get_study_id_from_name(study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, number)
