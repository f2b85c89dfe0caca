"""`mesodrive records ...` through the real entry point."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from mesodrive.cli import main

from .helpers import filled_db


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "r.db"
    filled_db(path, 3)
    return path


def test_verify_ok(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["records", "--db", str(db), "verify"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "13 rows" in out


def test_verify_names_the_altered_row(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("UPDATE journal SET body = replace(body, '20.0', '25.0') WHERE id = 7")
    conn.commit()
    conn.close()
    assert main(["records", "verify", "--db", str(db)]) == 1  # --db after the action works too
    out = capsys.readouterr().out
    assert "row 7 altered" in out


def test_verify_names_the_missing_row(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER journal_no_delete")
    conn.execute("DELETE FROM journal WHERE id = 5")
    conn.commit()
    conn.close()
    assert main(["records", "--db", str(db), "verify"]) == 1
    assert "row 5 missing" in capsys.readouterr().out


def test_missing_database_is_a_usage_error(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.db"
    for action in (["verify"], ["list"], ["show", "1"], ["export", "1", "--format", "csv"]):
        assert main(["records", "--db", str(missing), *action]) == 2
        assert f"no records database at {missing}" in capsys.readouterr().err
    assert not missing.exists()  # looking never creates a database


def test_not_a_records_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_text("hello")
    assert main(["records", "--db", str(bogus), "list"]) == 2
    assert "not a mesodrive records database" in capsys.readouterr().err


def test_unknown_session(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["records", "--db", str(db), "show", "42"]) == 2
    assert "no session 42" in capsys.readouterr().err
    out_file = db.parent / "x.csv"
    assert main(["records", "--db", str(db), "export", "42", "--format", "csv",
                 "-o", str(out_file)]) == 2
    assert "no session 42" in capsys.readouterr().err and not out_file.exists()


def test_list_and_show(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["records", "--db", str(db), "list"]) == 0
    out = capsys.readouterr().out
    assert "PT-0042" in out and "completed" in out and "3/4" in out  # 4 points planned
    assert main(["records", "--db", str(db), "show", "1"]) == 0
    out = capsys.readouterr().out
    assert "OCCLUSION" in out and "occluded point" in out and "delivered" in out


def test_export_to_file_and_stdout(db: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "s1.csv"
    assert main(["records", "--db", str(db), "export", "1", "--format", "csv",
                 "-o", str(target)]) == 0
    with open(target, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["state"] for r in rows[:-1]] == ["done"] * 3
    assert rows[-1]["session"] == "# chain head"  # the export ends with the chain's head
    capsys.readouterr()
    assert main(["records", "--db", str(db), "export", "1", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["shots"]) == 3 and doc["session"]["points_done"] == 3


def test_empty_database_lists_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mesodrive.records import RecordStore

    RecordStore(tmp_path / "r.db").close()
    assert main(["records", "--db", str(tmp_path / "r.db"), "list"]) == 0
    assert "no sessions" in capsys.readouterr().out
