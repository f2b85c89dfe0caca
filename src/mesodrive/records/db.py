"""The SQLite file: schema, and how writer and reader connections are opened.

One append-only table, `journal`, holds every record; `chain_head` is a one-row record of the
last id/hash written (so a deleted tail is detectable). Its `last_session` is still written for
older mesodrive versions, but session ids come from the journal (max + 1): a counter outside the
chain could be reset unnoticed. Everything else is derived from the journal by queries.

A keyed chain (HMAC) has a `chain_key` table holding the key's id, and user_version 2 so that
an older mesodrive (which would append unkeyed rows) refuses the file instead of breaking it.

The file's identity is checked *before* anything is changed (WAL mode, schema): another
program's SQLite file is refused untouched.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mesodrive.records.chain import GENESIS
from mesodrive.records.models import KeyRequiredError, RecordsError
from mesodrive.records.paths import APPLICATION_ID  # "MESO": marks a mesodrive records file

SCHEMA_VERSION = 1  # unkeyed chain (as written by every version)
KEYED_SCHEMA_VERSION = 2  # keyed chain: older versions must refuse it
BUSY_TIMEOUT_MS = 10_000  # another process's write transaction is short; wait, don't fail

# A session's shots by shot number without parsing every body: reading the latest row of each
# shot of a long session is a third faster. Files without it are read the same way, slower; a
# file with a body that is not JSON (damaged) cannot have it, and is left as it is.
_SHOT_INDEX = ("CREATE INDEX IF NOT EXISTS journal_by_shot ON journal "
               "(session, kind, json_extract(body, '$.index'))")

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


def open_writer(path: Path, key_id: str | None = None) -> sqlite3.Connection:
    """A read-write connection with the schema in place: WAL (readers never block the writer)
    and synchronous=FULL (a commit is on disk when COMMIT returns, also across power loss).

    `key_id`: the id of the HMAC key the caller will chain with (None: unkeyed). A new file
    takes it; an existing one must have been created with the same key (or none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Read-only look first: a file that is not ours must be refused before WAL changes it.
        _check_identity(conn, path, allow_new=True)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RecordsError(f"{path}: cannot switch to WAL journal mode (got {mode})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("BEGIN IMMEDIATE")  # two processes creating the schema at once: serialise
        try:
            new = _check_identity(conn, path, allow_new=True)
            if not new:
                check_key(path, stored_key_id(conn), key_id)
            for statement in _SCHEMA:  # one by one: executescript would COMMIT our BEGIN
                conn.execute(statement)
            _try_shot_index(conn)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            if new and key_id is not None:
                conn.execute("CREATE TABLE chain_key (singleton INTEGER PRIMARY KEY "
                             "CHECK (singleton = 1), key_id TEXT NOT NULL)")
                conn.execute("INSERT INTO chain_key VALUES (1, ?)", (key_id,))
            if new:
                version = SCHEMA_VERSION if key_id is None else KEYED_SCHEMA_VERSION
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except BaseException:
        conn.close()
        raise
    return conn


def _try_shot_index(conn: sqlite3.Connection) -> None:
    conn.execute("SAVEPOINT shot_index")
    try:
        conn.execute(_SHOT_INDEX)
    except sqlite3.OperationalError:  # malformed JSON in some row: verification names it
        conn.execute("ROLLBACK TO shot_index")
    conn.execute("RELEASE shot_index")


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


def stored_key_id(conn: sqlite3.Connection) -> str | None:
    """The key id of a keyed chain; None for an unkeyed one."""
    has = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                       "AND name = 'chain_key'").fetchone()[0]
    if not has:
        return None
    row = conn.execute("SELECT key_id FROM chain_key WHERE singleton = 1").fetchone()
    return "" if row is None else str(row[0])


def check_key(path: Path, stored: str | None, given: str | None) -> None:
    if stored == given:
        return
    if stored is None:
        raise KeyRequiredError(f"{path}: this records chain was started without a key; a key "
                               f"cannot be added to it (use a new database for a keyed chain)")
    if given is None:
        raise KeyRequiredError(f"{path}: this records chain is keyed: give its key file "
                               f"(--key-file, or MESODRIVE_RECORDS_KEY_FILE)")
    raise KeyRequiredError(f"{path}: the key given is not this chain's key (key id {given}, "
                           f"the database's is {stored})")


def next_session(conn: sqlite3.Connection) -> int:
    """The next session id, from the chained rows themselves (every row's session was started,
    which `verify` checks): a counter kept beside the chain could be reset unnoticed."""
    last = conn.execute("SELECT max(session) FROM journal").fetchone()[0]
    return 1 if last is None else int(last) + 1


def _check_identity(conn: sqlite3.Connection, path: Path, *, allow_new: bool) -> bool:
    """Refuse anything but a mesodrive records file (only reads). True: a fresh, empty file."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:  # e.g. "file is not a database"
        raise RecordsError(f"{path}: not a mesodrive records database ({exc})") from exc
    if app_id == 0 and tables == 0 and allow_new:
        return True  # a fresh file: the caller creates the schema
    if app_id != APPLICATION_ID:
        what = "an empty SQLite file" if tables == 0 else "another program's SQLite database"
        raise RecordsError(f"{path}: not a mesodrive records database ({what}; left untouched)")
    if version > KEYED_SCHEMA_VERSION:
        raise RecordsError(f"{path}: records schema v{version} is newer than this mesodrive "
                           f"(v{KEYED_SCHEMA_VERSION}); upgrade mesodrive")
    return False
