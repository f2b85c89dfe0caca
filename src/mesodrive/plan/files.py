"""Reading the files a plan refers to (product library, CSV point list) and the plan itself.

A referenced path is the practitioner's input, so reading it must never hang, exhaust memory
or show what is in a file that is not what the plan says it is:

* only **regular files** are opened (a FIFO would block for ever, ``/dev/zero`` never ends,
  a device may have side effects on open); the type is checked before opening and again on
  the open descriptor, so a file swapped in between is caught;
* at most ``MAX_FILE_BYTES`` (10 MB) are read — a real library or point list is kilobytes;
* the content must be UTF-8 text (a leading byte-order mark is dropped, as editors on Windows
  write one) without NUL bytes; errors say where, never what, the bad bytes are.

**References may leave the plan's folder** (``../shared/products.toml`` or an absolute path):
a clinic keeps one product library for all its patients' plans. What was used is pinned
anyway: the product and the point list are part of the plan hash and the session's snapshot.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mesodrive.plan.issues import PlanError, PlanIssue

MAX_FILE_BYTES = 10 * 1024 * 1024
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_NOT_REGULAR = "not a regular file (a directory, device, pipe or socket)"


def read_text_file(path: Path, field: str, value: object, what: str) -> str:
    """The UTF-8 text of the regular file ``path``. PlanError (one issue on ``field`` showing
    ``value``) if it is missing, not a regular file, too large, binary or not UTF-8."""

    def refuse(limit: str, message: str) -> PlanError:
        return PlanError([PlanIssue(field, value, limit, message)])

    shown = shown_path(path)
    problem = file_problem(path)
    if problem == "not found":
        raise refuse("an existing file", f"{what} file not found: {shown}")
    if problem is not None:
        raise refuse("a readable regular file", f"the {what} file {problem}: {shown}")
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise refuse("a readable file", f"cannot open the {what} file: {reason}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise refuse("a regular file", f"the {what} file is {_NOT_REGULAR}: {shown}")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise refuse("a readable file", f"cannot read the {what} file: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise refuse(f"at most {MAX_FILE_BYTES // (1024 * 1024)} MB",
                     f"the {what} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise refuse("UTF-8 text", f"the {what} is not a text file (a NUL byte at offset {nul})")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise refuse("UTF-8 text", f"the {what} is not UTF-8 text "
                     f"(an invalid byte at offset {exc.start})") from None


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a referenced file (cheap, for early reporting), or None."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "not found"
    except (OSError, ValueError) as exc:
        return f"cannot be opened ({exc.strerror if isinstance(exc, OSError) else exc})"
    return None if stat.S_ISREG(mode) else f"is {_NOT_REGULAR}"


def shown_path(path: Path) -> str:
    """A path for a message: as is if printable, else escaped (a NUL or ESC in a command-line
    argument must not reach the terminal raw)."""
    text = str(path)
    return text if text.isprintable() else ascii(text)
