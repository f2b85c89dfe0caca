"""Stored text is shown as text: never read as rich markup, never a terminal control sequence.
And numbers or paths the user types that cannot be right are named errors, not tracebacks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mesodrive.cli import main
from mesodrive.records import RecordStore

from .helpers import PLAN, filled_db, shot, start

NASTY = ["P[/]01", "[/]op", "[bold red]RED[/]", "[link=http://x]click[/link]", "a\x1b[2Jb"]


@pytest.fixture()
def nasty_db(tmp_path: Path) -> Path:
    path = tmp_path / "r.db"
    with RecordStore(path) as store:
        sid = start(store, plan_snapshot={**PLAN, "patient_ref": "P[/]01"}, operator="[/]op",
                    product={"id": "[bold red]RED[/]"})
        store.record_shot(sid, shot(0, "done"), sync=True)
        store.record_alarm(sid, "[/]", "[link=http://x]click[/link]")
        store.record_action(sid, "skip", "point 2: a\x1b[2Jb", operator="[/]op")
        store.end_session(sid, "completed", {})
    return path


def test_list_and_show_print_stored_markup_literally(
        nasty_db: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["records", "--db", str(nasty_db), "list"]) == 0
    out = capsys.readouterr().out
    assert "P[/]01" in out and "[bold red]RED[/]" in out
    assert main(["records", "--db", str(nasty_db), "show", "1"]) == 0
    out = capsys.readouterr().out
    for text in NASTY[:4]:
        assert text in out, text
    assert "\x1b[2J" not in out and "a\\x1b[2Jb" in out  # shown, not obeyed by the terminal


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "r.db"
    filled_db(path, 3)
    return path


@pytest.mark.parametrize("action", [["show"], ["export", "--format", "csv"]])
def test_session_numbers_beyond_sqlite_are_named(db: Path, action: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    cmd = ["records", "--db", str(db), action[0], "99999999999999999999", *action[1:]]
    assert main(cmd) == 2
    assert "session 99999999999999999999 is not a session number" in capsys.readouterr().err


def test_store_api_treats_huge_session_ids_as_unknown(db: Path) -> None:
    from mesodrive.records import UnknownSessionError

    with RecordStore(db, readonly=True) as ro, pytest.raises(UnknownSessionError):
        ro.session(2**64)


def test_export_to_a_folder_names_the_output(db: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    assert main(["records", "--db", str(db), "export", "1", "--format", "csv",
                 "-o", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write the export to {folder}: it is a folder" in err
    assert list(folder.iterdir()) == []


def test_export_to_a_missing_folder_names_the_output(db: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing" / "s1.csv"
    assert main(["records", "--db", str(db), "export", "1", "--format", "json",
                 "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"the folder {target.parent} does not exist" in err
    assert "no records database" not in err
    assert not target.parent.exists()


def test_export_never_overwrites_the_database(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = db.read_bytes()
    assert main(["records", "--db", str(db), "export", "1", "--format", "csv",
                 "-o", str(db)]) == 2
    assert "is the records database" in capsys.readouterr().err
    assert db.read_bytes() == before
    assert sqlite3.connect(db).execute("SELECT count(*) FROM journal").fetchone()[0] == 13
