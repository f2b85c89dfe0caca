"""`--db` checks: a path that cannot hold the records is refused before anything connects or
writes, with the path and the problem named, and nothing on disk changes."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from mesodrive.cli import main
from mesodrive.records import (
    DbPathError,
    NoDatabaseError,
    RecordStore,
    check_db_path,
    db_path_problem,
)
from tests.controller.conftest import write_plan

from .helpers import filled_db


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file in the folder: content and mode (what 'nothing changed' means here)."""
    return {p.name: (p.read_bytes(), p.stat().st_mode) for p in folder.iterdir() if p.is_file()}


def _foreign(path: Path) -> None:
    conn = sqlite3.connect(path)  # another program's file: rollback journal, no app id
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    conn.execute("INSERT INTO notes (text) VALUES ('not yours')")
    conn.commit()
    conn.close()


def _readonly(path: Path) -> None:
    filled_db(path, 2)
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def _text(path: Path) -> None:
    path.write_text("patient list, do not lose\n" * 20)


CASES: dict[str, tuple[Any, str]] = {
    "folder": (lambda p: p.mkdir(), "is a folder"),
    "text file": (_text, "not an SQLite file"),
    "read-only file": (_readonly, "is read-only"),
    "another program's SQLite file": (_foreign, "another program's SQLite database"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_store_refuses_and_changes_nothing(tmp_path: Path, case: str) -> None:
    make, words = CASES[case]
    path = tmp_path / "records.db"
    make(path)
    before = _snapshot(tmp_path)
    with pytest.raises(DbPathError, match=words) as info:
        RecordStore(path)
    assert str(path) in str(info.value)
    assert _snapshot(tmp_path) == before  # no -wal/-shm, no WAL switch, no schema


@pytest.mark.parametrize("case", list(CASES))
def test_run_refuses_before_connecting(tmp_path: Path, case: str,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    make, words = CASES[case]
    plan = write_plan(tmp_path)
    path = tmp_path / "records.db"
    make(path)
    before = _snapshot(tmp_path)

    def no_device(*_: object) -> None:
        raise AssertionError("the device was connected before the records path was checked")

    monkeypatch.setattr("mesodrive.cli.run_cmd._connect", no_device)
    assert main(["run", str(plan), "--db", str(path), "--yes"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and words in err
    assert _snapshot(tmp_path) == before


def test_resume_refuses_a_read_only_database_before_connecting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "records.db"
    _readonly(path)
    monkeypatch.setattr("mesodrive.cli.run_cmd._connect", lambda *_: pytest.fail("connected"))
    assert main(["resume", "1", "--db", str(path), "--yes"]) == 2
    assert f"{path}: is read-only" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["folder", "text file", "another program's SQLite file"])
def test_records_cli_names_the_problem(tmp_path: Path, case: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    make, words = CASES[case]
    path = tmp_path / "records.db"
    make(path)
    before = _snapshot(tmp_path)
    for action in (["verify"], ["list"], ["show", "1"], ["export", "1", "--format", "csv"]):
        assert main(["records", "--db", str(path), *action]) == 2
        err = capsys.readouterr().err
        assert str(path) in err and words in err, err
    assert _snapshot(tmp_path) == before


def test_reading_a_read_only_database_is_fine(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "records.db"
    _readonly(path)
    assert main(["records", "--db", str(path), "verify"]) == 0
    assert "OK" in capsys.readouterr().out


def test_check_db_path(tmp_path: Path) -> None:
    missing = tmp_path / "new" / "deeper" / "records.db"
    assert check_db_path(missing, create=True) == missing
    assert not (tmp_path / "new").exists()  # checking never creates
    with pytest.raises(NoDatabaseError, match="no records database at"):
        check_db_path(missing, create=False)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DbPathError, match="is a file, not a folder"):
        check_db_path(blocker / "records.db", create=True)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("PRAGMA user_version").fetchone()  # an empty SQLite file
    assert db_path_problem(empty, create=True) is None
    RecordStore(empty).close()  # and it becomes a records database
    assert db_path_problem(empty, create=False) is None

