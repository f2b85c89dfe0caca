"""The single writer: a thread that appends queued rows to the chain in batched transactions.

Why a thread: the run engine must never wait for the disk except where it chooses to (a shot is
persisted *before* it is sent: `sync=True`). Everything else is queued and the thread commits it.

Why no deliberate batching delay: the thread commits as soon as it has rows, taking everything
queued meanwhile into the same transaction. Under load, batches form by themselves (rows queue
up while an fsync runs), so latency stays at one commit time instead of a fixed wait; the
`max_delay_s` bound is watched (`WriterStats.late_rows`), not waited for.

Chain integrity across processes and crashes: each batch is one `BEGIN IMMEDIATE` transaction
that reads the chain head *inside* the transaction (so two writers can never fork the chain),
inserts the rows and moves the head. A SIGKILL before COMMIT leaves nothing; after, everything.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from mesodrive.records.chain import canonical_json, row_hash, utc_now
from mesodrive.records.db import BUSY_TIMEOUT_MS, next_session
from mesodrive.records.models import StoreClosedError, WriterFailedError

MAX_BATCH = 1000  # rows per transaction; bounds one commit's duration after a backlog
SYNC_TIMEOUT_S = BUSY_TIMEOUT_MS / 1000 + 20.0  # a sync write that takes this long has failed


class _Waiter:
    """Completion of one sync write: set after its transaction committed (or failed)."""

    __slots__ = ("error", "event", "row_id", "session")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.session: int | None = None
        self.row_id: int | None = None
        self.error: BaseException | None = None


@dataclass(slots=True)
class _Item:
    seq: int
    enqueued: float  # perf_counter(), for the durability-lag statistics
    ts: str
    session: int | None  # None: a session start; the writer allocates the next session id
    kind: str
    body: str  # canonical JSON
    waiter: _Waiter | None


@dataclass
class WriterStats:
    rows: int = 0
    commits: int = 0
    max_lag_s: float = 0.0  # longest time from a row being queued to its commit
    late_rows: int = 0  # rows whose lag exceeded max_delay_s


log = logging.getLogger(__name__)
_STOP = object()
_live: weakref.WeakSet[JournalWriter] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # A program that forgets close() still gets its queued rows on disk at a normal exit.
    for writer in list(_live):
        try:
            writer.close(timeout=5.0)
        except Exception:  # exit must go on; say what was lost
            log.exception("records writer for %s could not flush at exit", writer)


class JournalWriter:
    def __init__(self, conn: sqlite3.Connection, *, max_delay_s: float,
                 key: bytes | None = None) -> None:
        self._conn = conn
        self._key = key  # HMAC key of a keyed chain; None: plain SHA-256
        # (rows, hash) after the last commit of this writer: an anchor to keep elsewhere.
        self.last_head: tuple[int, str] | None = None
        self._max_delay_s = max_delay_s
        self._queue: queue.SimpleQueue[_Item | object] = queue.SimpleQueue()
        self._lock = threading.Lock()  # orders (seq, ts, put) so chain order = timestamp order
        self._cond = threading.Condition()
        self._seq = 0
        self._committed_seq = 0
        self._error: BaseException | None = None
        self._closed = False
        self.stats = WriterStats()
        # Called as fn(last_seq, perf_counter_at_commit) after each commit (benchmarks).
        self.commit_listeners: list[Callable[[int, float], None]] = []
        self._thread = threading.Thread(target=self._run, name="records-writer", daemon=True)
        self._thread.start()
        _live.add(self)

    # -- producer side (any thread) ---------------------------------------------------------

    def append(self, session: int | None, kind: str, body: str, *, sync: bool) -> int | None:
        """Queue one row; with sync, wait until it is committed. Returns the row's session
        (the new session id for a session start) when sync, else None."""
        waiter = self._enqueue(session, kind, body, sync=sync)
        return None if waiter is None else waiter.session

    def append_row(self, session: int, kind: str, body: str) -> int:
        """Append one row and wait until it is committed (its own transaction, or part of a
        batch: all or nothing either way). Returns its journal id, the row's name for good."""
        waiter = self._enqueue(session, kind, body, sync=True)
        assert waiter is not None and waiter.row_id is not None
        return waiter.row_id

    def _enqueue(self, session: int | None, kind: str, body: str, *,
                 sync: bool) -> _Waiter | None:
        waiter = _Waiter() if sync else None
        with self._lock:
            if self._closed:
                raise StoreClosedError("the record store is closed")
            if self._error is not None:
                raise WriterFailedError(f"records writer failed: {self._error}") from self._error
            self._seq += 1
            self._queue.put(_Item(self._seq, time.perf_counter(), utc_now(), session, kind, body,
                                  waiter))
        if waiter is None:
            return None
        if not waiter.event.wait(SYNC_TIMEOUT_S):
            raise WriterFailedError(f"a records write was not durable within {SYNC_TIMEOUT_S} s")
        if waiter.error is not None:
            raise WriterFailedError(f"records write failed: {waiter.error}") from waiter.error
        return waiter

    def flush(self, timeout: float = 5.0) -> None:
        """Return once everything queued before this call is committed."""
        with self._lock:
            target = self._seq
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._committed_seq < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"records not flushed within {timeout} s")
                self._cond.wait(left)
        if self._error is not None:
            raise WriterFailedError(f"records writer failed: {self._error}") from self._error

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)  # after every row already queued
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"records writer did not finish within {timeout} s")
        self._conn.close()
        _live.discard(self)
        if self._error is not None:
            raise WriterFailedError(f"records writer failed: {self._error}") from self._error

    # -- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[_Item] = []
            first = self._queue.get()
            for obj in self._drain(first):
                if obj is _STOP:
                    stop = True
                else:
                    assert isinstance(obj, _Item)
                    batch.append(obj)
            if batch:
                self._write(batch)

    def _drain(self, first: object) -> list[object]:
        got = [first]
        while len(got) < MAX_BATCH and first is not _STOP:
            try:
                got.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return got

    def _write(self, batch: list[_Item]) -> None:
        error = self._error
        written: list[tuple[int | None, int | None]] = [(None, None)] * len(batch)
        if error is None:
            try:
                written = list(self._commit(batch))
            except BaseException as exc:  # noqa: BLE001 - reported to every caller instead
                error = self._error = exc
        now = time.perf_counter()
        if error is None:
            self.stats.commits += 1
            self.stats.rows += len(batch)
            for item in batch:
                lag = now - item.enqueued
                self.stats.max_lag_s = max(self.stats.max_lag_s, lag)
                if lag > self._max_delay_s:
                    self.stats.late_rows += 1
            for listener in self.commit_listeners:
                listener(batch[-1].seq, now)
        for item, (session, row_id) in zip(batch, written, strict=True):
            if item.waiter is not None:
                item.waiter.session, item.waiter.row_id = session, row_id
                item.waiter.error = error
                item.waiter.event.set()
        with self._cond:
            self._committed_seq = batch[-1].seq
            self._cond.notify_all()

    def _commit(self, batch: list[_Item]) -> list[tuple[int | None, int | None]]:
        """Insert the batch in one transaction; (session, journal id) of each row."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")  # takes the write lock now: the head cannot move under us
        try:
            head = conn.execute(
                "SELECT last_id, last_hash, last_session FROM chain_head WHERE singleton = 1"
            ).fetchone()
            if head is None:
                raise WriterFailedError("the chain head record is missing (database altered)")
            last_id, last_hash, _counter = head
            last_session = next_session(conn) - 1
            rows: list[tuple[int, str, int, str, str, str, str]] = []
            written: list[tuple[int | None, int | None]] = []
            for item in batch:
                session, body = item.session, item.body
                if session is None:
                    last_session += 1
                    session = last_session
                    body = _with_device_session(body, session)
                last_id += 1
                digest = row_hash(last_hash, last_id, item.ts, session, item.kind, body,
                                  self._key)
                rows.append((last_id, item.ts, session, item.kind, body, last_hash, digest))
                written.append((session, last_id))
                last_hash = digest
            conn.executemany("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute(
                "UPDATE chain_head SET last_id = ?, last_hash = ?, last_session = ? "
                "WHERE singleton = 1", (last_id, last_hash, last_session))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.last_head = (last_id, last_hash)
        return written


def _with_device_session(body: str, session: int) -> str:
    # The device's session id defaults to ours, which only exists inside the transaction.
    data = json.loads(body)
    if data.get("device_session") is None:
        data["device_session"] = session
        return canonical_json(data)
    return body
