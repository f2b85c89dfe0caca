"""Is this path usable as a records database? Checked before anything connects or writes.

A run must not find out at its first shot that the records cannot be written (the device would
already be connected and armed), and a mistyped `--db` must never change someone else's file:
SQLite would switch it to WAL mode and add `-wal`/`-shm` files before any schema check. So the
checks here only *look* (stat, access, the 100-byte SQLite header, and for a header that does not
say whose file it is, a read-only query), and raise `DbPathError` naming the path and the
problem.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import platformdirs

from mesodrive.records.models import DbPathError, NoDatabaseError

SQLITE_MAGIC = b"SQLite format 3\x00"
APPLICATION_ID = 0x4D45534F  # "MESO"; the same value db.py writes (kept here: no sqlite needed)
_APP_ID_OFFSET = 68  # SQLite file format: big-endian application_id at byte 68 of the header


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir("mesodrive")) / "records.db"


def check_db_path(path: Path | str | None, *, create: bool, write: bool = True) -> Path:
    """Check `path` (None: the default) for use as a records database; return it as a Path.

    create=True: it will be written and may be created (`mesodrive run`).
    create=False, write=True: it must exist and be writable (`mesodrive resume`).
    create=False, write=False: it must exist and be readable (`mesodrive records ...`).
    Raises NoDatabaseError (missing, when not creating) or DbPathError. Changes nothing.
    """
    p = default_db_path() if path is None else Path(path)
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError):  # missing, or under a file
        if not create:
            raise NoDatabaseError(f"no records database at {p}") from None
        _check_new_file(p)
        return p
    except OSError as exc:
        raise DbPathError(p, f"cannot be examined ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise DbPathError(p, "is a folder, not a records database file")
    if not stat.S_ISREG(st.st_mode):
        raise DbPathError(p, "is not a regular file")
    if not os.access(p, os.R_OK):
        raise DbPathError(p, "cannot be read (permission denied)")
    if st.st_size > 0:
        _check_header(p)
    if create or write:
        # The mode bits too: root may write anything, but a file marked read-only is an archive.
        if not os.access(p, os.W_OK) or not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP
                                                          | stat.S_IWOTH):
            raise DbPathError(p, "is read-only: the records cannot be written to it")
        if not os.access(p.parent, os.W_OK | os.X_OK):
            raise DbPathError(p, f"its folder {p.parent} is not writable (SQLite needs to "
                                 f"create {p.name}-wal and {p.name}-shm beside it)")
    return p


def _check_new_file(p: Path) -> None:
    """A missing database may be created: its nearest existing ancestor must be a writable
    folder (open_writer creates the missing folders)."""
    parent = p.parent
    while not parent.exists():
        if parent == parent.parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise DbPathError(p, f"cannot be created: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DbPathError(p, f"cannot be created: the folder {parent} is not writable")


def _check_header(p: Path) -> None:
    try:
        with open(p, "rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise DbPathError(p, f"cannot be read ({exc.strerror})") from None
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise DbPathError(p, "is not a mesodrive records database (not an SQLite file at all; "
                             "left untouched)")
    app_id = int.from_bytes(header[_APP_ID_OFFSET:_APP_ID_OFFSET + 4], "big")
    if app_id == APPLICATION_ID:
        return
    if app_id != 0:
        raise DbPathError(p, f"is another program's SQLite database (application id "
                             f"{app_id:#010x}, not mesodrive's); left untouched")
    # application id 0: an empty SQLite file (fine), another program's file that sets no id,
    # or our own file whose header still sits in the WAL. Ask SQLite, read-only.
    if _has_foreign_schema(p):
        raise DbPathError(p, "is another program's SQLite database (it has tables, but not "
                             "mesodrive's records); left untouched")


def _has_foreign_schema(p: Path) -> bool:
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False  # open_writer/open_reader check again and name the problem
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return bool(tables) and app_id != APPLICATION_ID
