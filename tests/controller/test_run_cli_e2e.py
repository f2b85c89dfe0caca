"""`mesodrive run` end to end: a real process against `mesodrive sim --pty` in another process,
crash (SIGKILL) and `mesodrive resume`, and broken plans that must send nothing."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mesosim.transports.shotlog import read_shot_log

from mesodrive.records import RecordStore
from tests.controller.conftest import write_plan
from tests.sim.test_sim_cli import sim_process

pytestmark = pytest.mark.slow


def _mesodrive(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mesodrive", *args], check=False, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _shot_log(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return read_shot_log(path)


def test_run_against_a_simulator_process_over_a_pty(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    log = tmp_path / "device.jsonl"
    db = tmp_path / "records.db"
    with sim_process("--pty", "--seed", "11", "--shot-log", str(log)) as (proc, pty):
        result = _mesodrive("run", str(plan), "--device", pty, "--db", str(db), "--yes")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "COMPLETED: 9 of 9 points delivered (0 uncertain), 0 cut short" in result.stdout
        assert "SIMULATOR" not in result.stdout  # a real device URL was given
        proc.terminate()
        proc.wait(10)
    executed = [e["index"] for e in _shot_log(log)]
    assert sorted(executed) == list(range(9))
    verify = _mesodrive("records", "--db", str(db), "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_default_device_is_the_simulator_and_says_so(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    result = _mesodrive("run", str(plan), "--db", str(tmp_path / "r.db"), "--yes")
    assert result.returncode == 0, result.stderr
    assert "SIMULATOR" in result.stdout


def test_screening_must_be_confirmed_without_a_terminal(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    result = _mesodrive("run", str(plan), "--db", str(tmp_path / "r.db"))
    assert result.returncode == 2
    assert "--yes" in result.stderr


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_mid_session_then_resume_never_reinjects(tmp_path: Path, seed: int) -> None:
    kill_after = random.Random(seed).uniform(1.2, 4.0)  # somewhere inside the 4.5 s run
    plan = write_plan(tmp_path)
    log = tmp_path / "device.jsonl"
    db = tmp_path / "records.db"
    with sim_process("--pty", "--seed", str(20 + seed), "--shot-log", str(log)) as (proc, pty):
        run = subprocess.Popen([sys.executable, "-m", "mesodrive", "run", str(plan), "--device", pty,
                                "--db", str(db), "--yes"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        try:
            time.sleep(kill_after)
            run.send_signal(signal.SIGKILL)
        finally:
            run.communicate(timeout=10)
        time.sleep(0.5)  # the device's dead-man has tripped by now
        resumed = _mesodrive("resume", "1", "--device", pty, "--db", str(db), "--yes")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        time.sleep(0.3)
        proc.terminate()
        proc.wait(10)
    store = RecordStore(db, readonly=True)
    try:
        rows = store.latest_shots(1)
        assert store.verify().ok
    finally:
        store.close()
    truth = _shot_log(log)
    assert all(e["session"] == rows[e["index"]].commanded["session"] for e in truth)
    executed_points = [rows[e["index"]].point for e in truth]
    assert len(executed_points) == len(set(executed_points)), f"re-injected: {sorted(executed_points)}"
    uncertain = {r.point for r in rows.values() if r.state == "uncertain"}
    for point in range(1, 10):  # every point exactly once, or recorded as uncertain
        assert executed_points.count(point) == 1 or point in uncertain, (point, executed_points)


@pytest.mark.parametrize("broken", ["out_of_range_depth", "unknown_key"])
def test_a_broken_plan_sends_nothing_to_the_device(tmp_path: Path, broken: str) -> None:
    plan = write_plan(tmp_path)
    text = plan.read_text()
    if broken == "out_of_range_depth":
        text = text.replace("depth_mm = 1.0", "depth_mm = 4.5")
    else:
        text = text.replace("pattern = ", "colour = \"red\"\npattern = ")
    plan.write_text(text)
    log = tmp_path / "device.jsonl"
    with sim_process("--pty", "--seed", "9", "--shot-log", str(log)) as (proc, pty):
        result = _mesodrive("run", str(plan), "--device", pty, "--db", str(tmp_path / "r.db"), "--yes")
        proc.terminate()
        proc.wait(10)
    assert result.returncode == 1
    assert ("depth_mm" if broken == "out_of_range_depth" else "colour") in result.stderr
    assert _shot_log(log) == []


def test_ctrl_c_without_a_terminal_pauses_then_aborts_safely(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    db = tmp_path / "records.db"
    log = tmp_path / "device.jsonl"
    with sim_process("--pty", "--seed", "12", "--shot-log", str(log)) as (proc, pty):
        run = subprocess.Popen([sys.executable, "-m", "mesodrive", "run", str(plan), "--device", pty,
                                "--db", str(db), "--yes"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        time.sleep(2.5)
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=30)
        time.sleep(0.5)
        proc.terminate()
        proc.wait(10)
    assert run.returncode == 1, out + err
    assert "pausing at the next shot boundary" in out and "ABORTED" in out
    store = RecordStore(db, readonly=True)
    try:
        detail = store.session(1)
        actions = [(a.action, a.reason) for a in detail.actions]
        # no terminal to ask: the pause request is followed at once by an abort, which also
        # stops at the shot boundary (queue cancelled, running shot finished, disarmed)
        assert any(a == "abort" and "interrupted" in r for a, r in actions)
        assert detail.status == "aborted"
        assert store.verify().ok
    finally:
        store.close()
    executed = [e["index"] for e in _shot_log(log)]
    assert len(executed) == len(set(executed)) and 0 < len(executed) < 9


def test_soft_limit_overrides_are_recorded_with_their_reason(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    text = plan.read_text().replace("depth_mm = 1.0", "depth_mm = 2.2")  # soft max 2.0 for this product
    text += '\n[[overrides]]\nfield = "depth_mm"\nvalue = 2.2\nreason = "thick dermis on this patient"\n'
    plan.write_text(text)
    db = tmp_path / "records.db"
    result = _mesodrive("run", str(plan), "--db", str(db), "--yes", "--operator", "dr-a")
    assert result.returncode == 0, result.stdout + result.stderr
    store = RecordStore(db, readonly=True)
    try:
        overrides = [a for a in store.session(1).actions if a.action == "override"]
    finally:
        store.close()
    assert len(overrides) == 1 and "thick dermis" in overrides[0].reason
    assert "2.2" in overrides[0].reason and overrides[0].operator == "dr-a"
