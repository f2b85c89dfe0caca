"""A host stall (issue 13): the device goes safe on its dead-man and the session is not lost —
the run reconnects, settles the open shot through the ledger and asks retry / skip / abort."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from mesosim.transports.shotlog import read_shot_log

from mesodrive.records import RecordStore
from tests.controller.conftest import write_plan
from tests.controller.test_run_interactive import started
from tests.sim.test_sim_cli import sim_process

pytestmark = pytest.mark.slow


def test_sigstop_of_the_host_for_400_ms_then_retry_completes(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    db = tmp_path / "records.db"
    log = tmp_path / "device.jsonl"
    with sim_process("--pty", "--seed", "41", "--shot-log", str(log)) as (proc, pty):
        term = started(plan, db, "--device", pty)
        try:
            term.expect("session 1")
            time.sleep(1.5)  # a few shots in
            term.proc.send_signal(signal.SIGSTOP)  # the clinic PC freezes (virus scan, update)
            time.sleep(0.4)
            term.proc.send_signal(signal.SIGCONT)
            term.expect("fix it, then: [r]etry / [s]kip point / [a]bort?")
            assert "link" in term.seen.lower()
            term.type("r\n")
            term.expect("reason (recorded):")
            term.type("host froze\n")
            term.expect("COMPLETED")
        finally:
            code = term.close()
        proc.terminate()
        proc.wait(10)
    assert code == 0, term.seen[-2000:]
    truth = read_shot_log(log)
    store = RecordStore(db, readonly=True)
    try:
        rows = store.latest_shots(1)
        assert store.verify().ok
    finally:
        store.close()
    by_key = {(int(r.commanded["session"]), i): r for i, r in rows.items()}  # type: ignore[arg-type]
    points = [by_key[(e["session"], e["index"])].point for e in truth]
    assert len(points) == len(set(points)), f"a point injected twice: {sorted(points)}"
    for e in truth:
        assert by_key[(e["session"], e["index"])].state in ("done", "uncertain")
