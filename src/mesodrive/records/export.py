"""Exports of one session: CSV (one line per shot, its latest state, for spreadsheets) and JSON
(everything: header, shots, alarms, actions and the session's journal rows with their hashes,
so an export can later be compared with the database). Both read back (`read_csv`,
`read_json`) to the same values, which is what the tests check.

Both end with the chain's head (`ROWS:HASH`) and whether the chain verified when exported: a
printed or archived export is one more copy of the head kept outside the database (`anchor`).
In CSV that is a last line whose first cell starts with "#" (`read_csv` skips it).

Each shot also carries where it went: its point's `x_mm`, `y_mm` and `zone` (CSV columns after
`point`; in JSON a `points` list, one entry per point with its outcome), so a clinic can map a
session in its own tools. The positions come from the plan, which this layer does not read
(it may not import `mesodrive.plan`): the caller passes them in as `places`; without them the
columns are there but empty, so the header never depends on who exported.

Both are written as a stream (`write_csv_rows`, `write_json_stream`): each shot, point and
journal row is written as it is read (`records.reading`), so an export of any length holds one
row at a time. The JSON document is indented; each entry of its long lists (points, shots,
alarms, actions, journal) and the plan snapshot are one line each — grep-able, and written by
the json module's C encoder (an indented encoding of a 10,000-shot session takes seconds).
`write_csv` and `write_json` take a session already in memory (a `SessionDetail`) through the
same writers.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring as _quote  # a str as _line spells it
from typing import Any, Protocol, TextIO

from mesodrive.records.models import (
    AlarmEntry,
    JournalEntry,
    RawJournalEntry,
    SessionDetail,
    ShotRow,
    VerifyResult,
)
from mesodrive.records.outcomes import PointOutcome, SessionFacts, point_outcomes

EXPORT_FORMAT = "mesodrive-records-export"
EXPORT_VERSION = 1

_BASE_COLUMNS = ["session", "index", "point", "x_mm", "y_mm", "zone", "state", "reason",
                 "boot_nonce", "recorded_at", "profile_id"]  # profile_id: calibration used


@dataclass(frozen=True)
class PointPlace:
    """Where a planned point is on the treatment map (mm), and its zone (None: no zone)."""

    x_mm: float
    y_mm: float
    zone: str | None


Places = Mapping[int, PointPlace]  # point number -> place
# A verification's result, or a way to get it when it is needed (it may still be running).
Check = VerifyResult | Callable[[], VerifyResult]


class SessionView(SessionFacts, Protocol):
    """What an export writes of a session besides its rows: a `SessionDetail`, or the header
    of a session read as a stream (`records.reading.SessionHeader`)."""

    @property
    def operator(self) -> str | None: ...
    @property
    def product(self) -> dict[str, Any]: ...
    @property
    def device(self) -> dict[str, Any]: ...
    @property
    def calibration(self) -> dict[str, Any]: ...
    @property
    def shot_profiles(self) -> dict[str, int]: ...
    @property
    def alarms(self) -> list[AlarmEntry]: ...

# Known keys first, in a reading order; any other key the controller adds follows, sorted.
_KNOWN = {
    "requested": ["depth_mm", "volume_ul", "flow_ul_s", "speed_mm_s", "dwell_s"],
    "commanded": ["depth_um", "volume_nl", "flow_nl_s", "speed_um_s", "dwell_ms", "fire_tick",
                  "profile"],
    "measured": ["reached_depth_mm", "delivered_ul", "start_tick", "end_tick",
                 "peak_pressure_kpa", "flags"],
}


def shot_keys(shots: Iterable[ShotRow]) -> dict[str, set[str]]:
    """group -> the keys any of these rows has in it (the CSV's columns)."""
    keys: dict[str, set[str]] = {g: set() for g in _KNOWN}
    for row in shots:
        for g in _KNOWN:
            keys[g].update(getattr(row, g) or {})
    return keys


def _columns(keys: Mapping[str, Collection[str]]) -> dict[str, list[str]]:
    out = {}
    for group, known_order in _KNOWN.items():
        present = set(keys.get(group, ()))
        known = [k for k in known_order if k in present]
        out[group] = known + sorted(present - set(known))
    return out


def chain_status(check: VerifyResult) -> dict[str, Any]:
    """How an export states the chain it came from."""
    return {"verified": check.ok, "head": check.head, "keyed": check.keyed,
            "problem": check.problem}


def _place_cells(places: Places | None, point: int) -> list[str]:
    place = (places or {}).get(point)
    if place is None:
        return ["", "", ""]
    return [_cell(place.x_mm), _cell(place.y_mm), place.zone or ""]


def write_csv(detail: SessionDetail, out: TextIO, check: VerifyResult,
              places: Places | None = None) -> None:
    shots = ((row, detail.shot_times.get(row.index, "")) for row in detail.shots)
    write_csv_rows(detail.summary.id, shot_keys(detail.shots), shots, out, check, places)


def write_csv_rows(session: int, keys: Mapping[str, Collection[str]],
                   shots: Iterable[tuple[ShotRow, str]], out: TextIO, check: Check,
                   places: Places | None = None) -> None:
    """The CSV of one session: `keys` (`shot_keys`, or the same read in SQL) make the header;
    each (latest row, its time) of `shots` is written as it comes; `check` is asked for last."""
    groups = _columns(keys)
    header = _BASE_COLUMNS + [f"{g}.{k}" for g, ks in groups.items() for k in ks]
    writer = csv.writer(out)  # \r\n terminator (RFC 4180): a \r or \n in a field gets quoted
    writer.writerow(header)
    for row, recorded_at in shots:
        line: list[str] = [str(session), str(row.index), str(row.point),
                           *_place_cells(places, row.point), row.state, row.reason,
                           str(row.boot_nonce), recorded_at, _cell(row.profile_id)]
        for g, ks in groups.items():
            values = getattr(row, g) or {}
            line += [_cell(values.get(k)) for k in ks]
        writer.writerow(line)
    check = _resolved(check)
    if check.ok:
        writer.writerow(["# chain head", check.head, "verified" + (" (keyed)" * check.keyed)])
    else:
        writer.writerow(["# chain head", "", f"NOT VERIFIED: {check.problem}"])


def _cell(value: Any) -> str:
    # repr(float) round-trips exactly; None is an empty cell.
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def _parse(cell: str) -> float | int | str | None:
    if cell == "":
        return None
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell


def read_csv(src: TextIO) -> list[ShotRow]:
    """Shot rows back from `write_csv` (types restored: ints, floats, strings, None)."""
    rows: list[ShotRow] = []
    for rec in csv.DictReader(src):
        if rec["session"].startswith("#"):  # the chain-head trailer
            continue
        groups: dict[str, dict[str, Any]] = {g: {} for g in _KNOWN}
        present: dict[str, bool] = {g: False for g in _KNOWN}
        for col, cell in rec.items():
            group, _, key = col.partition(".")
            if key and group in groups:
                value = _parse(cell)
                if value is not None or group == "commanded":  # commanded may hold a None
                    groups[group][key] = value
                present[group] = present[group] or value is not None
        rows.append(ShotRow(
            index=int(rec["index"]), point=int(rec["point"]), state=rec["state"],
            reason=rec["reason"], requested=groups["requested"], commanded=groups["commanded"],
            measured=groups["measured"] if present["measured"] else None,
            boot_nonce=int(rec["boot_nonce"]),
            profile_id=int(rec["profile_id"]) if rec.get("profile_id") else None,
        ))
    return rows


def _point(o: PointOutcome, places: Places | None) -> dict[str, Any]:
    """A point's entry: where it is and what happened there (`point_outcomes`)."""
    place = (places or {}).get(o.point)
    return {"point": o.point,
            "x_mm": place.x_mm if place else None,
            "y_mm": place.y_mm if place else None,
            "zone": place.zone if place else None,
            "outcome": o.outcome, "text": o.text, "planned_ul": o.planned_ul,
            "delivered_ul": o.delivered_ul, "shots": list(o.shots)}


def write_json(detail: SessionDetail, journal: list[JournalEntry], out: TextIO,
               check: VerifyResult, places: Places | None = None) -> None:
    shots = (shot_line(row, detail.shot_times.get(row.index)) for row in detail.shots)
    write_json_stream(detail, point_outcomes(detail), shots, journal, out, check, places)


def write_json_stream(s: SessionView, points: Iterable[PointOutcome],
                      shots: Iterable[str],
                      journal: Iterable[JournalEntry | RawJournalEntry], out: TextIO,
                      check: Check,
                      places: Places | None = None) -> None:
    """The JSON document of one session, written as `points`, `shots` (each entry's JSON text:
    `shot_line`, or the stored row's) and `journal` are read (its keys in the order `read_json`
    documents; one line per list entry); `check` is asked for last."""
    head = (("format", EXPORT_FORMAT), ("version", EXPORT_VERSION),
            ("session", dataclasses.asdict(s.summary)), ("operator", s.operator))
    body = (("product", s.product), ("device", s.device), ("calibration", s.calibration),
            ("end_summary", s.end_summary))
    out.write("{\n")
    out.writelines(f"  {_line(key)}: {_pretty(value)},\n" for key, value in head)
    out.write(f'  "plan_snapshot": {_line(s.plan_snapshot)},\n')
    out.writelines(f"  {_line(key)}: {_pretty(value)},\n" for key, value in body)
    _write_list(out, "points", (_point(o, places) for o in points))
    _write_list(out, "shots", shots, render=str)
    _write_list(out, "alarms", (dataclasses.asdict(a) for a in s.alarms))
    _write_list(out, "actions", (dataclasses.asdict(a) for a in s.actions))
    _write_list(out, "journal", (_journal_line(e) for e in journal), render=str)
    # last: the head of the whole chain at export time
    out.write(f'  "chain": {_pretty(chain_status(_resolved(check)))}\n}}\n')


# One encoder for every line: `json.dumps` with options builds a new one per call, which was a
# tenth of a long session's export.
_LINE = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def _resolved(check: Check) -> VerifyResult:
    return check if isinstance(check, VerifyResult) else check()


def _line(value: Any) -> str:
    """`value` as one line of JSON (the C encoder: fast)."""
    return _LINE.encode(value)


def shot_line(row: ShotRow, recorded_at: str | None) -> str:
    """A shot's entry in the JSON export: its row and when that row was recorded."""
    return _line({**row.to_body(), "recorded_at": recorded_at})


def _pretty(value: Any) -> str:
    """A small `value` indented as it stands one level into the document."""
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False).replace("\n", "\n  ")


