"""Verification beside the reading (`records.background`): the same result as inline, for an
intact and a tampered chain; a failed child is not trusted; an unasked one is stopped."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

from mesodrive.records import RecordStore, VerifyResult
from mesodrive.records.background import Verification

from .helpers import filled_db


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """The forked path even in a test worker that runs threads of its own (the child runs
    only the verification, which takes no lock those threads hold)."""
    if not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2:
        pytest.skip("verification runs inline on this machine")
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # as background sees it


forks = pytest.mark.usefixtures("forking")


def _tamper(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("UPDATE journal SET ts = '2000-01-01T00:00:00.000000+00:00' WHERE id = 3")
    conn.close()


@forks
@pytest.mark.parametrize("tampered", [False, True])
def test_the_child_finds_what_inline_verification_finds(tmp_path: Path, tampered: bool) -> None:
    path = tmp_path / "r.db"
    filled_db(path, 12)
    if tampered:
        _tamper(path)
    with RecordStore(path, readonly=True) as store:
        inline = store.verify()
        with store.verification() as check:
            assert check._pid, "no child was started"
            beside = check.result()
    assert beside == inline
    assert beside.ok is not tampered


@forks
def test_a_child_that_fails_is_not_trusted() -> None:
    calls: list[str] = []

    def inline() -> VerifyResult:
        calls.append("inline")
        return VerifyResult(True, 7, None, "")

    def isolated() -> VerifyResult:
        raise RuntimeError("the child cannot open the file")

    with Verification(inline, isolated) as check:
        assert check.result() == VerifyResult(True, 7, None, "")
    assert calls == ["inline"]


@forks
def test_a_child_never_asked_for_is_stopped() -> None:
    def forever() -> VerifyResult:
        threading.Event().wait()
        raise AssertionError("unreachable")

    check = Verification(forever, forever)
    pid = check._pid
    assert pid
    check.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no such child any more


def test_no_fork_from_a_process_with_other_threads() -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        check = Verification(lambda: VerifyResult(True, 1, None, ""),
                             lambda: VerifyResult(False, 0, 1, "child"))
        assert not check._pid
        assert check.result().ok
    finally:
        release.set()
        other.join()
