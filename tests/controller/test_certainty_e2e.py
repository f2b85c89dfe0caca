"""End to end, through the CLI: the device's truth log against the records (issue 8).

- a kill of `mesodrive run` on the built-in simulator while a shot moves, then `resume`;
- two records databases, one device: neither is ever answered with the other's shots.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mesosim.transports.shotlog import read_shot_log

from mesodrive.records import RecordStore
from tests.controller.conftest import write_plan
from tests.sim.test_sim_cli import sim_process

pytestmark = pytest.mark.slow


def _mesodrive(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mesodrive", *args], check=False,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _moving(log: Path) -> bool:
    """A shot has a start line and no end line yet: the needle is moving now."""
    if not log.exists():
        return False
    open_: set[tuple[int, int, int]] = set()
    for line in log.read_text().splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        key = (e["boot_nonce"], e["session"], e["index"])
        (open_.add if e["event"] == "start" else open_.discard)(key)
    return bool(open_)


def _check_records_against_truth(db: Path, truth: list[dict[str, Any]], session: int) -> None:
    store = RecordStore(db, readonly=True)
    try:
        rows = store.latest_shots(session)
        assert store.verify().ok
    finally:
        store.close()
    by_key = {(int(r.commanded["session"]), i): r for i, r in rows.items()}  # type: ignore[arg-type]
    done_points = []
    for e in truth:
        row = by_key.get((e["session"], e["index"]))
        assert row is not None, f"the device executed {e['session']}/{e['index']}, unknown to the records"
        assert row.state in ("done", "uncertain"), (row.index, row.state, row.reason)
        done_points.append(row.point)
    assert len(done_points) == len(set(done_points)), f"a point injected twice: {sorted(done_points)}"
    executed = {(e["session"], e["index"]) for e in truth}
    for key, row in by_key.items():
        if row.state == "done":
            assert key in executed, f"recorded delivered, never injected: {key} {row}"


@pytest.mark.parametrize("nth", [2, 5])
def test_kill_while_a_shot_moves_then_resume_on_the_builtin_simulator(tmp_path: Path, nth: int) -> None:
    plan = write_plan(tmp_path)
    db = tmp_path / "records.db"
    truth_log = tmp_path / "simulator-shots.jsonl"  # the built-in simulator's, beside the records
    run = subprocess.Popen([sys.executable, "-m", "mesodrive", "run", str(plan), "--db", str(db),
                            "--yes"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _moving(truth_log) and len(read_shot_log(truth_log)) >= nth:
                run.send_signal(signal.SIGKILL)  # host and built-in device die mid-shot
                break
            time.sleep(0.005)
        else:
            pytest.fail("no shot ever started moving")
    finally:
        run.communicate(timeout=10)
    interrupted = [e for e in read_shot_log(truth_log) if not e["finished"]]
    assert len(interrupted) == 1, "the kill did not land while a shot moved"
    resumed = _mesodrive("resume", "1", "--db", str(db), "--yes")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "power was lost while it executed" in resumed.stdout
    _check_records_against_truth(db, read_shot_log(truth_log), 1)


def test_two_records_databases_on_one_device_never_answer_each_other(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    log = tmp_path / "device.jsonl"
    with sim_process("--pty", "--seed", "31", "--shot-log", str(log)) as (proc, pty):
        for name in ("clinic-a.db", "clinic-b.db"):  # each starts at records session 1
            result = _mesodrive("run", str(plan), "--device", pty, "--db", str(tmp_path / name), "--yes")
            assert result.returncode == 0, result.stdout + result.stderr
            assert "COMPLETED: 9 of 9 points delivered" in result.stdout
        proc.terminate()
        proc.wait(10)
    truth = read_shot_log(log)
    assert len(truth) == 18  # nine real injections per run, none answered from a stored result
    sessions = sorted({e["session"] for e in truth})
    assert len(sessions) == 2
    for name in ("clinic-a.db", "clinic-b.db"):
        store = RecordStore(tmp_path / name, readonly=True)
        try:
            mine = {int(r.commanded["session"]) for r in store.latest_shots(1).values()}  # type: ignore[arg-type]
        finally:
            store.close()
        assert len(mine) == 1
        _check_records_against_truth(tmp_path / name, [e for e in truth if e["session"] in mine], 1)


@pytest.mark.parametrize("journal", [1, 0])
def test_a_lost_boot_event_with_power_loss_mid_shot_against_the_truth_log(tmp_path: Path,
                                                                          journal: int) -> None:
    """The reboot is noticed without its boot_event; the records agree with what the device
    did: nothing twice, every injection delivered or uncertain, nothing delivered that was not."""
    plan = write_plan(tmp_path)
    db = tmp_path / "records.db"
    truth_log = tmp_path / "truth.jsonl"
    url = (f"sim://?seed=5&realtime=1&faults=reboot@4&lose_boot_event=1&nvm_journal={journal}"
           f"&shot_log={truth_log}")
    result = _mesodrive("run", str(plan), "--device", url, "--db", str(db), "--yes")
    assert result.returncode == 1, result.stdout + result.stderr  # --yes: the alarm aborts
    assert "rebooted" in result.stdout + result.stderr
    truth = read_shot_log(truth_log)
    assert [e["finished"] for e in truth] == [True, True, True, False]  # the 4th lost its power
    _check_records_against_truth(db, truth, 1)
    store = RecordStore(db, readonly=True)
    try:
        rows = store.latest_shots(1)
    finally:
        store.close()
    interrupted = truth[-1]["index"]
    assert rows[interrupted].state == "uncertain"  # it moved: counted as delivered, never again
