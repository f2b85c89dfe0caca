"""One question for the run and resume commands, asked before the device is connected:
can the records be written at this path, with this key? Answers with a sentence or None.

Everything `RecordStore(path)` would refuse — a folder, a read-only file, another program's
SQLite file, a keyed chain without its key (or with another key), an unkeyed chain with a key —
is found here by looking only: nothing is created or changed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

from mesodrive.records import db
from mesodrive.records.keys import key_from_env, key_id
from mesodrive.records.models import RecordsError
from mesodrive.records.paths import APPLICATION_ID, check_db_path


def db_path_problem(path: Path | str | None, *, create: bool, write: bool = True,
                    key: bytes | None | Literal["env"] = "env") -> str | None:
    """None if a RecordStore could open `path` (None: the default) as asked, else what is wrong
    (naming the path). `create`/`write` as in `check_db_path`; `key` as in `RecordStore`."""
    try:
        p = check_db_path(path, create=create, write=write)
        given = key_from_env() if key == "env" else key
        if p.exists() and p.stat().st_size > 0:
            _check_key(p, None if given is None else key_id(given))
    except RecordsError as exc:
        return str(exc)
    return None


def _check_key(path: Path, given: str | None) -> None:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return  # the store names the problem when it opens the file
    try:
        if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            return  # a fresh SQLite file: it takes the key (or none) when created
        stored = db.stored_key_id(conn)
    except sqlite3.Error:
        return
    finally:
        conn.close()
    db.check_key(path, stored, given)
