"""The hash chain: intact after any sequence of records; any single tampering is named."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesodrive.records import GENESIS, RecordStore, ShotRow
from mesodrive.records.chain import row_hash, verify_rows

from .helpers import filled_db, shot, start

# -- any sequence of records keeps the chain intact and the views right ---------------------

_ops = st.lists(
    st.one_of(
        st.tuples(st.just("start")),
        st.tuples(st.just("shot"), st.integers(0, 5),
                  st.sampled_from(["pending", "accepted", "done", "uncertain", "rejected"]),
                  st.booleans()),
        st.tuples(st.just("alarm"), st.text(max_size=8), st.booleans()),
        st.tuples(st.just("action"), st.sampled_from(["pause", "resume", "override"]),
                  st.text(max_size=12)),
        st.tuples(st.just("end"), st.sampled_from(["completed", "aborted"])),
    ),
    max_size=25,
)


@settings(max_examples=40)
@given(ops=_ops)
def test_chain_is_intact_after_any_sequence_of_records(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp, RecordStore(Path(tmp) / "r.db") as store:
        model: dict[int, dict[int, ShotRow]] = {}
        rows = 0
        for op in ops:
            if op[0] == "start" or not model:
                model[start(store)] = {}
                rows += 1
            sid = max(model)
            if op[0] == "shot":
                row = shot(op[1], op[2])
                store.record_shot(sid, row, sync=op[3])
                model[sid][op[1]] = row
            elif op[0] == "alarm":
                store.record_alarm(sid, "CODE", op[1], sync=op[2])
            elif op[0] == "action":
                store.record_action(sid, op[1], op[2])
            elif op[0] == "end":
                store.end_session(sid, op[1], {})
            rows += op[0] != "start"
        store.flush()
        result = store.verify()
        assert result.ok and result.rows_checked == rows, result
        assert [s.id for s in store.sessions()] == sorted(model)
        for sid, shots in model.items():
            assert store.latest_shots(sid) == shots


# -- tampering ---------------------------------------------------------------------------

SHOTS = 8
_base: tuple[Path, int] | None = None


def _base_db() -> tuple[Path, int]:
    """One filled database for all examples (copied per example, never modified)."""
    global _base
    if _base is None:
        path = Path(tempfile.mkdtemp(prefix="records-base-")) / "base.db"
        _sid, rows = filled_db(path, SHOTS)
        _base = (path, rows)
    return _base


def _raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER journal_no_update")  # what a tamperer would do first
    conn.execute("DROP TRIGGER journal_no_delete")
    conn.execute("DROP INDEX IF EXISTS journal_by_shot")  # it refuses a body that is not JSON
    return conn


def _row(conn: sqlite3.Connection, k: int) -> tuple[Any, ...]:
    return tuple(conn.execute("SELECT * FROM journal WHERE id = ?", (k,)).fetchone())


def _tamper(conn: sqlite3.Connection, how: str, k: int, j: int) -> int:
    """Apply one tampering to row k (and j for a swap); returns the row verify must name."""
    rid, ts, session, kind, body, prev, digest = _row(conn, k)
    set_ = "UPDATE journal SET {} = ? WHERE id = ?"
    if how == "body":
        data = json.loads(body)
        data["tampered"] = True
        conn.execute(set_.format("body"), (json.dumps(data), k))
    elif how == "hash":
        conn.execute(set_.format("hash"), (row_hash(digest, 0, "", 0, "", ""), k))
    elif how == "prev_hash":
        conn.execute(set_.format("prev_hash"), (GENESIS if prev != GENESIS else "0" * 64, k))
    elif how == "ts":
        last = "1" if ts[25] != "1" else "2"  # one microsecond's digit of .ffffff
        conn.execute(set_.format("ts"), (ts[:25] + last + ts[26:], k))
    elif how == "session":
        conn.execute(set_.format("session"), (session + 1, k))
    elif how == "kind":
        conn.execute(set_.format("kind"), ("alarm" if kind != "alarm" else "action", k))
    elif how == "rehash":  # content changed and the row's own hash recomputed
        new_body = body.replace('"', "'", 1) + " "
        conn.execute("UPDATE journal SET body = ?, hash = ? WHERE id = ?",
                     (new_body, row_hash(prev, rid, ts, session, kind, new_body), k))
    elif how == "delete":
        conn.execute("DELETE FROM journal WHERE id = ?", (k,))
    elif how == "renumber":  # delete, then close the id gap
        conn.execute("DELETE FROM journal WHERE id = ?", (k,))
        conn.execute("UPDATE journal SET id = -id WHERE id > ?", (k,))
        conn.execute("UPDATE journal SET id = -id - 1 WHERE id < 0")
    elif how == "swap":
        a, b = _row(conn, k), _row(conn, j)
        for dst, src in ((k, b), (j, a)):
            conn.execute("UPDATE journal SET ts=?, session=?, kind=?, body=?, prev_hash=?, hash=? "
                         "WHERE id = ?", (*src[1:], dst))
        return min(k, j)
    return k


@settings(max_examples=150)
@given(how=st.sampled_from(["body", "hash", "prev_hash", "ts", "session", "kind", "rehash",
                            "delete", "renumber", "swap"]),
       data=st.data())
def test_any_single_tampering_is_named(how: str, data: st.DataObject) -> None:
    base, rows = _base_db()
    k = data.draw(st.integers(1, rows), label="row")
    j = data.draw(st.integers(1, rows).filter(lambda x: x != k), label="other") \
        if how == "swap" else k
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.db"
        shutil.copy(base, path)
        conn = _raw(path)
        expected = _tamper(conn, how, k, j)
        conn.close()
        with RecordStore(path, readonly=True) as ro:
            result = ro.verify()
    assert not result.ok
    assert result.first_bad_row == expected, result
    assert re.search(rf"\brow {expected}\b", result.problem), result.problem
    assert result.rows_checked == expected - 1


def test_untouched_copy_verifies() -> None:
    base, rows = _base_db()
    with RecordStore(base, readonly=True) as ro:
        result = ro.verify()
    assert result.ok and result.rows_checked == rows and result.first_bad_row is None
    assert len(result.head_hash) == 64


def test_deleting_several_rows_names_the_first(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    filled_db(path, 3)
    conn = _raw(path)
    conn.execute("DELETE FROM journal WHERE id IN (4, 5, 6)")
    conn.close()
    with RecordStore(path, readonly=True) as ro:
        result = ro.verify()
    assert result.first_bad_row == 4 and "rows 4-6" in result.problem, result


def test_rows_appended_behind_the_stores_back_are_named(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    _sid, rows = filled_db(path, 2)
    conn = _raw(path)
    last = _row(conn, rows)
    ts, body = last[1], '{"forged":true}'
    conn.execute("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (rows + 1, ts, 1, "action", body, last[6],
                  row_hash(last[6], rows + 1, ts, 1, "action", body)))
    conn.close()
    with RecordStore(path, readonly=True) as ro:
        result = ro.verify()
    assert result.first_bad_row == rows + 1 and not result.ok, result


def test_writing_after_a_tail_deletion_does_not_hide_it(tmp_path: Path) -> None:
    """The next id comes from the recorded head, not from the journal's last row."""
    path = tmp_path / "r.db"
    _sid, rows = filled_db(path, 2)
    conn = _raw(path)
    conn.execute("DELETE FROM journal WHERE id = ?", (rows,))
    conn.close()
    with RecordStore(path) as store:
        start(store)
        result = store.verify()
    assert result.first_bad_row == rows and "missing" in result.problem, result