def _string(value: Any) -> str:
    """`_line` of a stored text field, the short way when it is the text it should be."""
    return _quote(value) if type(value) is str else _line(value)


def _journal_line(e: JournalEntry | RawJournalEntry) -> str:
    """A journal row as one line; a raw row's body goes in as the JSON text it is stored as."""
    if isinstance(e, RawJournalEntry):
        q = _string
        return (f'{{"id": {e.id}, "ts": {q(e.ts)}, "session": {e.session}, '
                f'"kind": {q(e.kind)}, "body": {e.body_text}, '
                f'"prev_hash": {q(e.prev_hash)}, "hash": {q(e.hash)}}}')
    return _line({"id": e.id, "ts": e.ts, "session": e.session, "kind": e.kind,
                  "body": e.body, "prev_hash": e.prev_hash, "hash": e.hash})


def _write_list(out: TextIO, key: str, items: Iterable[Any],
                render: Callable[[Any], str] = _line) -> None:
    out.write(f"  {_line(key)}: [")
    first = True
    for item in items:
        out.write("\n    " if first else ",\n    ")
        out.write(render(item))
        first = False
    out.write("],\n" if first else "\n  ],\n")


def read_json(src: TextIO) -> dict[str, Any]:
    """The export document, with `shots` turned back into ShotRow values."""
    doc: dict[str, Any] = json.load(src)
    if doc.get("format") != EXPORT_FORMAT:
        raise ValueError("not a mesodrive records export")
    doc["shots"] = [ShotRow.from_body(s) for s in doc["shots"]]
    return doc
