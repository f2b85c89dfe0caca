"""One session read as a stream, so showing or exporting a session of any length holds one row
at a time, not the session (issue 13: a 10,000-shot session in under a second).

The session's *header* (its start row, end row, alarms, operator actions and totals) is small
and read whole: `SessionHeader`. Its *shots* (the latest row of each, by shot number or by
point) and its *journal rows* come straight from a SQLite cursor, one at a time. The rules are
the ones `RecordStore.session` applies in memory — the latest row per shot number, the point
from the shot's first row (later rows may have lost it), totals as `summarize` counts them —
and the tests compare the two on the same journal.

A stream reads through its own connection (`open_conn`), so whoever consumes it may read other
things from the store meanwhile; a row that is not what mesodrive writes raises
`DamagedRecordsError` naming it, when the stream reaches it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from json.encoder import encode_basestring as _quote
from pathlib import Path
from typing import Any, Literal

from mesodrive.records.chain import canonical_json
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
    RawJournalEntry,
    SessionSummary,
    ShotRow,
    UnknownSessionError,
    delivered_volume,
)
from mesodrive.records.outcomes import counts_delivered
from mesodrive.records.summary import parse_body, summarize

Totals = tuple[set[int], float, int]  # points given, volume counted as delivered, uncertain
_PARSE_ERRORS = (AttributeError, KeyError, TypeError, ValueError)

# The latest row of each shot (by shot number) and the point of its first row.
# The latest row of each shot (by shot number) and the point of its first row.
_LATEST_CTE = ("WITH s AS (SELECT max(id) AS last, min(id) AS first, "
               "json_extract(body, '$.index') AS number FROM journal "
               "WHERE session = ? AND kind = ? GROUP BY json_extract(body, '$.index')) ")
_FROM = "FROM s JOIN journal j ON j.id = s.last JOIN journal f ON f.id = s.first "
_LATEST = f"{_LATEST_CTE}SELECT j.id, j.ts, j.body, json_extract(f.body, '$.point') {_FROM}"
_LATEST_RAW = (f"{_LATEST_CTE}SELECT j.id, j.ts, j.body, json_extract(f.body, '$.point'), "
               f"json_extract(j.body, '$.point') {_FROM}")
_POINT = ("CASE WHEN json_extract(f.body, '$.point') >= 0 THEN json_extract(f.body, '$.point') "
          "ELSE json_extract(j.body, '$.point') END")
_ORDER = {"index": "ORDER BY s.number", "point": f"ORDER BY {_POINT}, s.number"}


@dataclass(frozen=True)
class SessionHeader:
    """All of a session but its shots: what `records show` prints above the point table and
    an export writes before the rows."""

    summary: SessionSummary
    plan_snapshot: dict[str, Any]
    product: dict[str, Any]
    device: dict[str, Any]
    calibration: dict[str, Any]
    operator: str | None
    end_summary: dict[str, Any] | None
    alarms: list[AlarmEntry] = field(default_factory=list)
    actions: list[ActionEntry] = field(default_factory=list)
    shot_profiles: dict[str, int] = field(default_factory=dict)  # profile id ("none") -> shots


def damaged(path: Path, row_id: int, exc: Exception) -> DamagedRecordsError:
    return DamagedRecordsError(f"{path}: the records file is damaged: journal row {row_id} is "
                               f"not what mesodrive writes ({type(exc).__name__}: {exc})")


def shot_totals(conn: sqlite3.Connection, session_id: int | None = None) -> dict[int, Totals]:
    """Per session: the points given, the volume counted as delivered and the uncertain shots,
    from the latest row of each shot — aggregated in SQL, no body parsed in Python."""
    return {s: t for s, (t, _) in _totals(conn, session_id).items()}


def _totals(conn: sqlite3.Connection,
            session_id: int | None) -> dict[int, tuple[Totals, dict[str, int]]]:
    """`shot_totals` and, per session, how many shots were given with each calibration profile
    ("none" for shots without one, in the order first used): one pass over the latest rows."""
    where, params = ("", (KIND_SHOT,)) if session_id is None else \
        (" AND session = ?", (KIND_SHOT, session_id))
    rows = conn.execute(
        "WITH s AS (SELECT max(id) AS last, min(id) AS first FROM journal WHERE kind = ?"
        f"{where} GROUP BY session, json_extract(body, '$.index')) "
        f"SELECT j.session, {_POINT}, json_extract(j.body, '$.state'),"
        " json_extract(j.body, '$.measured.delivered_ul'),"
        " json_extract(j.body, '$.requested.volume_ul'),"
        " json_extract(j.body, '$.measured.flags'),"
        " json_extract(j.body, '$.measured.reached_depth_mm'),"
        " json_extract(j.body, '$.profile_id') "
        "FROM s JOIN journal j ON j.id = s.last JOIN journal f ON f.id = s.first "
        "ORDER BY j.id", params)
    out: dict[int, tuple[Totals, dict[str, int]]] = {}
    for session, point, state, measured_ul, requested_ul, flags, reached, pid in rows:
        (points, volume, uncertain), profiles = out.get(session, ((set(), 0.0, 0), {}))
        measured = {"delivered_ul": measured_ul, "flags": flags, "reached_depth_mm": reached}
        if counts_delivered(state, measured):
            points.add(point)
        key = "none" if pid is None else str(pid)
        profiles[key] = profiles.get(key, 0) + 1
        out[session] = ((points, volume + delivered_volume(state, measured_ul, requested_ul),
                         uncertain + (state == "uncertain")), profiles)
    return out


def read_header(conn: sqlite3.Connection, path: Path, session_id: int) -> SessionHeader:
    """The session's header; UnknownSessionError when it was never started."""
    start = conn.execute("SELECT id, ts, body FROM journal WHERE session = ? AND kind = ? "
                         "ORDER BY id LIMIT 1", (session_id, KIND_SESSION_START)).fetchone()
    if start is None:
        raise UnknownSessionError(session_id)
    start_id, started_at, start_text = start
    body = parse_body(path, start_id, start_text)
    alarms: list[AlarmEntry] = []
    actions: list[ActionEntry] = []
    end: tuple[str, dict[str, Any]] | None = None
    for row_id, ts, kind, text in conn.execute(
            "SELECT id, ts, kind, body FROM journal WHERE session = ? AND kind IN (?, ?, ?) "
            "ORDER BY id", (session_id, KIND_ALARM, KIND_ACTION, KIND_SESSION_END)):
        b = parse_body(path, row_id, text)
        try:
            if kind == KIND_ALARM:
                alarms.append(AlarmEntry(row_id, ts, str(b["code"]), str(b["detail"])))
            elif kind == KIND_ACTION:
                who = b.get("operator")
                actions.append(ActionEntry(row_id, ts, str(b["action"]), str(b.get("reason", "")),
                                           None if who is None else str(who)))
            else:
                end = (ts, b)
        except _PARSE_ERRORS as exc:
            raise damaged(path, row_id, exc) from exc
    totals, profiles = _totals(conn, session_id).get(session_id, ((set(), 0.0, 0), {}))
    try:
        operator = body.get("operator")
        end_summary = end[1].get("summary") if end else None
        return SessionHeader(
            summary=summarize(session_id, started_at, body, end, totals),
            plan_snapshot=body.get("plan_snapshot") or {}, product=body.get("product") or {},
            device=body.get("device") or {}, calibration=body.get("calibration") or {},
            operator=None if operator is None else str(operator),
            end_summary=end_summary, alarms=alarms, actions=actions,
            shot_profiles=profiles)
    except _PARSE_ERRORS as exc:
        raise damaged(path, start_id, exc) from exc


