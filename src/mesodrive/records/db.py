"""The SQLite file: schema, and how writer and reader connections are opened.

One append-only table, `journal`, holds every record; `chain_head` is a one-row record of the
last id/hash written (so a deleted tail is detectable) and of the last session id handed out.
Everything else is derived from the journal by queries, so there is nothing else to tamper with.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mesodrive.records.chain import GENESIS
from mesodrive.records.models import RecordsError

SCHEMA_VERSION = 1
APPLICATION_ID = 0x4D45534F  # "MESO": marks the file as a mesodrive records database
BUSY_TIMEOUT_MS = 10_000  # another process's write transaction is short; wait, don't fail

_SCHEMA = ["""
CREATE TABLE IF NOT EXISTS journal (
    id        INTEGER PRIMARY KEY,  -- contiguous from 1: a gap is a deleted row
    ts        TEXT    NOT NULL,     -- UTC ISO-8601, microseconds
    session   INTEGER NOT NULL,
    kind      TEXT    NOT NULL,     -- session_start | session_end | shot | alarm | action
    body      TEXT    NOT NULL,     -- canonical JSON
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS journal_by_session ON journal (session, kind, id)",
    """CREATE TABLE IF NOT EXISTS chain_head (
    singleton    INTEGER PRIMARY KEY CHECK (singleton = 1),
    last_id      INTEGER NOT NULL,
    last_hash    TEXT    NOT NULL,
    last_session INTEGER NOT NULL
)""",
    f"INSERT OR IGNORE INTO chain_head VALUES (1, 0, '{GENESIS}', 0)",
    # Append-only, so a bug (or a casual edit with a DB browser) cannot change history. Someone
    # determined can drop these triggers; the hash chain is what makes that evident.
    """CREATE TRIGGER IF NOT EXISTS journal_no_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'the records journal is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'the records journal is append-only'); END""",
]


def open_writer(path: Path) -> sqlite3.Connection:
    """A read-write connection with the schema in place: WAL (readers never block the writer)
    and synchronous=FULL (a commit is on disk when COMMIT returns, also across power loss)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RecordsError(f"{path}: cannot switch to WAL journal mode (got {mode})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("BEGIN IMMEDIATE")  # two processes creating the schema at once: serialise
        try:
            _check_identity(conn, path, allow_new=True)
            for statement in _SCHEMA:  # one by one: executescript would COMMIT our BEGIN
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except BaseException:
        conn.close()
        raise
    return conn


def open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection: never takes the write lock, sees only committed transactions,
    and works while another process writes (WAL)."""
    if not path.exists():
        raise FileNotFoundError(f"no records database at {path}")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                           check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        _check_identity(conn, path, allow_new=False)
    except BaseException:
        conn.close()
        raise
    return conn


def _check_identity(conn: sqlite3.Connection, path: Path, *, allow_new: bool) -> None:
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:  # e.g. "file is not a database"
        raise RecordsError(f"{path}: not a mesodrive records database ({exc})") from exc
    if app_id == 0 and tables == 0 and allow_new:
        return  # a fresh file: the caller creates the schema
    if app_id != APPLICATION_ID:
        raise RecordsError(f"{path}: not a mesodrive records database")
    if version > SCHEMA_VERSION:
        raise RecordsError(f"{path}: records schema v{version} is newer than this mesodrive "
                           f"(v{SCHEMA_VERSION}); upgrade mesodrive")
