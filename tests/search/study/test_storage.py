import sqlite3

import optuna
import pytest

from search.study.storage import StorageError, open_if_present, open_storage


def test_a_sqlite_file_given_as_a_journal_path_is_refused_naming_its_url(tmp_path):
    path = tmp_path / "studies.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("create table t (x)")
    for opener in (open_storage, open_if_present):
        with pytest.raises(
            StorageError, match=rf"{path} is a SQLite database; pass --storage sqlite:///{path}"
        ):
            opener(str(path))


def test_a_missing_journal_is_not_created_until_a_study_is_stored(tmp_path):
    path = tmp_path / "studies.db"
    assert open_if_present(str(path)) is None and not path.exists()
    with pytest.raises(StorageError, match="is a folder"):
        open_if_present(str(tmp_path))
    with pytest.raises(StorageError, match="does not exist"):
        open_if_present(str(tmp_path / "missing" / "studies.db"))
    optuna.create_study(study_name="s", storage=open_storage(str(path)))
    reopened = open_if_present(str(path))
    assert reopened is not None and optuna.get_all_study_names(reopened) == ["s"]