def latest_shots(open_conn: Callable[[], sqlite3.Connection], path: Path, session_id: int,
                 order: Literal["index", "point"] = "index") -> Iterator[tuple[ShotRow, str]]:
    """(latest row, its timestamp) of each shot of the session, by shot number or by point
    (then shot number), read as they are consumed."""
    conn = open_conn()
    try:
        cursor = conn.execute(_LATEST + _ORDER[order], (session_id, KIND_SHOT))
        for row_id, ts, text, first_point in cursor:
            try:
                row = ShotRow.from_body(parse_body(path, row_id, text))
                point = int(first_point)
            except _PARSE_ERRORS as exc:
                raise damaged(path, row_id, exc) from exc
            if point >= 0 and point != row.point:
                row = replace(row, point=point)
            yield row, str(ts)
    except sqlite3.Error as exc:
        raise DamagedRecordsError(f"{path}: the records file is damaged: {exc}") from exc
    finally:
        conn.close()


def raw_shot_entries(open_conn: Callable[[], sqlite3.Connection], path: Path,
                     session_id: int) -> Iterator[str]:
    """The latest row of each shot by shot number, as the JSON text it is stored as with its
    time added (`"recorded_at"`): a JSON export's shot entries for a chain verified just
    before (which parsed every body: each is a JSON object), not parsed and serialised again.
    A row whose point is to come from the shot's first row (`latest_shots`) is rewritten."""
    conn = open_conn()
    try:
        for row_id, ts, text, first_point, own_point in conn.execute(
                _LATEST_RAW + _ORDER["index"], (session_id, KIND_SHOT)):
            if isinstance(first_point, int) and first_point >= 0 and first_point != own_point:
                body = parse_body(path, row_id, text)
                body["point"] = first_point
                text = canonical_json(body)  # as the store writes a body
            inner = str(text).rstrip()[:-1].rstrip()  # the object without its closing brace
            yield f'{inner}{"" if inner.endswith("{") else ","}"recorded_at":{_quote(str(ts))}}}'
    except sqlite3.Error as exc:
        raise DamagedRecordsError(f"{path}: the records file is damaged: {exc}") from exc
    finally:
        conn.close()


