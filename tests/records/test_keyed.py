"""The optional keyed chain (HMAC-SHA256): someone who can rewrite the file but does not hold
the key cannot produce a chain that verifies with it. Unkeyed stays the default."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from mesodrive.cli import main
from mesodrive.records import (
    KEY_FILE_ENV,
    KeyRequiredError,
    RecordStore,
    db_path_problem,
    heads_path,
    load_key,
)
from mesodrive.records.chain import GENESIS, row_hash

from .helpers import filled_db, shot, start

KEY = b"0123456789abcdef0123456789abcdef"


@pytest.fixture()
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "records.key"
    path.write_bytes(KEY + b"\n")
    return path


@pytest.fixture()
def keyed_db(tmp_path: Path) -> Path:
    path = tmp_path / "r.db"
    with RecordStore(path, key=KEY) as store:
        sid = start(store)
        for i in range(3):
            store.record_shot(sid, shot(i, "done"), sync=True)
        store.end_session(sid, "completed", {})
    return path


def _recompute_unkeyed(path: Path, volume: float) -> None:
    """The attack a keyed chain stops: change a row, recompute every hash and the head."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER journal_no_update")
    rows = conn.execute("SELECT id, ts, session, kind, body FROM journal ORDER BY id").fetchall()
    prev = GENESIS
    for rid, ts, session, kind, body in rows:
        if kind == "shot":
            data = json.loads(body)
            data["measured"]["delivered_ul"] = volume
            body = json.dumps(data)
        digest = row_hash(prev, rid, ts, session, kind, body)
        conn.execute("UPDATE journal SET body = ?, prev_hash = ?, hash = ? WHERE id = ?",
                     (body, prev, digest, rid))
        prev = digest
    conn.execute("UPDATE chain_head SET last_hash = ?", (prev,))
    conn.execute("DROP TABLE chain_key")  # and pretend it was never keyed
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    heads_path(path).unlink()


def test_keyed_chain_verifies_with_its_key(keyed_db: Path, key_file: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["records", "--db", str(keyed_db), "--key-file", str(key_file), "verify"]) == 0
    assert "chain intact, keyed (HMAC-SHA256)" in capsys.readouterr().out
    assert sqlite3.connect(keyed_db).execute("PRAGMA user_version").fetchone()[0] == 2


def test_keyed_chain_without_its_key(keyed_db: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["records", "--db", str(keyed_db), "verify"]) == 2
    assert "this records chain is keyed" in capsys.readouterr().err
    other = tmp_path / "other.key"
    other.write_bytes(b"x" * 32)
    assert main(["records", "--db", str(keyed_db), "verify", "--key-file", str(other)]) == 1
    assert "the key given is not the key this chain was written with" in capsys.readouterr().out
    with pytest.raises(KeyRequiredError, match="keyed"):
        RecordStore(keyed_db)  # writing without the key would break the chain: refused


def test_a_recomputed_chain_fails_with_the_key(keyed_db: Path, key_file: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _recompute_unkeyed(keyed_db, 40.0)
    assert main(["records", "--db", str(keyed_db), "verify"]) == 0  # unkeyed: fooled
    capsys.readouterr()
    assert main(["records", "--db", str(keyed_db), "verify", "--key-file", str(key_file)]) == 1
    assert "the chain is not keyed, but a key was given" in capsys.readouterr().out


def test_a_forged_keyed_row_fails(keyed_db: Path, key_file: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    conn = sqlite3.connect(keyed_db, isolation_level=None)
    conn.execute("DROP TRIGGER journal_no_update")
    rid, ts, session, kind, body, prev, _ = conn.execute(
        "SELECT * FROM journal WHERE id = 3").fetchone()
    forged = body.replace("20.0", "40.0")
    conn.execute("UPDATE journal SET body = ?, hash = ? WHERE id = 3",
                 (forged, row_hash(prev, rid, ts, session, kind, forged)))  # no key: SHA-256
    conn.close()
    assert main(["records", "--db", str(keyed_db), "verify", "--key-file", str(key_file)]) == 1
    assert "row 3 altered" in capsys.readouterr().out


def test_the_key_can_come_from_the_environment(keyed_db: Path, key_file: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_FILE_ENV, str(key_file))
    with RecordStore(keyed_db) as store:  # run/resume open the store like this
        sid = start(store)
        store.end_session(sid, "completed", {})
        store.flush()
        result = store.verify()
    assert result.ok and result.keyed
    assert main(["records", "--db", str(keyed_db), "verify"]) == 0


def test_unkeyed_databases_stay_unkeyed(tmp_path: Path, key_file: Path) -> None:
    path = tmp_path / "r.db"
    filled_db(path, 1)
    problem = db_path_problem(path, create=True, key=load_key(key_file))
    assert problem is not None and "started without a key" in problem
    with pytest.raises(KeyRequiredError, match="started without a key"):
        RecordStore(path, key=KEY)
    with RecordStore(path, readonly=True) as ro:
        assert ro.verify().ok and not ro.verify().keyed


def test_run_checks_the_key_before_connecting(keyed_db: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from tests.controller.conftest import write_plan

    plan = write_plan(tmp_path)
    monkeypatch.setattr("mesodrive.cli.run_cmd._connect", lambda *_: pytest.fail("connected"))
    assert main(["run", str(plan), "--db", str(keyed_db), "--yes"]) == 2
    assert "this records chain is keyed" in capsys.readouterr().err


@pytest.mark.parametrize("content, words", [(b"short\n", "holds 5 bytes"), (None, "not found")])
def test_bad_key_files_are_named(tmp_path: Path, content: bytes | None, words: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    filled_db(db, 1)
    key = tmp_path / "k"
    if content is not None:
        key.write_bytes(content)
    assert main(["records", "--db", str(db), "--key-file", str(key), "verify"]) == 2
    assert f"key file {key}: {words}" in capsys.readouterr().err
