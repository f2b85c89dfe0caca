"""Resume a session after a host crash: the records say what was sent; the device says what
happened; nothing is ever injected twice.

Every shot the records show as pending or accepted is settled from the device's own record
(same boot) — or, if the device rebooted since, counted as delivered and flagged UNCERTAIN.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mesodrive.controller.engine import shot_delivered
from mesodrive.driver.errors import DriverError
from mesodrive.driver.session import Injector
from mesodrive.driver.shots import ShotState
from mesodrive.protocol.messages import ShotFlag, ShotStatus
from mesodrive.records import RecordStore, ShotRow

SETTLED_BY_STATUS = {
    ShotStatus.DONE: ShotState.DONE,
    ShotStatus.REJECTED: ShotState.REJECTED,
    ShotStatus.CANCELLED: ShotState.CANCELLED,
    ShotStatus.UNKNOWN: ShotState.NOT_RECEIVED,
}


@dataclass
class ResumePoint:
    first_index: int
    delivered: dict[int, float] = field(default_factory=dict)
    uncertain: set[int] = field(default_factory=set)
    partial: set[int] = field(default_factory=set)
    skipped: dict[int, str] = field(default_factory=dict)
    settled: list[ShotRow] = field(default_factory=list)  # rows this resume settled


def settle_open_shots(store: RecordStore, session_id: int, inj: Injector,
                      planned_ul: dict[int, float]) -> ResumePoint:
    rows = store.latest_shots(session_id)
    out = ResumePoint(first_index=max(rows, default=-1) + 1)
    for index, row in sorted(rows.items()):
        if row.state in ("pending", "accepted"):
            row = _settle(store, session_id, inj, row)
            out.settled.append(row)
        state = ShotState(row.state) if row.state in ShotState._value2member_map_ else None
        m = row.measured or {}
        if state is not None and shot_delivered(
            state, round(float(m.get("reached_depth_mm", 0)) * 1000),
            round(float(m.get("delivered_ul", 0)) * 1000), int(m.get("flags", 0)),
        ):
            out.delivered[row.point] = float(m["delivered_ul"]) if m else planned_ul.get(row.point, 0.0)
            if state is ShotState.UNCERTAIN:
                out.uncertain.add(row.point)
            elif int(m.get("flags", 0)) & ShotFlag.ABORTED:
                out.partial.add(row.point)
    for action in store.session(session_id).actions:
        if action.action == "skip" and action.reason.startswith("point "):
            point_text, _, reason = action.reason[len("point "):].partition(":")
            out.skipped[int(point_text)] = reason.strip()
    return out


def _settle(store: RecordStore, session_id: int, inj: Injector, row: ShotRow) -> ShotRow:
    """Ask the device about one open shot; record and return the settled row."""
    state, reason, measured = ShotState.UNCERTAIN, "", row.measured
    if row.boot_nonce != inj.boot_nonce:
        reason = "resume: the device rebooted since it was sent"
    else:
        try:
            rec = inj.get_shot(session_id, row.index)
        except DriverError as exc:
            reason = f"resume: device unreachable: {exc}"
        else:
            status = ShotStatus(rec.status)
            deadline = time.monotonic() + 3.0
            # Still queued or running from the crashed run (the dead-man normally ends that
            # within 250 ms): wait for the device to finish it, never guess.
            while status in (ShotStatus.QUEUED, ShotStatus.EXECUTING) and time.monotonic() < deadline:
                time.sleep(0.05)
                rec = inj.get_shot(session_id, row.index)
                status = ShotStatus(rec.status)
            settled = SETTLED_BY_STATUS.get(status)
            if settled is None:
                reason = f"resume: device still reports {status.name}"
            else:
                state, reason = settled, f"resume: device record says {status.name}"
                if status is ShotStatus.DONE:
                    measured = {"reached_depth_mm": rec.reached_depth_um / 1000,
                                "delivered_ul": rec.delivered_nl / 1000, "start_tick": rec.start_tick,
                                "end_tick": 0, "peak_pressure_kpa": rec.peak_pressure_pa / 1000,
                                "flags": rec.flags}
    new = ShotRow(index=row.index, point=row.point, state=state.value, reason=reason,
                  requested=row.requested, commanded=row.commanded, measured=measured,
                  boot_nonce=row.boot_nonce)
    store.record_shot(session_id, new, sync=True)
    return new
