"""Where `records export` writes, as the rows are read (issue 13: a session of any length in
constant memory).

To a file: into a new file beside it (`.NAME.PID.part`), renamed over NAME only once the whole
export is written, so a failure half way leaves no file and never a cut one. To stdout: block
buffered while it lasts (not a flush per line), so `| head` or a pager gets the rows as they
are written; a reader that stops reading (`| head`) ends the export quietly (`quiet_stdout`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO, TypeVar

T = TypeVar("T")


def to_file(path: Path, write: Callable[[TextIO], T]) -> T:
    """`write(out)` into a new file, renamed to `path` when it returns; OSError as raised."""
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(part, "x", encoding="utf-8", newline="") as out:
            result = write(out)
        os.replace(part, path)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise
    return result


def to_stdout(write: Callable[[TextIO], T]) -> T:
    """`write(sys.stdout)` with block buffering for the while (the CLI line-buffers stdout)."""
    with _block_buffered(sys.stdout) as out:
        return write(out)


@contextlib.contextmanager
def _block_buffered(out: TextIO) -> Iterator[TextIO]:
    line_buffered = getattr(out, "line_buffering", False)
    reconfigure = getattr(out, "reconfigure", None)
    if line_buffered and reconfigure is not None:
        reconfigure(line_buffering=False)
    try:
        yield out
        out.flush()
    finally:
        if line_buffered and reconfigure is not None:
            with contextlib.suppress(OSError, ValueError):
                reconfigure(line_buffering=True)


def quiet_stdout() -> None:
    """After a BrokenPipeError on stdout (the reader went away): send what is left to
    /dev/null, so neither a later write nor the interpreter's final flush says "Broken pipe"."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (tests): nothing will complain at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