def journal_rows(open_conn: Callable[[], sqlite3.Connection], path: Path,
                 session_id: int) -> Iterator[JournalEntry]:
    """The session's journal rows in chain order, read as they are consumed."""
    conn = open_conn()
    try:
        for r in conn.execute("SELECT id, ts, session, kind, body, prev_hash, hash FROM journal "
                              "WHERE session = ? ORDER BY id", (session_id,)):
            yield JournalEntry(r[0], r[1], r[2], r[3], parse_body(path, r[0], r[4]), r[5], r[6])
    except sqlite3.Error as exc:
        raise DamagedRecordsError(f"{path}: the records file is damaged: {exc}") from exc
    finally:
        conn.close()


def raw_journal_rows(open_conn: Callable[[], sqlite3.Connection], path: Path,
                     session_id: int) -> Iterator[RawJournalEntry]:
    """`journal_rows` without parsing the bodies: for an export whose chain was verified just
    before (which parsed every body), so that each is written as stored, not parsed and
    serialised again (the bulk of a long session's JSON export)."""
    conn = open_conn()
    try:
        cursor = conn.execute("SELECT id, ts, session, kind, body, prev_hash, hash FROM journal "
                              "WHERE session = ? ORDER BY id", (session_id,))
        yield from map(RawJournalEntry._make, cursor)
    except sqlite3.Error as exc:
        raise DamagedRecordsError(f"{path}: the records file is damaged: {exc}") from exc
    finally:
        conn.close()


def shot_keys(conn: sqlite3.Connection, session_id: int) -> dict[str, set[str]]:
    """group -> the keys the latest rows of the session's shots have in it (the CSV's columns,
    as `export.shot_keys` finds them in memory), without parsing a body in Python."""
    keys: dict[str, set[str]] = {}
    for group, key in conn.execute(
            "WITH s AS (SELECT max(id) AS last FROM journal WHERE session = ? AND kind = ? "
            "  GROUP BY json_extract(body, '$.index')) "
            "SELECT DISTINCT g.key, e.key FROM s JOIN journal j ON j.id = s.last, "
            "json_each(j.body) g, json_each(g.value) e "
            "WHERE g.key IN ('requested', 'commanded', 'measured') AND g.type = 'object'",
            (session_id, KIND_SHOT)):
        keys.setdefault(str(group), set()).add(str(key))
    return keys


def latest_of(bodies: Iterable[dict[str, Any]]) -> dict[int, ShotRow]:
    """index -> latest row, with the point of the shot's first row (the one journalled before it
    was sent): later rows may have lost it (-1). `latest_shots` applies the same rule in SQL."""
    latest: dict[int, ShotRow] = {}
    first_point: dict[int, int] = {}
    for body in bodies:
        row = ShotRow.from_body(body)
        point = first_point.setdefault(row.index, row.point)
        if point >= 0 and point != row.point:
            row = replace(row, point=point)
        latest[row.index] = row
    return latest
