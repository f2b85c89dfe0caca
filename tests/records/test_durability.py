"""Durability: sync rows are on disk when the call returns, async rows soon after, and a
SIGKILLed writer (or two writers at once) never leaves a broken chain."""

from __future__ import annotations

import itertools
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mesodrive.records import RecordStore

from .helpers import shot, start

ROOT = Path(__file__).resolve().parents[2]


def _shot_rows(path: Path, session: int) -> list[tuple[int, str]]:
    """(index, state) of a session's shot rows, through a connection of its own."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return [(int(i), str(s)) for i, s in conn.execute(
            "SELECT json_extract(body, '$.index'), json_extract(body, '$.state') FROM journal "
            "WHERE session = ? AND kind = 'shot' ORDER BY id", (session,))]
    finally:
        conn.close()


def test_the_writer_runs_wal_with_synchronous_full(tmp_path: Path) -> None:
    with RecordStore(tmp_path / "r.db") as store:
        start(store)
        writer_conn = store._w()._conn  # the setting lives on that connection
        assert writer_conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert writer_conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_sync_write_is_on_disk_when_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with RecordStore(path, max_delay_s=10.0) as store:
        sid = start(store)
        for i in range(20):
            store.record_shot(sid, shot(i), sync=True)
            assert _shot_rows(path, sid)[-1] == (i, "pending")


def test_async_writes_are_durable_within_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    max_delay_s = 0.05
    lags: list[float] = []
    with RecordStore(path, max_delay_s=max_delay_s) as store:
        sid = start(store)
        for i in range(15):
            t0 = time.perf_counter()
            store.record_shot(sid, shot(i, "done"))
            while _shot_rows(path, sid)[-1:] != [(i, "done")]:
                assert time.perf_counter() - t0 < 5.0, f"row {i} not durable after 5 s"
                time.sleep(0.001)
            lags.append(time.perf_counter() - t0)
        stats = store.writer_stats
    # A generous bound (a loaded CI machine), not a benchmark: see benchmarks/bench_records.py.
    assert max(lags) < max_delay_s + 2.0
    assert stats.rows == 16 and stats.max_lag_s < max_delay_s + 2.0


def test_flush_and_close_make_queued_rows_durable(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    store = RecordStore(path, max_delay_s=10.0)
    sid = start(store)
    for i in range(300):
        store.record_shot(sid, shot(i))
    store.flush()
    assert len(_shot_rows(path, sid)) == 300
    for i in range(300, 600):
        store.record_shot(sid, shot(i))
    store.close()
    assert len(_shot_rows(path, sid)) == 600


# A writer process: sync-writes each shot ("persist before send"), says so on stdout, then
# queues its accepted/done rows asynchronously, with bursts so batches are in flight.
CHILD = """
import sys
import time
from pathlib import Path
from mesodrive.records import RecordStore
from tests.records.helpers import shot, start
store = RecordStore(Path(sys.argv[1]), max_delay_s=0.05)
sid = start(store)
print(f"session {sid}", flush=True)
if sys.argv[3] == "wait":
    sys.stdin.readline()  # start together with the other writer
limit = int(sys.argv[2])
i = 0
while limit < 0 or i < limit:
    store.record_shot(sid, shot(i), sync=True)
    print(f"synced {i}", flush=True)
    store.record_shot(sid, shot(i, "accepted"))
    store.record_shot(sid, shot(i, "done"))
    for _ in range(i % 7 * 5):
        store.record_alarm(sid, "BURST", "x" * 200)
    i += 1
    time.sleep(0.001)  # lets two writers overlap in time
store.close()
"""


def _child(path: Path, limit: int, wait: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(limit),
                             "wait" if wait else "go"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.timeout(60)
def test_a_sigkilled_writer_leaves_a_verifiable_chain(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    rng = random.Random(5)
    for _ in range(3):  # each run appends to the database the previous crash left
        proc = _child(path, -1)
        assert proc.stdout is not None
        sid = int(proc.stdout.readline().split()[1])
        kill_after = rng.randint(5, 80)
        synced = -1
        while synced < kill_after:
            line = proc.stdout.readline()
            assert line, "writer exited early"
            synced = int(line.split()[1])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        with RecordStore(path, readonly=True) as ro:
            result = ro.verify()
            assert result.ok, result
            latest = ro.latest_shots(sid)
        # Every shot the writer had persisted (and so might have sent) is on record.
        assert set(range(synced + 1)) <= set(latest), (synced, sorted(latest))
    with RecordStore(path) as store:  # and the chain goes on after the crashes
        sid = start(store)
        store.record_shot(sid, shot(0), sync=True)
        assert store.verify().ok


@pytest.mark.timeout(60)
def test_two_writer_processes_do_not_fork_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    RecordStore(path).close()  # schema in place before the race
    procs = [_child(path, 60, wait=True) for _ in range(2)]
    sids = [int(p.stdout.readline().split()[1]) for p in procs]  # type: ignore[union-attr]
    for p in procs:
        p.stdin.write("go\n")  # type: ignore[union-attr]
        p.stdin.flush()  # type: ignore[union-attr]
    for p in procs:
        p.communicate(timeout=50)
    assert [p.returncode for p in procs] == [0, 0]
    with RecordStore(path, readonly=True) as ro:
        result = ro.verify()
        assert result.ok, result
        sessions = [e.session for e in ro.journal()]
        # The writers really did take turns (otherwise this test would prove nothing).
        assert sum(a != b for a, b in itertools.pairwise(sessions)) > 1
        for sid in sids:
            assert {i: r.state for i, r in ro.latest_shots(sid).items()} == {
                i: "done" for i in range(60)}
