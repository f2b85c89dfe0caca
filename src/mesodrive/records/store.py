"""`RecordStore`: the records' API. Writes go through the single writer thread; reads use a
read-only connection and derive everything (sessions, latest shot per index) from the journal.

Reading works from any process while another one writes (WAL); `readonly=True` opens a store
that only reads (the CLI), so looking at records can never create or change a database.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Literal, Self, TextIO

import platformdirs

from mesodrive.records import db, export
from mesodrive.records.chain import canonical_json, verify_rows
from mesodrive.records.models import (
    KIND_ACTION,
    KIND_ALARM,
    KIND_SESSION_END,
    KIND_SESSION_START,
    KIND_SHOT,
    ActionEntry,
    AlarmEntry,
    JournalEntry,
    SessionDetail,
    SessionSummary,
    ShotRow,
    StoreClosedError,
    UnknownSessionError,
    VerifyResult,
    delivered_volume,
)
from mesodrive.records.writer import JournalWriter, WriterStats


class RecordStore:
    def __init__(self, path: Path | str | None = None, *, max_delay_s: float = 0.05,
                 readonly: bool = False) -> None:
        self.path = Path(path) if path is not None else self.default_path()
        self.max_delay_s = max_delay_s
        self._writer: JournalWriter | None = None
        if readonly:
            if not self.path.exists():
                raise FileNotFoundError(f"no records database at {self.path}")
        else:
            self._writer = JournalWriter(db.open_writer(self.path), max_delay_s=max_delay_s)
        self._reader: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()  # one reader connection, shared across threads
        self._known_sessions: set[int] = set()

    @staticmethod
    def default_path() -> Path:
        return Path(platformdirs.user_data_dir("mesodrive")) / "records.db"

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
        self._append(session_id, KIND_SESSION_END, {"status": status, "summary": summary}, True)

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

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._read_lock:
            if self._reader is None:
                self._reader = db.open_reader(self.path)
            return self._reader.execute(sql, params).fetchall()

    def _start_row(self, session_id: int) -> tuple[str, str]:
        """(ts, body) of the session's start row; UnknownSessionError when there is none."""
        rows = self._read("SELECT ts, body FROM journal WHERE session = ? AND kind = ? "
                          "ORDER BY id LIMIT 1", (session_id, KIND_SESSION_START))
        if not rows:
            raise UnknownSessionError(session_id)
        ts, body = rows[0]
        return str(ts), str(body)

    def sessions(self) -> list[SessionSummary]:
        starts = self._read("SELECT session, ts, body FROM journal WHERE kind = ? ORDER BY id",
                            (KIND_SESSION_START,))
        ends: dict[int, tuple[str, dict[str, Any]]] = {}
        for session, ts, body in self._read(
                "SELECT session, ts, body FROM journal WHERE kind = ? ORDER BY id",
                (KIND_SESSION_END,)):
            ends[session] = (ts, json.loads(body))  # the last end row wins
        # Latest row per (session, index), aggregated without parsing every body in Python.
        shot_rows = self._read(
            "WITH latest AS (SELECT max(id) AS id FROM journal WHERE kind = ? "
            "  GROUP BY session, json_extract(body, '$.index')) "
            "SELECT j.session, json_extract(j.body, '$.point'), json_extract(j.body, '$.state'),"
            " json_extract(j.body, '$.measured.delivered_ul'),"
            " json_extract(j.body, '$.requested.volume_ul') "
            "FROM latest JOIN journal j ON j.id = latest.id", (KIND_SHOT,))
        agg: dict[int, tuple[set[int], float, int]] = {}
        for session, point, state, measured_ul, requested_ul in shot_rows:
            points, volume, uncertain = agg.get(session, (set(), 0.0, 0))
            delivered = delivered_volume(state, measured_ul, requested_ul)
            if state in ("done", "uncertain"):
                points.add(point)
            agg[session] = (points, volume + delivered, uncertain + (state == "uncertain"))
        return [
            self._summary(session, ts, json.loads(body), ends.get(session),
                          agg.get(session, (set(), 0.0, 0)))
            for session, ts, body in starts
        ]

    @staticmethod
    def _summary(session: int, started_at: str, start: dict[str, Any],
                 end: tuple[str, dict[str, Any]] | None,
                 agg: tuple[set[int], float, int]) -> SessionSummary:
        points, volume, uncertain = agg
        end_body = end[1] if end else {}
        return SessionSummary(
            id=session, started_at=started_at, ended_at=end[0] if end else None,
            status=str(end_body.get("status", "open")),
            patient_ref=_patient_ref(start.get("plan_snapshot") or {}),
            product_id=_product_id(start.get("product") or {}),
            plan_hash=str(start.get("plan_hash", "")), mode=str(start.get("mode", "")),
            device_session=int(start.get("device_session") or session),
            points_done=len(points),
            points_planned=_points_planned(start.get("plan_snapshot") or {},
                                           end_body.get("summary") or {}),
            volume_delivered_ul=round(volume, 6), uncertain_shots=uncertain,
        )

    def journal(self, session_id: int | None = None) -> list[JournalEntry]:
        """Journal rows in chain order: all, or one session's."""
        if session_id is None:
            rows = self._read("SELECT id, ts, session, kind, body, prev_hash, hash FROM journal "
                              "ORDER BY id")
        else:
            rows = self._read("SELECT id, ts, session, kind, body, prev_hash, hash FROM journal "
                              "WHERE session = ? ORDER BY id", (session_id,))
        return [JournalEntry(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]

    def session(self, session_id: int) -> SessionDetail:
        entries = self.journal(session_id)
        starts = [e for e in entries if e.kind == KIND_SESSION_START]
        if not starts:
            raise UnknownSessionError(session_id)
        start = starts[0]
        shots: dict[int, ShotRow] = {}
        shot_times: dict[int, str] = {}
        alarms: list[AlarmEntry] = []
        actions: list[ActionEntry] = []
        end: tuple[str, dict[str, Any]] | None = None
        for e in entries:
            if e.kind == KIND_SHOT:
                row = ShotRow.from_body(e.body)
                shots[row.index], shot_times[row.index] = row, e.ts
            elif e.kind == KIND_ALARM:
                alarms.append(AlarmEntry(e.id, e.ts, str(e.body["code"]), str(e.body["detail"])))
            elif e.kind == KIND_ACTION:
                actions.append(ActionEntry(e.id, e.ts, str(e.body["action"]),
                                           str(e.body.get("reason", "")), e.body.get("operator")))
            elif e.kind == KIND_SESSION_END:
                end = (e.ts, e.body)
        points = {r.point for r in shots.values() if r.state in ("done", "uncertain")}
        agg = (points, sum(r.delivered_ul for r in shots.values()),
               sum(r.state == "uncertain" for r in shots.values()))
        body = start.body
        return SessionDetail(
            summary=self._summary(session_id, start.ts, body, end, agg),
            plan_snapshot=body.get("plan_snapshot") or {}, product=body.get("product") or {},
            device=body.get("device") or {}, calibration=body.get("calibration") or {},
            operator=body.get("operator"), end_summary=(end[1].get("summary") if end else None),
            shots=[shots[i] for i in sorted(shots)], shot_times=shot_times,
            alarms=alarms, actions=actions,
        )

    def latest_shots(self, session_id: int) -> dict[int, ShotRow]:
        """index -> latest journalled state (for resume after a crash)."""
        self._start_row(session_id)
        latest: dict[int, ShotRow] = {}
        for (body,) in self._read("SELECT body FROM journal WHERE session = ? AND kind = ? "
                                  "ORDER BY id", (session_id, KIND_SHOT)):
            row = ShotRow.from_body(json.loads(body))
            latest[row.index] = row
        return latest

    def verify(self) -> VerifyResult:
        """Walk the whole chain in one read snapshot (a concurrent writer cannot make the head
        and the rows disagree) and report the first altered or missing row."""
        with self._read_lock:
            if self._reader is None:
                self._reader = db.open_reader(self.path)
            conn = self._reader
            conn.execute("BEGIN")
            try:
                head = conn.execute("SELECT last_id, last_hash FROM chain_head "
                                    "WHERE singleton = 1").fetchone()
                cursor = conn.execute("SELECT id, ts, session, kind, body, prev_hash, hash "
                                      "FROM journal ORDER BY id")
                return verify_rows(cursor, None if head is None else (head[0], head[1]))
            finally:
                conn.execute("COMMIT")

    def export(self, session_id: int, fmt: Literal["csv", "json"], out: TextIO) -> None:
        detail = self.session(session_id)
        if fmt == "csv":
            export.write_csv(detail, out)
        elif fmt == "json":
            export.write_json(detail, self.journal(session_id), out)
        else:
            raise ValueError(f"unknown export format {fmt!r} (csv or json)")


def _find_key(data: dict[str, Any], key: str, depth: int = 3) -> Any:
    """The value of `key` in `data` or in its nested dicts (breadth first, a few levels): the
    plan snapshot's layout belongs to the plan layer, so the records do not hard-code it."""
    level = [data]
    for _ in range(depth):
        for d in level:
            if d.get(key) is not None:
                return d[key]
        level = [v for d in level for v in d.values() if isinstance(v, dict)]
    return None


def _patient_ref(plan: dict[str, Any]) -> str | None:
    ref = _find_key(plan, "patient_ref")
    return None if ref is None else str(ref)


def _product_id(product: dict[str, Any]) -> str | None:
    for key in ("id", "product_id", "name"):
        if product.get(key) is not None:
            return str(product[key])
    return None


def _points_planned(plan: dict[str, Any], end_summary: dict[str, Any]) -> int | None:
    # The snapshot's point list when there is one, else a count from the snapshot or summary.
    if isinstance(plan.get("points"), list):
        return len(plan["points"])
    for source in (plan, end_summary):
        for key in ("points_planned", "n_points", "point_count", "points"):
            value = source.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None
