"""The one unit boundary (Klipper's print-time idea): public units above, wire integers below.

Requests come down in mm, µL, µL/s, mm/s and device-clock **seconds**; the wire carries µm,
nL, nL/s, µm/s, ms and device ticks. Results, capabilities and records of what was commanded go
back up in public units, as the driver's own types (`shots.ShotOutcome`,
`capabilities.DeviceCapabilities`). Nothing else in mesodrive converts, and nothing above the
driver sees a wire message.
"""

from __future__ import annotations

from typing import Any

from mesodrive.driver.events import FaultRaised
from mesodrive.protocol.messages import (
    TICK_HZ,
    DeviceState,
    Fault,
    Identity,
    Mode,
    QueueShot,
    ShotRecord,
    ShotResult,
    StatusReply,
    TriggerMode,
)


def mm_to_um(mm: float) -> int:
    return round(mm * 1000)


def um_to_mm(um: float) -> float:
    return um / 1000


def ul_to_nl(ul: float) -> int:
    return round(ul * 1000)


def nl_to_ul(nl: float) -> float:
    return nl / 1000


def s_to_ms(s: float) -> int:
    return round(s * 1000)


def ms_to_s(ms: float) -> float:
    return ms / 1000


def s_to_ticks(seconds: float, tick_hz: int) -> int:
    return round(seconds * tick_hz)


def ticks_to_s(ticks: int, tick_hz: int) -> float:
    return ticks / tick_hz


# ----- shots ---------------------------------------------------------------------------------------
def queue_shot(c: Any, *, boot: int, session: int, index: int, tick_hz: int) -> QueueShot:
    """The wire message for a `shots.Commanded` (public units, after the calibration profile)."""
    return QueueShot(
        boot_nonce=boot, session=session, index=index,
        trigger=TriggerMode.ON_TRIGGER if c.fire_at is None else TriggerMode.AT_TICK,
        fire_tick=0 if c.fire_at is None else s_to_ticks(c.fire_at, tick_hz),
        depth_um=mm_to_um(c.depth_mm), volume_nl=ul_to_nl(c.volume_ul),
        flow_nl_s=ul_to_nl(c.flow_ul_s), speed_um_s=mm_to_um(c.speed_mm_s),
        dwell_ms=s_to_ms(c.dwell_s),
    )


def commanded_record(msg: QueueShot, profile: str) -> dict[str, float | int | str | None]:
    """Exactly what went on the wire, for the records (wire integers, named with their units)."""
    return {"depth_um": msg.depth_um, "volume_nl": msg.volume_nl, "flow_nl_s": msg.flow_nl_s,
            "speed_um_s": msg.speed_um_s, "dwell_ms": msg.dwell_ms,
            "fire_tick": msg.fire_tick if msg.trigger == TriggerMode.AT_TICK else None,
            "profile": profile, "session": msg.session}


def outcome(r: ShotResult | ShotRecord, tick_hz: int) -> dict[str, Any]:
    """A device result in public units (the fields of `shots.ShotOutcome`)."""
    end = getattr(r, "end_tick", 0)
    return {"reached_depth_mm": um_to_mm(r.reached_depth_um), "delivered_ul": nl_to_ul(r.delivered_nl),
            "start_at": ticks_to_s(r.start_tick, tick_hz),
            "end_at": ticks_to_s(end, tick_hz) if end else None,
            "peak_pressure_kpa": r.peak_pressure_pa / 1000, "flags": r.flags,
            "start_tick": r.start_tick, "end_tick": end}


def capabilities(ident: Identity) -> dict[str, Any]:
    """What the device says it can do, in public units (`capabilities.DeviceCapabilities`)."""
    return {
        "serial": ident.serial, "firmware": ident.firmware, "boot_nonce": ident.boot_nonce,
        "schema_hash": ident.schema_hash, "protocol_version": ident.protocol_version,
        "depth_min_mm": um_to_mm(ident.depth_min_um), "depth_max_mm": um_to_mm(ident.depth_max_um),
        "volume_min_ul": nl_to_ul(ident.volume_min_nl), "volume_max_ul": nl_to_ul(ident.volume_max_nl),
        "flow_min_ul_s": nl_to_ul(ident.flow_min_nl_s), "flow_max_ul_s": nl_to_ul(ident.flow_max_nl_s),
        "speed_min_mm_s": um_to_mm(ident.speed_min_um_s), "speed_max_mm_s": um_to_mm(ident.speed_max_um_s),
        "dwell_max_s": ms_to_s(ident.dwell_max_ms), "syringe_ul": nl_to_ul(ident.syringe_nl),
        "timed": bool(ident.modes & Mode.TIMED), "triggered": bool(ident.modes & Mode.TRIGGERED),
        "sensors": ident.sensors, "queue_len": ident.queue_len, "horizon_s": ms_to_s(ident.horizon_ms),
        "needle_accel_mm_s2": um_to_mm(ident.accel_um_s2),
        "retract_speed_mm_s": um_to_mm(ident.retract_um_s), "approach_mm": um_to_mm(ident.park_um),
    }


def status(r: StatusReply) -> dict[str, Any]:
    """A status reply in public units (`capabilities.DeviceStatus`)."""
    return {"state": DeviceState(r.state), "faults": r.faults, "homed": bool(r.homed),
            "needle_mm": um_to_mm(r.needle_um), "plunger_ul": nl_to_ul(r.plunger_nl),
            "remaining_ul": nl_to_ul(r.remaining_nl), "pressure_kpa": r.pressure_pa / 1000,
            "contact": bool(r.contact), "session": r.session, "queued": r.queued,
            "boot_nonce": r.boot_nonce}


# Faults whose detail is the index of the shot they struck (PROTOCOL.md §12.3).
SHOT_INDEX_FAULTS = frozenset({Fault.CONTACT_LOST, Fault.AIR, Fault.EMPTY_SYRINGE, Fault.STALL})


def fault_raised(code: int, tick: int, detail: int, tick_hz: int = TICK_HZ) -> FaultRaised:
    """A device fault with its detail in public units, per fault kind: pressure Pa → kPa,
    silence ms, lateness ticks → ms; a shot index is passed on as such (named as a point above)."""
    try:
        fault: Fault | None = Fault(code)
    except ValueError:
        fault = None
    text, shot = f"detail {detail}", None
    if fault in (Fault.OCCLUSION, Fault.OVERPRESSURE):
        text = f"line pressure {detail / 1000:.1f} kPa"
    elif fault is Fault.LINK_LOST:
        text = f"no frame from the host for {detail} ms"
    elif fault is Fault.LATE_SHOT:
        text = f"the shot was {ticks_to_s(detail, tick_hz) * 1000:.1f} ms late"
    elif fault in SHOT_INDEX_FAULTS:
        text, shot = "", detail
    elif fault is Fault.ESTOP:
        text = ""
    return FaultRaised(code, tick, detail, text, shot)
