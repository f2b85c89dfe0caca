"""A damaged records file is reported, never a traceback: `verify` fails (exit 1) and
`list`/`show`/`export` say the file is damaged (exit 1)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from mesodrive.cli import main
from mesodrive.records import DamagedRecordsError, RecordStore
from mesodrive.records.chain import row_hash

from .helpers import filled_db

READERS = [["list"], ["show", "1"], ["export", "1", "--format", "json"]]


def _raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("DROP TRIGGER journal_no_delete")
    conn.execute("DROP INDEX IF EXISTS journal_by_shot")  # it refuses a body that is not JSON
    return conn


def drop_journal(path: Path) -> None:
    _raw(path).execute("DROP TABLE journal")


def damage_pages(path: Path) -> None:
    page = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    assert len(data) > 8 * page  # pages 4-6 hold journal rows, not the header
    data[3 * page:6 * page] = b"\x5a" * (3 * page)
    path.write_bytes(bytes(data))


def body_not_json(path: Path) -> None:
    _raw(path).execute("UPDATE journal SET body = 'not json {' WHERE id = 5")


DAMAGE: dict[str, Callable[[Path], None]] = {
    "dropped journal table": drop_journal,
    "damaged pages": damage_pages,
    "a row body that is not JSON": body_not_json,
}


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "r.db"
    filled_db(path, 60)
    return path


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_verify_reports_damage_as_a_failed_verification(
        db: Path, damage: str, capsys: pytest.CaptureFixture[str]) -> None:
    DAMAGE[damage](db)
    assert main(["records", "--db", str(db), "verify"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAILED: ")
    assert ("damaged" in out) or ("row 5 altered" in out), out


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_readers_say_the_file_is_damaged(db: Path, damage: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    DAMAGE[damage](db)
    for action in READERS:
        assert main(["records", "--db", str(db), *action]) == 1, action
        err = capsys.readouterr().err
        assert f"error: {db}: the records file is damaged" in err, (action, err)


def test_a_body_that_is_not_json_is_named(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body_not_json(db)
    assert main(["records", "--db", str(db), "list"]) == 1
    assert "journal row 5" in capsys.readouterr().err


def test_a_rehashed_row_that_is_not_json_fails_verify(db: Path) -> None:
    """Its own hash is right, its link too (it is the last row, and the head is moved): only
    checking the body itself shows that mesodrive never wrote it."""
    conn = _raw(db)
    rid, ts, session, kind, _body, prev, _h = conn.execute(
        "SELECT * FROM journal ORDER BY id DESC LIMIT 1").fetchone()
    digest = row_hash(prev, rid, ts, session, kind, "[]")
    conn.execute("UPDATE journal SET body = '[]', hash = ? WHERE id = ?", (digest, rid))
    conn.execute("UPDATE chain_head SET last_hash = ?", (digest,))
    conn.close()
    (db.parent / "r.db.heads").unlink()  # the anchor would catch it too: check the body alone
    with RecordStore(db, readonly=True) as ro:
        result = ro.verify()
        assert not result.ok and result.first_bad_row == rid
        assert f"row {rid} damaged: its body is not a JSON object" in result.problem
        with pytest.raises(DamagedRecordsError, match=f"journal row {rid}"):
            ro.session(1)


def test_a_dropped_head_table_fails_verify_and_readers_warn(
        db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _raw(db).execute("DROP TABLE chain_head")
    assert main(["records", "--db", str(db), "verify"]) == 1
    assert "damaged" in capsys.readouterr().out
    assert main(["records", "--db", str(db), "list"]) == 0  # the journal itself is readable
    assert "warning: these records do not verify" in capsys.readouterr().err
