"""`verify` of a whole database: the key, the chain walk (`chain.verify_rows`) in one read
snapshot, then the heads kept outside it (`anchor`). Every way it can go wrong — an altered or
missing row, a damaged file, a wrong key, a head the journal no longer holds — is a failed
`VerifyResult` naming it; only a keyed chain without any key raises (nothing can be checked).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from mesodrive.records import db
from mesodrive.records.anchor import Head, RecordedHead, head_problem, read_heads
from mesodrive.records.chain import StoredRow, verify_rows
from mesodrive.records.keys import KEY_FILE_ENV, key_id
from mesodrive.records.models import KeyRequiredError, VerifyResult


def verify_database(conn: sqlite3.Connection, path: Path, key: bytes | None,
                    expect: Sequence[Head] = ()) -> VerifyResult:
    """Verify the database behind `conn` (a read-only connection to `path`)."""
    beside, problems = read_heads(path)
    recorded = [RecordedHead("--expect-head", h) for h in expect] + beside
    counted = _Counter()
    try:
        conn.execute("BEGIN")  # one snapshot: a concurrent writer cannot split head and rows
        try:
            keyed_problem = _key_problem(path, key, db.stored_key_id(conn))
            if keyed_problem:
                return VerifyResult(False, 0, None, keyed_problem)
            head = conn.execute("SELECT last_id, last_hash FROM chain_head "
                                "WHERE singleton = 1").fetchone()
            cursor = conn.execute("SELECT id, ts, session, kind, body, prev_hash, hash "
                                  "FROM journal ORDER BY id")
            result = verify_rows(counted.count(cursor),
                                 None if head is None else (head[0], head[1]),
                                 key=key, want={r.head.rows for r in recorded})
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")
    except sqlite3.Error as exc:
        return VerifyResult(False, counted.n, None, f"the records file is damaged: {exc} "
                                                    f"(after {counted.n} readable rows)")
    if not result.ok:
        return result
    for rec in recorded:
        problem = head_problem(result, rec)
        if problem:
            first = result.rows_checked + 1 if rec.head.rows > result.rows_checked else None
            return VerifyResult(False, result.rows_checked, first, problem, keyed=result.keyed)
    if problems:
        return VerifyResult(False, result.rows_checked, None, "; ".join(problems),
                            keyed=result.keyed)
    return replace(result, notes=_notes(path, expect, len(beside)))


def _notes(path: Path, expect: Sequence[Head], beside: int) -> tuple[str, ...]:
    notes = []
    if expect:
        many = len(expect) > 1
        notes.append(f"the expected head{'s' if many else ''} {', '.join(map(str, expect))} "
                     f"{'are' if many else 'is'} in the journal")
    if beside:
        notes.append(f"{beside} head{'s' if beside > 1 else ''} recorded in "
                     f"{path.name}.heads {'match' if beside > 1 else 'matches'}")
    return tuple(notes)


def _key_problem(path: Path, key: bytes | None, stored: str | None) -> str:
    if stored is not None and key is None:
        raise KeyRequiredError(f"{path}: this records chain is keyed: verifying it needs its "
                               f"key file (--key-file, or {KEY_FILE_ENV})")
    if stored is not None and key is not None and key_id(key) != stored:
        return (f"the key given is not the key this chain was written with (key id "
                f"{key_id(key)}, the database says {stored}): a wrong key file, or the "
                f"database was altered")
    if stored is None and key is not None:
        return ("the chain is not keyed, but a key was given: a keyed chain was recomputed "
                "without its key, or this is not the database the key belongs to")
    return ""


class _Counter:
    """Counts the rows a cursor yielded before it failed (a damaged page mid-walk)."""

    def __init__(self) -> None:
        self.n = 0

    def count(self, rows: Iterable[StoredRow]) -> Iterator[StoredRow]:
        for row in rows:
            yield row
            self.n += 1
