"""`mesodrive run` in a terminal (a real pty), the operator traps of issue 10: every prompt asks
again on an answer it does not understand, Ctrl-D is an answer (never a traceback), a second
Ctrl-C says how to resume, and the screening and every operator action are on the record with
the operator's name."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mesodrive.records import RecordsError, RecordStore
from tests.controller.conftest import write_plan
from tests.controller.test_run_interactive import ANSI, Terminal, started

pytestmark = pytest.mark.slow
CTRL_D = "\x04"


def expect_nth(term: Terminal, text: str, n: int, timeout: float = 30.0) -> None:
    """Wait until `text` has appeared `n` times (a prompt asked again looks the same)."""
    end = time.monotonic() + timeout
    while term.seen.count(text) < n:
        left = end - time.monotonic()
        assert left > 0, f"saw {text!r} {term.seen.count(text)} times; screen:\n{term.seen[-2000:]}"
        ready, _, _ = select.select([term.master], [], [], min(left, 0.2))
        if ready:
            try:
                term.seen += ANSI.sub("", os.read(term.master, 4096).decode(errors="replace"))
            except OSError:
                break
    assert term.seen.count(text) >= n, term.seen[-2000:]


def wait_for_a_shot(db: Path, timeout: float = 60.0) -> None:
    """Until session 1 has a shot on record: the run is past homing and arming."""
    end = time.monotonic() + timeout
    while True:
        with contextlib.suppress(RecordsError), RecordStore(db, readonly=True) as store:
            if store.sessions() and store.latest_shots(1):  # not created yet: RecordsError
                return
        assert time.monotonic() < end, "no shot was ever recorded"
        time.sleep(0.05)


def _detail(db: Path, session: int = 1):  # type: ignore[no-untyped-def]
    store = RecordStore(db, readonly=True)
    try:
        return store.session(session)
    finally:
        store.close()


def test_paused_prompt_asks_again_on_enter_or_another_key(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    db = tmp_path / "records.db"
    term = started(plan, db, "--operator", "dr-b")
    try:
        term.expect("session 1")
        wait_for_a_shot(db)
        term.proc.send_signal(signal.SIGINT)
        term.expect("paused. [r]esume or [a]bort?")
        term.type("\n")  # the old prompt aborted the treatment for good on this
        expect_nth(term, "(please answer r/a) paused. [r]esume or [a]bort?", 1)
        term.type("x\n")
        expect_nth(term, "(please answer r/a) paused. [r]esume or [a]bort?", 2)
        term.type("r\n")
        term.expect("COMPLETED: 9 of 9 points delivered")
    finally:
        code = term.close()
    assert code == 0 and "Traceback" not in term.seen
    d = _detail(db)
    assert d.status == "completed"
    actions = {a.action: a for a in d.actions}
    assert actions["pause"].operator == "dr-b" and actions["resume"].operator == "dr-b"
    screening = actions["screening"]
    assert screening.operator == "dr-b"
    assert "answered 'y' when asked at the terminal" in screening.reason
    assert "pregnancy" in screening.reason and "anticoagulants" in screening.reason


def test_ctrl_d_at_the_screening_is_not_confirmed(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    db = tmp_path / "records.db"
    term = Terminal(sys.executable, "-m", "mesodrive", "run", str(plan), "--db", str(db))
    try:
        term.expect("Screening done and none applies? [y/N]")
        term.type("maybe\n")
        term.expect("(please answer y/n) Screening done")
        term.type(CTRL_D)
        term.expect("nothing was done")
    finally:
        code = term.close()
    assert code == 2 and "Traceback" not in term.seen
    assert not db.exists()


def test_a_non_numeric_refill_volume_is_asked_again(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    plan.write_text(plan.read_text().replace('mode = "auto"', 'mode = "auto"\nrefill_ul = 50'))
    db = tmp_path / "records.db"
    term = started(plan, db)
    try:
        term.expect("fix it, then: [r]etry / [s]kip point / [a]bort?")  # refill due (point 6)
        assert "refill-due" in term.seen
        term.type("r\n")
        term.expect("reason (recorded):")
        term.type("new syringe\n")
        term.expect("volume of the new syringe in µL")
        term.type("a full one\n")  # the old code crashed the run here (FAILED, not resumable)
        term.expect("(please give a volume in µL")
        term.type("200\n")
        term.expect("COMPLETED: 9 of 9 points delivered")
    finally:
        code = term.close()
    assert code == 0 and "Traceback" not in term.seen
    refills = [a.reason for a in _detail(db).actions if a.action == "refill"]
    assert refills == ["syringe loaded with 200.0 µL"]


def test_ctrl_d_at_an_alarm_aborts(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    db = tmp_path / "records.db"
    term = started(plan, db, "--device", "sim://?seed=4&realtime=1&faults=contact_lost@4")
    try:
        term.expect("fix it, then: [r]etry / [s]kip point / [a]bort?")
        term.type(CTRL_D)  # the old reader died here and the prompt waited for ever
        term.expect("ABORTED")
    finally:
        code = term.close()
    assert code == 1 and "Traceback" not in term.seen
    d = _detail(db)
    assert d.status == "aborted"
    assert any(a.action == "recovery:abort" and "end of input" in a.reason for a in d.actions)


def test_a_second_ctrl_c_leaves_the_session_open_and_says_how_to_resume(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    db = tmp_path / "records.db"
    term = started(plan, db, "--operator", "dr-c")
    try:
        wait_for_a_shot(db)
        term.proc.send_signal(signal.SIGINT)
        term.expect("paused. [r]esume or [a]bort?")
        term.proc.send_signal(signal.SIGINT)
        term.expect("mesodrive resume 1")
    finally:
        code = term.close()
    assert code == 130 and "Traceback" not in term.seen
    assert "left OPEN" in term.seen
    d = _detail(db)
    assert d.status == "open"
    assert [(a.action, a.operator) for a in d.actions if a.action == "host-exit"] == [
        ("host-exit", "dr-c")]
    # and it is resumable: the built-in simulator's journal lets resume settle every shot
    resumed = subprocess.run([sys.executable, "-m", "mesodrive", "resume", "1", "--db", str(db),
                              "--yes"], capture_output=True, text=True, timeout=120,
                             stdin=subprocess.DEVNULL, check=False)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "COMPLETED" in resumed.stdout
    store = RecordStore(db, readonly=True)
    try:
        rows = store.latest_shots(1)
        assert store.verify().ok
    finally:
        store.close()
    done = [r.point for r in rows.values() if r.state in ("done", "uncertain")]
    assert sorted(done) == list(range(1, 10))
