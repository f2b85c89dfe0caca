"""The whole chain's verification beside the reading of one session (issue 13: `records show`
and `records export` of a 10,000-shot session in under a second).

Both commands verify every row of the file (its hash, its link, its body) and read the session
they print: two passes over the same file, independent until the output says whether the
records verified. On a machine with a second core the verification runs in a forked child of
its own, with its own read-only connection (the parent's connections are never touched
there), and hands back its `VerifyResult` through a pipe; the caller asks for it only when the
output needs it. Nothing is skipped: the child runs the very `verify_database` the caller would.

It runs inline instead, when the result is asked for, wherever a fork is not safe or not
useful: not Linux, one CPU, or a process with other threads (a fork copies locks they may
hold). A child that fails in any way (killed, out of memory, an exception) is not trusted
either: the result is then computed inline, so an error such as a missing key is raised in
the caller exactly as `RecordStore.verify` raises it.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

from mesodrive.records.models import VerifyResult


class Verification:
    """`verify()`'s result, computed beside the caller where that helps. Use as a context
    manager: leaving it without asking stops the child."""

    def __init__(self, verify: Callable[[], VerifyResult],
                 isolated: Callable[[], VerifyResult], *, beside: bool = True) -> None:
        """`verify`: inline; `isolated`: the same with connections of its own (for the child);
        `beside=False`: always inline, when asked."""
        self._verify, self._isolated = verify, isolated
        self._result: VerifyResult | None = None
        self._pid = 0
        self._fd = -1
        if beside and _fork_helps():
            self._start()

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: verify, send the result, leave without any clean-up
            code = 1
            try:
                os.close(read_fd)
                data = pickle.dumps(self._isolated())
                with os.fdopen(write_fd, "wb") as out:
                    out.write(data)
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        self._pid, self._fd = pid, read_fd

    def result(self) -> VerifyResult:
        """The verification's result (waits for the child; inline if there is none or it
        failed)."""
        if self._result is None:
            self._result = self._collect() or self._verify()
        return self._result

    def _collect(self) -> VerifyResult | None:
        if not self._pid:
            return None
        chunks = []
        with os.fdopen(self._fd, "rb") as pipe:
            while chunk := pipe.read(1 << 16):
                chunks.append(chunk)
        _, status = os.waitpid(self._pid, 0)
        self._pid = 0
        if os.waitstatus_to_exitcode(status) != 0:
            return None
        result = pickle.loads(b"".join(chunks))  # our own child's VerifyResult
        return result if isinstance(result, VerifyResult) else None

    def close(self) -> None:
        """Stop the child if its result was never asked for."""
        if self._pid:
            try:
                os.kill(self._pid, signal.SIGKILL)
                os.waitpid(self._pid, 0)
            except ChildProcessError:
                pass
            os.close(self._fd)
            self._pid = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _fork_helps() -> bool:
    return (sys.platform.startswith("linux") and (os.cpu_count() or 1) > 1
            and threading.active_count() == 1)
