"""Resume a session after a host crash: the records say what was sent; the device says what
happened; nothing is ever injected twice.

Every shot the records show as pending or accepted is settled by the driver's shot ledger rules
(`Injector.settle_recorded`, the same rules the live driver uses): from the device's record of
the boot it was sent in — its live record, or its non-volatile journal after a reboot — and
UNCERTAIN (counted as delivered) whenever the device cannot prove what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mesodrive.controller.delivery import Delivery, delivery
from mesodrive.driver.injector import Injector
from mesodrive.driver.shots import ShotOutcome, ShotState
from mesodrive.records import RecordStore, ShotRow


@dataclass
class ResumePoint:
    first_index: int
    delivered: dict[int, float] = field(default_factory=dict)  # cut-short points too (with
    # the µL they got, and in `partial`): what RunEngine(delivered=, partial=) expects
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
        verdict = delivery(state, _outcome(m) if m else None) if state is not None else None
        if verdict is not None and verdict.final_for_point:  # the engine's one rule
            # A cut-short point is listed with the µL it got and in `partial`: the engine
            # books it as cut short (never re-injected, not delivered).
            out.delivered[row.point] = float(m["delivered_ul"]) if m else planned_ul.get(row.point, 0.0)
            if verdict is Delivery.UNCERTAIN:
                out.uncertain.add(row.point)
            elif verdict is Delivery.CUT_SHORT:
                out.partial.add(row.point)
    for action in store.session(session_id).actions:
        if action.action == "skip" and action.reason.startswith("point "):
            point_text, _, reason = action.reason[len("point "):].partition(":")
            out.skipped[int(point_text)] = reason.strip()
    return out


def _settle(store: RecordStore, session_id: int, inj: Injector, row: ShotRow) -> ShotRow:
    """Ask the device about one open shot; record and return the settled row."""
    device_session = int(row.commanded.get("session") or session_id)  # older rows: the records id
    state, reason, outcome = inj.settle_recorded(row.boot_nonce, device_session, row.index,
                                                 seen_accepted=row.state == "accepted")
    measured = row.measured
    if state is None:  # still queued or executing on the device after the wait: never guess
        state, reason = ShotState.UNCERTAIN, f"{reason} (still, after waiting)"
    if outcome is not None:
        measured = {"reached_depth_mm": outcome.reached_depth_mm,
                    "delivered_ul": outcome.delivered_ul, "start_tick": outcome.start_tick,
                    "end_tick": outcome.end_tick, "peak_pressure_kpa": outcome.peak_pressure_kpa,
                    "flags": outcome.flags}
    new = ShotRow(index=row.index, point=row.point, state=state.value, reason=f"resume: {reason}",
                  requested=row.requested, commanded=row.commanded, measured=measured,
                  boot_nonce=row.boot_nonce, profile_id=row.profile_id)
    store.record_shot(session_id, new, sync=True)
    return new


def _outcome(measured: dict[str, float | int]) -> ShotOutcome:
    """A recorded measurement back as the driver's outcome (same public units)."""
    return ShotOutcome(reached_depth_mm=float(measured.get("reached_depth_mm", 0)),
                       delivered_ul=float(measured.get("delivered_ul", 0)), start_at=0.0,
                       end_at=None, peak_pressure_kpa=float(measured.get("peak_pressure_kpa", 0)),
                       flags=int(measured.get("flags", 0)),
                       start_tick=int(measured.get("start_tick", 0)),
                       end_tick=int(measured.get("end_tick", 0)))
