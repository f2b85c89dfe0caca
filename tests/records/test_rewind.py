"""Records that cannot be rewound unnoticed: session ids come from the chain itself, `verify`
checks them, and heads kept outside the database show truncation and rollback."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesodrive.cli import main
from mesodrive.records import RecordStore, heads_path, parse_head
from mesodrive.records.chain import GENESIS, row_hash, utc_now

from .helpers import filled_db, shot, start


def _raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS journal_no_update")
    conn.execute("DROP TRIGGER IF EXISTS journal_no_delete")
    return conn


def _append(conn: sqlite3.Connection, session: int, kind: str, body: dict[str, object]) -> None:
    """Append a row the way a writer with the chain's (unkeyed) hash would."""
    last_id, last_hash = conn.execute("SELECT last_id, last_hash FROM chain_head").fetchone()
    rid, ts, text = last_id + 1, utc_now(), json.dumps(body)
    digest = row_hash(last_hash, rid, ts, session, kind, text)
    conn.execute("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (rid, ts, session, kind, text, last_hash, digest))
    conn.execute("UPDATE chain_head SET last_id = ?, last_hash = ?", (rid, digest))


def _truncate(path: Path, keep: int) -> None:
    """Delete the newest rows and move the head back: a valid, shorter chain."""
    conn = _raw(path)
    row = conn.execute("SELECT hash FROM journal WHERE id = ?", (keep,)).fetchone()
    digest = GENESIS if keep == 0 else row[0]
    conn.execute("DELETE FROM journal WHERE id > ?", (keep,))
    conn.execute("UPDATE chain_head SET last_id = ?, last_hash = ?", (keep, digest))
    conn.close()


# -- session ids -------------------------------------------------------------------------------

def test_a_reset_session_counter_does_not_reuse_a_session_id(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    filled_db(path, 2)
    conn = _raw(path)
    conn.execute("UPDATE chain_head SET last_session = 0")  # outside the chain: not evident
    conn.close()
    with RecordStore(path) as store:
        assert start(store) == 2  # from the journal: max session id + 1
        store.flush()
        assert store.verify().ok


def test_verify_names_a_reused_session_id(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    filled_db(path, 2)
    conn = _raw(path)
    _append(conn, 1, "session_start", {"plan_hash": "f" * 64})  # what a reset counter gave
    conn.close()
    heads_path(path).unlink()
    with RecordStore(path, readonly=True) as ro:
        result = ro.verify()
    assert not result.ok and result.first_bad_row == 11  # 10 rows, then the reused id
    assert "row 11 starts session 1" in result.problem
    assert "unique and increasing" in result.problem


def test_verify_names_a_row_of_a_session_never_started(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    filled_db(path, 2)
    conn = _raw(path)
    _append(conn, 7, "alarm", {"code": "X", "detail": ""})
    conn.close()
    heads_path(path).unlink()
    with RecordStore(path, readonly=True) as ro:
        result = ro.verify()
    assert not result.ok and "row 11 belongs to session 7, which was never started" in result.problem


# -- the anchor --------------------------------------------------------------------------------

def _two_sessions(path: Path) -> tuple[str, str]:
    """Two sessions; returns the head after each as `verify` prints it."""
    heads = []
    for _ in range(2):
        with RecordStore(path) as store:
            sid = start(store)
            store.record_shot(sid, shot(0, "done"), sync=True)
            store.end_session(sid, "completed", {})
            store.flush()
            heads.append(store.verify().head)
    return heads[0], heads[1]


def test_every_session_end_appends_the_head_beside_the_database(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    first, second = _two_sessions(path)
    lines = heads_path(path).read_text().splitlines()
    assert [line.split(" ")[1] for line in lines] == [first, second]
    assert lines[1].endswith("session 2 ended: completed")
    assert parse_head(second).rows == 6


def test_verify_prints_the_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.db"
    _first, second = _two_sessions(path)
    assert main(["records", "--db", str(path), "verify"]) == 0
    out = capsys.readouterr().out
    assert f"chain head: {second}" in out and "2 heads recorded in r.db.heads match" in out


@pytest.mark.parametrize("heads_file", ["kept", "removed"])
def test_expect_head_detects_truncation(tmp_path: Path, heads_file: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.db"
    first, second = _two_sessions(path)
    _truncate(path, parse_head(first).rows)
    if heads_file == "removed":
        heads_path(path).unlink()
        assert main(["records", "--db", str(path), "verify"]) == 0  # a valid shorter chain
        capsys.readouterr()
    assert main(["records", "--db", str(path), "verify", "--expect-head", second]) == 1
    out = capsys.readouterr().out
    assert "FAILED: the journal has 3 rows" in out and "rows 4-6 were removed" in out
    assert main(["records", "--db", str(path), "verify", "--expect-head", first]) == (
        0 if heads_file == "removed" else 1)


def test_an_older_copy_of_the_database_is_detected(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.db"
    with RecordStore(path) as store:
        sid = start(store)
        store.end_session(sid, "completed", {})
    old_copy = tmp_path / "backup.db"
    shutil.copy(path, old_copy)
    _first, second = _two_sessions(path)
    shutil.copy(old_copy, path)  # rolled back, heads file left as it was
    assert main(["records", "--db", str(path), "verify"]) == 1
    assert "rolled back" in capsys.readouterr().out
    # Rolled back *and* new rows written since: same row count, another history.
    with RecordStore(path) as store:
        for _ in range(2):
            sid = start(store)
            store.record_shot(sid, shot(0, "done"), sync=True)
            store.end_session(sid, "completed", {})
    heads_path(path).unlink()
    assert main(["records", "--db", str(path), "verify", "--expect-head", second]) == 1
    assert "row 8's hash differs from the head in --expect-head" in capsys.readouterr().out


def test_a_bad_expect_head_is_a_usage_error(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.db"
    filled_db(path, 1)
    assert main(["records", "--db", str(path), "verify", "--expect-head", "12:abc"]) == 2
    assert "--expect-head: '12:abc' is not a records head" in capsys.readouterr().err


def test_exports_end_with_the_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.db"
    _first, second = _two_sessions(path)
    assert main(["records", "--db", str(path), "export", "1", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc)[-1] == "chain" and doc["chain"]["head"] == second
    assert doc["chain"]["verified"] is True
    assert main(["records", "--db", str(path), "export", "1", "--format", "csv"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == f"# chain head,{second},verified"


def test_anchor_on_demand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.db"
    filled_db(path, 1)
    heads_path(path).unlink()
    assert main(["records", "--db", str(path), "anchor"]) == 0
    out = capsys.readouterr().out
    line = heads_path(path).read_text().splitlines()[-1]
    assert f"chain head: {line.split(' ')[1]}" in out and line.endswith("records anchor")


def test_a_damaged_heads_line_fails_verify(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.db"
    _two_sessions(path)
    lines = heads_path(path).read_text().splitlines()
    heads_path(path).write_text(lines[0] + "\nedited by hand\n" + lines[1] + "\n")
    assert main(["records", "--db", str(path), "verify"]) == 1
    assert "r.db.heads line 2 is damaged" in capsys.readouterr().out


@settings(max_examples=25, deadline=None)
@given(keep=st.integers(0, 11))
def test_any_truncation_is_caught_by_a_head_kept_elsewhere(keep: int, tmp_path_factory:
                                                           pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("t") / "r.db"
    filled_db(path, 3)  # 13 rows
    with RecordStore(path, readonly=True) as ro:
        head = ro.verify().head
    heads_path(path).unlink()
    _truncate(path, keep)
    with RecordStore(path, readonly=True) as ro:
        assert ro.verify().ok  # the chain alone cannot tell
        result = ro.verify([parse_head(head)])
    assert not result.ok and result.first_bad_row == keep + 1
