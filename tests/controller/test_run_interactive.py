"""`mesodrive run` in a terminal (a real pty): the screening question, Ctrl-C pausing at a shot
boundary and asking resume / abort, and resuming to completion."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mesodrive.records import RecordStore
from tests.controller.conftest import write_plan

pytestmark = pytest.mark.slow
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    def __init__(self, *argv: str) -> None:
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while text not in self.seen:
            left = end - time.monotonic()
            assert left > 0, f"never saw {text!r}; screen so far:\n{self.seen[-2000:]}"
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if ready:
                try:
                    raw = os.read(self.master, 4096).decode(errors="replace")
                    self.seen += ANSI.sub("", raw)  # colours and cursor moves are not text
                except OSError:  # the child closed the terminal
                    break
        assert text in self.seen, f"never saw {text!r}; screen so far:\n{self.seen[-2000:]}"

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> int:
        try:
            return self.proc.wait(30)
        finally:
            os.close(self.master)


def started(plan: Path, db: Path, *extra: str) -> Terminal:
    """`mesodrive run` in a terminal, past the screening question."""
    term = Terminal(sys.executable, "-m", "mesodrive", "run", str(plan), "--db", str(db), *extra)
    term.expect("Screening done and none applies? [y/N]")
    term.type("y\n")
    return term


def test_screening_then_ctrl_c_pause_and_resume_to_completion(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    db = tmp_path / "records.db"
    term = started(plan, db)
    try:
        term.expect("session 1")
        time.sleep(2.0)  # a few shots in
        term.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        term.expect("paused. [r]esume or [a]bort?")
        term.type("r\n")
        term.expect("COMPLETED: 9 of 9 points delivered")
    finally:
        code = term.close()
    assert code == 0
    store = RecordStore(db, readonly=True)
    try:
        actions = [a.action for a in store.session(1).actions]
        assert actions.count("pause") == 1 and actions.count("resume") == 1
        rows = store.latest_shots(1)
        points = [r.point for r in rows.values() if r.state == "done"]
        assert sorted(points) == list(range(1, 10))
    finally:
        store.close()


def test_screening_refused_does_nothing(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    db = tmp_path / "records.db"
    term = Terminal(sys.executable, "-m", "mesodrive", "run", str(plan), "--db", str(db))
    try:
        term.expect("Screening done and none applies? [y/N]")
        term.type("n\n")
        term.expect("nothing was done")
    finally:
        code = term.close()
    assert code == 2
    assert not db.exists()


def test_an_alarm_asks_the_operator_and_records_the_skip_reason(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    db = tmp_path / "records.db"
    device = "sim://?seed=4&realtime=1&faults=contact_lost@4"
    term = started(plan, db, "--device", device)
    try:
        term.expect("fix it, then: [r]etry / [s]kip point / [a]bort?")
        assert "contact-lost" in term.seen
        term.type("s\n")
        term.expect("reason (recorded):")
        term.type("scar tissue at this point\n")
        term.expect("COMPLETED: 8 of 9 points delivered")
    finally:
        code = term.close()
    assert code == 0
    store = RecordStore(db, readonly=True)
    try:
        skips = [a.reason for a in store.session(1).actions if a.action == "skip"]
    finally:
        store.close()
    assert len(skips) == 1 and "scar tissue at this point" in skips[0]


def test_triggered_mode_fires_one_point_per_enter(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, mode="triggered", cadence_hz=None)
    db = tmp_path / "records.db"
    term = started(plan, db)
    try:
        term.expect("TRIGGERED mode")
        time.sleep(1.0)  # homed, armed, first shots preloaded
        for _ in range(9):
            term.type("\n")
            time.sleep(0.5)  # one shot is ~0.3 s; a press while firing fires nothing
        term.expect("COMPLETED: 9 of 9 points delivered")
    finally:
        code = term.close()
    assert code == 0


@pytest.mark.parametrize("how", ["ctrl-backslash", "e-enter"])
def test_emergency_stop_from_the_terminal(tmp_path: Path, how: str) -> None:
    plan = write_plan(tmp_path)
    db = tmp_path / "records.db"
    term = started(plan, db)
    try:
        term.expect("EMERGENCY STOP")  # the key help
        time.sleep(1.5)
        if how == "ctrl-backslash":
            term.proc.send_signal(signal.SIGQUIT)  # what Ctrl-\\ sends
        else:
            term.type("e\n")
        term.expect("latched in")
        term.expect("E-STOPPED")
    finally:
        code = term.close()
    assert code == 4
    store = RecordStore(db, readonly=True)
    try:
        detail = store.session(1)
        assert detail.status == "e-stopped"
        assert "estop" in [a.action for a in detail.actions]
    finally:
        store.close()
