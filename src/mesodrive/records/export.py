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
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from mesodrive.records.models import JournalEntry, SessionDetail, ShotRow, VerifyResult
from mesodrive.records.outcomes import point_outcomes

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
# Known keys first, in a reading order; any other key the controller adds follows, sorted.
_KNOWN = {
    "requested": ["depth_mm", "volume_ul", "flow_ul_s", "speed_mm_s", "dwell_s"],
    "commanded": ["depth_um", "volume_nl", "flow_nl_s", "speed_um_s", "dwell_ms", "fire_tick",
                  "profile"],
    "measured": ["reached_depth_mm", "delivered_ul", "start_tick", "end_tick",
                 "peak_pressure_kpa", "flags"],
}


def _columns(group: str, shots: list[ShotRow]) -> list[str]:
    keys: set[str] = set()
    for row in shots:
        keys.update(getattr(row, group) or {})
    known = [k for k in _KNOWN[group] if k in keys]
    return known + sorted(keys - set(known))


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
    groups = {g: _columns(g, detail.shots) for g in _KNOWN}
    header = _BASE_COLUMNS + [f"{g}.{k}" for g, keys in groups.items() for k in keys]
    writer = csv.writer(out)  # \r\n terminator (RFC 4180): a \r or \n in a field gets quoted
    writer.writerow(header)
    for row in detail.shots:
        line: list[str] = [str(detail.summary.id), str(row.index), str(row.point),
                           *_place_cells(places, row.point), row.state, row.reason,
                           str(row.boot_nonce), detail.shot_times.get(row.index, ""),
                           _cell(row.profile_id)]
        for g, keys in groups.items():
            values = getattr(row, g) or {}
            line += [_cell(values.get(k)) for k in keys]
        writer.writerow(line)
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


def _points(detail: SessionDetail, places: Places | None) -> list[dict[str, Any]]:
    """One entry per point: where it is and what happened there (`point_outcomes`)."""
    out = []
    for o in point_outcomes(detail):
        place = (places or {}).get(o.point)
        out.append({"point": o.point,
                    "x_mm": place.x_mm if place else None,
                    "y_mm": place.y_mm if place else None,
                    "zone": place.zone if place else None,
                    "outcome": o.outcome, "text": o.text, "planned_ul": o.planned_ul,
                    "delivered_ul": o.delivered_ul, "shots": list(o.shots)})
    return out


def write_json(detail: SessionDetail, journal: list[JournalEntry], out: TextIO,
               check: VerifyResult, places: Places | None = None) -> None:
    doc = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "session": dataclasses.asdict(detail.summary),
        "operator": detail.operator,
        "plan_snapshot": detail.plan_snapshot,
        "product": detail.product,
        "device": detail.device,
        "calibration": detail.calibration,
        "end_summary": detail.end_summary,
        "points": _points(detail, places),
        "shots": [{**row.to_body(), "recorded_at": detail.shot_times.get(row.index)}
                  for row in detail.shots],
        "alarms": [dataclasses.asdict(a) for a in detail.alarms],
        "actions": [dataclasses.asdict(a) for a in detail.actions],
        "journal": [dataclasses.asdict(e) for e in journal],
        "chain": chain_status(check),  # last: the head of the whole chain at export time
    }
    json.dump(doc, out, indent=2, ensure_ascii=False, allow_nan=False)
    out.write("\n")


def read_json(src: TextIO) -> dict[str, Any]:
    """The export document, with `shots` turned back into ShotRow values."""
    doc: dict[str, Any] = json.load(src)
    if doc.get("format") != EXPORT_FORMAT:
        raise ValueError("not a mesodrive records export")
    doc["shots"] = [ShotRow.from_body(s) for s in doc["shots"]]
    return doc