def test_verify_rows_on_an_empty_journal() -> None:
    assert verify_rows([], (0, GENESIS)).ok
    assert verify_rows([], None).first_bad_row is None
    assert not verify_rows([], None).ok


@pytest.fixture(autouse=True, scope="module")
def _cleanup_base() -> Any:
    yield
    if _base is not None:
        shutil.rmtree(_base[0].parent, ignore_errors=True)


# -- the hash material is exactly the JSON array the chain was defined with ------------------

_json_values = st.one_of(st.text(), st.integers(-(2**63), 2**63), st.booleans(), st.none(),
                         st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=300)
@given(prev=st.text(), row_id=_json_values, ts=st.text(), session=_json_values,
       kind=st.one_of(st.text(), _json_values), body=st.one_of(st.text(), _json_values))
def test_row_hash_material_is_the_json_array(prev: str, row_id: Any, ts: str, session: Any,
                                             kind: Any, body: Any) -> None:
    """The walk spells the array out for speed; it must hash the very bytes json.dumps gives,
    for any text (quotes, control characters, surrogates, non-ASCII) and for the odd types a
    damaged row may hold."""
    import hashlib

    material = json.dumps([prev, row_id, ts, session, kind, body], separators=(",", ":"),
                          ensure_ascii=False)
    expected = hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()
    try:
        got = row_hash(prev, row_id, ts, session, kind, body)
    except UnicodeEncodeError:  # a lone surrogate: neither spelling can be stored as UTF-8
        assert any(isinstance(v, str) and not v.isascii() for v in (prev, ts, kind, body))
        return
    assert got == expected
