"""A device that is stopped and latched (emergency stop, or a fault) and clearing it, on the record.

Nothing may start on a latched device, and the run engine refuses one; so a front end asks
`latched_stop` before the screening and before any records session exists, and the operator
clears it with a reason (`clear_device`).

Where a clear is recorded: in a small session of its own (mode "device"), not as an action of
the session that was e-stopped. The stop may have come from the device's own button, from
another host, or from a session in another records database (two clinics may share one device);
the database at hand may hold no session of that stop at all, and an ended session must not
grow rows. A device session always exists, carries the device's identity (serial, firmware,
boot) like every session, sits in time order between the treatments in `records list`, and
its reason and operator are chained like every other row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mesodrive.driver.errors import DriverError
from mesodrive.driver.injector import Injector
from mesodrive.driver.vocabulary import DeviceState, Fault
from mesodrive.records import RecordStore


@dataclass(frozen=True)
class DeviceStop:
    serial: str
    state: DeviceState  # ESTOPPED or FAULT
    faults: tuple[str, ...]  # the active fault bits, by name

    def describe(self) -> str:
        if self.state is DeviceState.ESTOPPED:
            return "emergency-stopped (latched)"
        named = ", ".join(self.faults) or "unknown"
        return f"in a latched fault ({named})"

    def as_record(self) -> dict[str, Any]:
        return {"serial": self.serial, "state": self.state.name, "faults": list(self.faults)}


def latched_stop(inj: Injector) -> DeviceStop | None:
    """The device's latched e-stop or fault (asked now), or None."""
    status = inj.status()
    state = DeviceState(status.state)
    if state not in (DeviceState.ESTOPPED, DeviceState.FAULT):
        return None
    faults = tuple(f.name for f in Fault if f is not Fault.NONE and status.faults & (1 << (f - 1)))
    return DeviceStop(inj.capabilities.serial, state, faults)


@dataclass(frozen=True)
class ClearResult:
    session: int  # the device session holding the record
    cleared: bool
    before: DeviceStop
    problem: str  # why not cleared ("" when cleared)


def clear_device(store: RecordStore, inj: Injector, reason: str,
                 operator: str | None) -> ClearResult | None:
    """Record the clear (before it takes effect, Part 11), send it, record what came of it.
    None when nothing is latched."""
    stop = latched_stop(inj)
    if stop is None:
        return None
    session = store.start_session(
        plan_snapshot={"device_action": "clear", "before": stop.as_record()}, plan_hash="",
        product={}, device=inj.capabilities.as_record(), calibration={}, mode="device",
        operator=operator,
    )
    action = "clear-estop" if stop.state is DeviceState.ESTOPPED else "clear-fault"
    store.record_action(session, action, f"{stop.describe()}: {reason}", operator=operator)
    problem = ""
    try:
        inj.clear_fault()
        inj.wait_state(DeviceState.IDLE, timeout=5)
    except DriverError as exc:  # the cause is still there (a fault that persists), or the link
        problem = str(exc) or type(exc).__name__
        store.record_alarm(session, "clear-failed", problem, sync=True)
    cleared = not problem
    store.end_session(session, "completed" if cleared else "failed",
                      {"device_action": "clear", "cleared": cleared, "before": stop.as_record(),
                       "reason": problem})
    return ClearResult(session, cleared, stop, problem)
