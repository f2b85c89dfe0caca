"""Chain heads kept outside the database, so that truncation and rollback are evident.

The chain proves that no row was changed in the middle; it cannot prove that the newest rows
were not cut off, or that the whole file was not replaced by an older copy (each of those is a
valid chain). A head — `ROWS:HASH`, the row count and the last row's hash — written down
elsewhere pins the journal: a later journal must still hold row ROWS with that hash.

Heads are written to an append-only text file beside the database (`records.db.heads`, one
line per head: `UTC-TIME ROWS:HASH NOTE`) after every session ends and on demand
(`mesodrive records anchor`); `records verify` prints the head, exports end with it, and
`records verify --expect-head ROWS:HASH` checks a head kept anywhere else (a printout, another
machine). The file beside the database catches an older copy of the database alone; a head
kept elsewhere also catches a rollback of both.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from mesodrive.records.chain import utc_now
from mesodrive.records.models import VerifyResult

HEADS_SUFFIX = ".heads"
_HEAD = re.compile(r"(\d{1,18}):([0-9a-f]{64})")


@dataclass(frozen=True)
class Head:
    rows: int
    hash: str

    def __str__(self) -> str:
        return f"{self.rows}:{self.hash}"


def parse_head(text: str) -> Head:
    """`ROWS:HASH` (as `records verify` prints it) → Head; ValueError saying what is expected."""
    m = _HEAD.fullmatch(text.strip().lower())
    if m is None:
        raise ValueError(f"{text!r} is not a records head: expected ROWS:HASH, e.g. "
                         f"'1234:' followed by 64 hex digits, as `records verify` prints it")
    return Head(int(m.group(1)), m.group(2))


def heads_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + HEADS_SUFFIX)


def append_head(db_path: Path, head: Head, note: str) -> Path:
    """Append one head line (O_APPEND, fsync: durable before this returns). Returns the file."""
    path = heads_path(db_path)
    note = " ".join(note.split())  # one line, whatever the note holds
    line = f"{utc_now()} {head} {note}".rstrip() + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))  # one write: lines from two writers never interleave
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


@dataclass(frozen=True)
class RecordedHead:
    source: str  # where it came from, for messages: "records.db.heads line 3", "--expect-head"
    head: Head


def read_heads(db_path: Path) -> tuple[list[RecordedHead], list[str]]:
    """The heads recorded beside the database, and the problems found reading them (a damaged
    line is a problem; a torn last line from a crash mid-write is not, and is left out)."""
    path = heads_path(db_path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [f"{path} cannot be read ({exc.strerror})"]
    heads: list[RecordedHead] = []
    problems: list[str] = []
    lines = text.split("\n")
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split(" ", 2)
        try:
            head = parse_head(fields[1] if len(fields) > 1 else "")
        except ValueError:
            if n == len(lines):  # no newline after it: a write cut short, not an edit
                continue
            problems.append(f"{path.name} line {n} is damaged: {line[:80]!r}")
            continue
        heads.append(RecordedHead(f"{path.name} line {n}", head))
    return heads, problems


def head_problem(result: VerifyResult, recorded: RecordedHead) -> str:
    """Does a verified journal still hold `recorded`? "" if so, else what happened."""
    head = recorded.head
    if head.rows > result.rows_checked:
        return (f"the journal has {result.rows_checked} rows, but the head in "
                f"{recorded.source} ({head}) had {head.rows}: rows "
                f"{result.rows_checked + 1}-{head.rows} were removed (truncated), or this is an "
                f"older copy of the database (rolled back)")
    if result.hashes.get(head.rows) != head.hash:
        return (f"row {head.rows}'s hash differs from the head in {recorded.source} ({head}): "
                f"the journal was rewritten, or replaced by another copy (rolled back)")
    return ""
