"""`RecordStore`: the records' API. Writes go through the single writer thread; reads use a
read-only connection and derive everything (sessions, latest shot per index) from the journal.

Reading works from any process while another one writes (WAL); `readonly=True` opens a store
that only reads (the CLI), so looking at records can never create or change a database.

Opening checks the path first (`check_db_path`): nothing is created or changed in a path that
cannot hold the records. A file that cannot be read back as mesodrive wrote it raises
`DamagedRecordsError` (naming the row where it can) instead of whatever SQLite or JSON said.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Self, TextIO

from mesodrive.records import db, export, reading
from mesodrive.records.anchor import Head, append_head
from mesodrive.records.background import Verification
from mesodrive.records.chain import canonical_json
from mesodrive.records.keys import key_from_env, key_id
from mesodrive.records.models import (
    KIND_ACTION,
    KIND_ALARM,
    KIND_SESSION_END,
    KIND_SESSION_START,
    KIND_SHOT,
    ActionEntry,
    AlarmEntry,
    DamagedRecordsError,
    JournalEntry,
    RecordsError,
    SessionDetail,
    SessionSummary,
    ShotRow,
    StoreClosedError,
    UnknownSessionError,
    VerifyResult,
)
from mesodrive.records.outcomes import PointOutcome, counts_delivered, stream_point_outcomes
from mesodrive.records.paths import check_db_path, default_db_path
from mesodrive.records.profiles import ProfileRecords
from mesodrive.records.reading import SessionHeader
from mesodrive.records.session_export import export_session
from mesodrive.records.summary import parse_body, summarize
from mesodrive.records.verify import verify_database
from mesodrive.records.writer import JournalWriter, WriterStats

log = logging.getLogger(__name__)
MAX_SESSION_ID = 2**63 - 1  # SQLite's INTEGER range: a larger number cannot be a session


class RecordStore(ProfileRecords):  # + calibration profiles (records/profiles.py)
    def __init__(self, path: Path | str | None = None, *, max_delay_s: float = 0.05,
                 readonly: bool = False, key: bytes | None | Literal["env"] = "env") -> None:
        """`key`: the HMAC key of a keyed chain; "env" (default) reads the file named by
        MESODRIVE_RECORDS_KEY_FILE, if set. The path is checked first (`check_db_path`):
        a folder, a read-only file or another program's file raises before anything changes."""
        self.path = check_db_path(path, create=not readonly, write=not readonly)
        self.max_delay_s = max_delay_s
        self._key = key_from_env() if key == "env" else key
        self._writer: JournalWriter | None = None
        if not readonly:
            conn = db.open_writer(self.path, None if self._key is None else key_id(self._key))
            self._writer = JournalWriter(conn, max_delay_s=max_delay_s, key=self._key)
        self._reader: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()  # one reader connection, shared across threads
        self._known_sessions: set[int] = set()

    @staticmethod
    def default_path() -> Path:
        return default_db_path()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------

    def start_session(self, *, plan_snapshot: dict[str, Any], plan_hash: str,
                      product: dict[str, Any], device: dict[str, Any],
                      calibration: dict[str, Any], mode: str, operator: str | None = None,
                      device_session: int | None = None) -> int:
        """Durable on return. The new session id is also the device's u32 session id unless
        `device_session` is given."""
        if device_session is not None and not 0 <= device_session < 2**32:
            raise ValueError(f"device_session {device_session} is not a u32")
        body = canonical_json({
            "plan_snapshot": plan_snapshot, "plan_hash": plan_hash, "product": product,
            "device": device, "calibration": calibration, "mode": mode, "operator": operator,
            "device_session": device_session,
        })
        session = self._w().append(None, KIND_SESSION_START, body, sync=True)
        assert session is not None
        if session >= 2**32 and device_session is None:  # 4 billion sessions: not in practice
            raise ValueError(f"session id {session} does not fit the device's u32 session id")
        self._known_sessions.add(session)
        return session

    def record_shot(self, session_id: int, row: ShotRow, *, sync: bool = False) -> None:
        """sync=True returns once the row is on disk (a shot is persisted before it is sent);
        sync=False queues it (durable within about max_delay_s, off the timing path)."""
        self._append(session_id, KIND_SHOT, row.to_body(), sync)

    def record_alarm(self, session_id: int, code: str, detail: str, *,
                     sync: bool = False) -> None:
        self._append(session_id, KIND_ALARM, {"code": code, "detail": detail}, sync)

    def record_action(self, session_id: int, action: str, reason: str = "", *,
                      operator: str | None = None, sync: bool = True) -> None:
        """An operator action (pause, resume, abort, estop, override, skip, refill, ...);
        synchronous by default: Part 11 wants the action on record before it takes effect."""
        self._append(session_id, KIND_ACTION,
                     {"action": action, "reason": reason, "operator": operator}, sync)

    def end_session(self, session_id: int, status: str, summary: dict[str, Any]) -> None:
        """Durable on return; then the chain's head goes to the heads file beside the database
        (see `anchor`): a failure there is logged, never raised into the end of a treatment."""
        self._append(session_id, KIND_SESSION_END, {"status": status, "summary": summary}, True)
        head = self._w().last_head
        if head is not None:
            try:
                append_head(self.path, Head(*head), f"session {session_id} ended: {status}")
            except OSError:
                log.exception("records head after session %s not written beside %s",
                              session_id, self.path)

    def write_anchor(self, note: str = "on demand") -> VerifyResult:
        """Verify the chain and, if it is intact, append its head to the heads file."""
        self.flush()
        result = self.verify()
        if result.ok:
            append_head(self.path, Head(result.rows_checked, result.head_hash), note)
        return result

    def flush(self, timeout: float = 5.0) -> None:
        if self._writer is not None:
            self._writer.flush(timeout)

    def close(self) -> None:
        """Flushes queued rows, then releases the database. Idempotent."""
        writer, self._writer = self._writer, None
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        if writer is not None:
            writer.close()

    @property
    def writer_stats(self) -> WriterStats:
        """Rows, commits, the longest queued-to-durable lag and rows later than max_delay_s."""
        return self._w().stats

    def _w(self) -> JournalWriter:
        if self._writer is None:
            raise StoreClosedError(f"the record store {self.path} is closed or read-only")
        return self._writer

    def _append(self, session_id: int, kind: str, body: dict[str, Any], sync: bool) -> None:
        writer = self._w()
        if session_id not in self._known_sessions:
            # Once per session and process: a row for a session that does not exist is a bug
            # that must surface here, in the caller, not as an orphan row in the journal.
            self._start_row(session_id)
            self._known_sessions.add(session_id)
        writer.append(session_id, kind, canonical_json(body), sync=sync)

    # -- reading ------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._reader is None:  # read lock held
            self._reader = db.open_reader(self.path)
        return self._reader

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._read_lock:
            try:
                return self._conn().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._db_error(exc) from exc

    def _db_error(self, exc: sqlite3.Error) -> RecordsError:
        """A reading failure as the records' own error: busy, or damaged (naming the row when
        it is a body SQLite cannot parse)."""
        name = str(getattr(exc, "sqlite_errorname", ""))
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return RecordsError(f"{self.path}: the records are locked by another program "
                                f"({exc}); try again")
        where = ""
        if "JSON" in str(exc):
            try:
                bad = self._conn().execute("SELECT min(id) FROM journal WHERE NOT "
                                           "json_valid(body)").fetchone()[0]
            except sqlite3.Error:
                bad = None
            where = f" (journal row {bad}: its body is not JSON)" if bad is not None else ""
        return DamagedRecordsError(f"{self.path}: the records file is damaged: {exc}{where}")

    def _start_row(self, session_id: int) -> tuple[str, str]:
        """(ts, body) of the session's start row; UnknownSessionError when there is none."""
        _check_session_id(session_id)
        rows = self._read("SELECT ts, body FROM journal WHERE session = ? AND kind = ? "
                          "ORDER BY id LIMIT 1", (session_id, KIND_SESSION_START))
        if not rows:
            raise UnknownSessionError(session_id)
        ts, body = rows[0]
        return str(ts), str(body)

    def sessions(self) -> list[SessionSummary]:
        starts = self._read("SELECT id, session, ts, body FROM journal WHERE kind = ? "
                            "ORDER BY id", (KIND_SESSION_START,))
        ends: dict[int, tuple[str, dict[str, Any]]] = {}
        for row_id, session, ts, body in self._read(
                "SELECT id, session, ts, body FROM journal WHERE kind = ? ORDER BY id",
                (KIND_SESSION_END,)):
            ends[session] = (ts, parse_body(self.path, row_id, body))  # the last end row wins
        with self._read_lock:  # latest row per shot, aggregated without parsing bodies
            try:
                agg = reading.shot_totals(self._conn())
            except sqlite3.Error as exc:
                raise self._db_error(exc) from exc
        out = []
        for row_id, session, ts, body in starts:
            try:
                start = parse_body(self.path, row_id, body)
                out.append(summarize(session, ts, start, ends.get(session),
                                     agg.get(session, (set(), 0.0, 0))))
            except (AttributeError, TypeError, ValueError) as exc:
                raise _damaged(self.path, row_id, exc) from exc
        return out

    def journal(self, session_id: int | None = None) -> list[JournalEntry]:
        """Journal rows in chain order: all, or one session's."""
        if session_id is None:
            rows = self._read("SELECT id, ts, session, kind, body, prev_hash, hash FROM journal "
                              "ORDER BY id")
        else:
            _check_session_id(session_id)
            rows = self._read("SELECT id, ts, session, kind, body, prev_hash, hash FROM journal "
                              "WHERE session = ? ORDER BY id", (session_id,))
        return [JournalEntry(r[0], r[1], r[2], r[3], parse_body(self.path, r[0], r[4]), r[5],
                             r[6]) for r in rows]

    def session(self, session_id: int) -> SessionDetail:
        entries = self.journal(session_id)
        starts = [e for e in entries if e.kind == KIND_SESSION_START]
        if not starts:
            raise UnknownSessionError(session_id)
        current = starts[0].id
        try:
            return self._detail(session_id, starts[0], entries)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # Name the first row that does not parse (the start row if all of them do).
            for e in entries:
                current = e.id
                try:
                    self._detail(session_id, starts[0], [e])
                except (AttributeError, KeyError, TypeError, ValueError):
                    break
            raise _damaged(self.path, current, exc) from exc

    def _detail(self, session_id: int, start: JournalEntry,
                entries: list[JournalEntry]) -> SessionDetail:
        shots = reading.latest_of(e.body for e in entries if e.kind == KIND_SHOT)
        shot_times = {int(e.body["index"]): e.ts for e in entries if e.kind == KIND_SHOT}
        alarms: list[AlarmEntry] = []
        actions: list[ActionEntry] = []
        end: tuple[str, dict[str, Any]] | None = None
        for e in entries:
            if e.kind == KIND_ALARM:
                alarms.append(AlarmEntry(e.id, e.ts, str(e.body["code"]), str(e.body["detail"])))
            elif e.kind == KIND_ACTION:
                operator = e.body.get("operator")
                actions.append(ActionEntry(e.id, e.ts, str(e.body["action"]),
                                           str(e.body.get("reason", "")),
                                           None if operator is None else str(operator)))
            elif e.kind == KIND_SESSION_END:
                end = (e.ts, e.body)
        points = {r.point for r in shots.values() if counts_delivered(r.state, r.measured)}
        agg = (points, sum(r.delivered_ul for r in shots.values()),
               sum(r.state == "uncertain" for r in shots.values()))
        body = start.body
        operator = body.get("operator")
        return SessionDetail(
            summary=summarize(session_id, start.ts, body, end, agg),
            plan_snapshot=body.get("plan_snapshot") or {}, product=body.get("product") or {},
            device=body.get("device") or {}, calibration=body.get("calibration") or {},
            operator=None if operator is None else str(operator),
            end_summary=(end[1].get("summary") if end else None),
            shots=[shots[i] for i in sorted(shots)], shot_times=shot_times,
            alarms=alarms, actions=actions,
        )

    def latest_shots(self, session_id: int) -> dict[int, ShotRow]:
        """index -> latest journalled state (for resume after a crash)."""
        self._start_row(session_id)
        rows = self._read("SELECT id, body FROM journal WHERE session = ? AND kind = ? "
                          "ORDER BY id", (session_id, KIND_SHOT))
        bodies = [parse_body(self.path, row_id, body) for row_id, body in rows]
        try:
            return reading.latest_of(bodies)
        except (KeyError, TypeError, ValueError) as exc:
            raise DamagedRecordsError(f"{self.path}: the records file is damaged: a shot row "
                                      f"of session {session_id} is not what mesodrive writes "
                                      f"({exc!r})") from exc

    def verify(self, expect: Sequence[Head] = ()) -> VerifyResult:
        """Walk the whole chain in one read snapshot (a concurrent writer cannot make the head
        and the rows disagree) and report the first altered or missing row; then check the
        heads `expect`ed and those recorded beside the database (truncation, rollback).

        A damaged file is a failed verification, not an exception. Raises KeyRequiredError
        for a keyed chain when no key was given (nothing can be checked without it)."""
        with self._read_lock:
            try:
                conn = self._conn()
            except sqlite3.Error as exc:
                return VerifyResult(False, 0, None, f"the records file is damaged: {exc}")
            return verify_database(conn, self.path, self._key, expect)

    def verification(self) -> Verification:
        """`verify()`, computed beside the caller where a second core helps (`background`)."""
        return Verification(self.verify, lambda: verify_database(
            db.open_reader(self.path), self.path, self._key))

    @property
    def keyed(self) -> bool:
        """Does this store chain (and verify) with an HMAC key?"""
        return self._key is not None

    # -- one session as a stream (records.reading): any length, one row at a time -----------

    def session_header(self, session_id: int) -> SessionHeader:
        """All of a session but its shots (start, end, alarms, actions, totals)."""
        _check_session_id(session_id)
        with self._read_lock:
            try:
                return reading.read_header(self._conn(), self.path, session_id)
            except sqlite3.Error as exc:
                raise self._db_error(exc) from exc

    def shots(self, session_id: int, order: Literal["index", "point"] = "index",
              ) -> Iterator[tuple[ShotRow, str]]:
        """(latest row, its time) of each shot, read as consumed: `session().shots` as a
        stream, by shot number or by point."""
        self._start_row(session_id)  # an unknown session fails here, not when first read
        return reading.latest_shots(self._stream_conn, self.path, session_id, order)

    def point_outcomes(self, header: SessionHeader) -> Iterator[PointOutcome]:
        """`records.point_outcomes` of the session, one point at a time."""
        rows = (row for row, _ in self.shots(header.summary.id, "point"))
        return stream_point_outcomes(header, rows)

    def journal_rows(self, session_id: int) -> Iterator[JournalEntry]:
        """`journal(session_id)` as a stream."""
        self._start_row(session_id)
        return reading.journal_rows(self._stream_conn, self.path, session_id)

    def _stream_conn(self) -> sqlite3.Connection:
        try:
            return db.open_reader(self.path)
        except sqlite3.Error as exc:
            raise DamagedRecordsError(f"{self.path}: the records file is damaged: {exc}") from exc

    def export(self, session_id: int, fmt: Literal["csv", "json"], out: TextIO,
               places: export.Places | None = None, header: SessionHeader | None = None,
               verification: Verification | None = None) -> VerifyResult:
        """Write one session, row by row as it is read; the export ends with the chain's head
        and whether it verified (returned too, so a front end can warn). `places`: each point's
        position and zone, which the caller reads from the plan (this layer does not);
        `header`: the session's, if the caller has read it already; `verification`: one the
        caller started (`verification()`), asked for only when the export needs it."""
        return export_session(self, session_id, fmt, out, places, header, verification)

    def shot_keys(self, session_id: int) -> dict[str, set[str]]:
        """group -> the keys the latest rows of the session's shots have in it (CSV columns)."""
        with self._read_lock:
            try:
                return reading.shot_keys(self._conn(), session_id)
            except sqlite3.Error as exc:
                raise self._db_error(exc) from exc


def _check_session_id(session_id: int) -> None:
    if not 0 < session_id <= MAX_SESSION_ID:
        raise UnknownSessionError(session_id)


_damaged = reading.damaged
