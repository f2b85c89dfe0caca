"""After an emergency stop: `run` refuses the latched device before the screening and before any
records session, and names `mesodrive clear`; `clear` asks a reason and records it; SIGQUIT
is the e-stop also without a terminal. Real processes against `mesodrive sim --pty`."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mesodrive.driver.injector import Injector
from mesodrive.records import RecordStore
from tests.controller.conftest import write_plan
from tests.controller.test_run_interactive import Terminal
from tests.controller.test_run_prompts import wait_for_a_shot
from tests.sim.test_sim_cli import sim_process

pytestmark = pytest.mark.slow


def _mesodrive(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mesodrive", *args], check=False,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def _estop(url: str) -> None:
    with Injector.connect(url) as inj:
        inj.estop()


def test_estopped_device_is_refused_then_cleared_on_the_record(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    db = tmp_path / "records.db"
    with sim_process("--pty", "--seed", "41") as (proc, pty):
        _estop(pty)
        refused = _mesodrive("run", str(plan), "--device", pty, "--db", str(db), "--yes")
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert "emergency-stopped" in refused.stderr and "mesodrive clear" in refused.stderr
        assert f"--device {pty}" in refused.stderr
        assert not db.exists()  # no FAILED empty session

        no_reason = _mesodrive("clear", "--device", pty, "--db", str(db))
        assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
        cleared = _mesodrive("clear", "--device", pty, "--db", str(db), "--operator", "dr-a",
                             "--reason", "patient checked, needle retracted")
        assert cleared.returncode == 0, cleared.stdout + cleared.stderr
        assert "cleared" in cleared.stdout
        again = _mesodrive("clear", "--device", pty, "--db", str(db), "--reason", "x")
        assert again.returncode == 0 and "nothing to clear" in again.stdout

        ran = _mesodrive("run", str(plan), "--device", pty, "--db", str(db), "--yes",
                         "--operator", "dr-a")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        proc.terminate()
        proc.wait(10)
    store = RecordStore(db, readonly=True)
    try:
        assert store.verify().ok
        sessions = store.sessions()
        clear = store.session(1)
        treatment = store.session(2)
    finally:
        store.close()
    assert [s.mode for s in sessions] == ["device", "auto"]
    assert clear.status == "completed"
    assert [(a.action, a.operator) for a in clear.actions] == [("clear-estop", "dr-a")]
    assert "patient checked, needle retracted" in clear.actions[0].reason
    assert treatment.status == "completed"
    screening = [a for a in treatment.actions if a.action == "screening"]
    assert len(screening) == 1 and screening[0].operator == "dr-a"
    assert "--yes flag" in screening[0].reason


def test_sigquit_without_a_terminal_is_the_emergency_stop(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    db = tmp_path / "records.db"
    run = subprocess.Popen([sys.executable, "-m", "mesodrive", "run", str(plan), "--db", str(db),
                            "--yes", "--operator", "dr-q"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        wait_for_a_shot(db)
        run.send_signal(signal.SIGQUIT)
        out, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    assert b"SIGQUIT: EMERGENCY STOP" in out  # what the banner promises without a terminal
    text = out.decode(errors="replace")
    assert run.returncode == 4, text + err.decode(errors="replace")
    assert "latched in" in text and "E-STOPPED" in text and "mesodrive clear" in text
    store = RecordStore(db, readonly=True)
    try:
        d = store.session(1)
    finally:
        store.close()
    assert d.status == "e-stopped"
    assert [a.operator for a in d.actions if a.action == "estop"] == ["dr-q"]


def test_clear_in_a_terminal_asks_a_reason_until_one_is_given(tmp_path: Path) -> None:
    db = tmp_path / "records.db"
    with sim_process("--pty", "--seed", "42") as (proc, pty):
        _estop(pty)
        term = Terminal(sys.executable, "-m", "mesodrive", "clear", "--device", pty, "--db", str(db))
        try:
            term.expect("emergency-stopped (latched)")
            term.expect("reason for clearing (recorded):")
            term.type("\n")
            term.expect("(please give a reason: it is recorded)")
            term.type("stop button pressed by mistake\n")
            term.expect("cleared")
        finally:
            code = term.close()
        proc.terminate()
        proc.wait(10)
    assert code == 0
    with RecordStore(db, readonly=True) as store:
        actions = store.session(1).actions
    assert [a.action for a in actions] == ["clear-estop"]
    assert "stop button pressed by mistake" in actions[0].reason
    assert actions[0].operator  # the login name when --operator is not given
