"""An emergency stop when no treatment is running, on the record.

During a run the engine records its e-stop in the run's session. Outside a run (nothing
running, a run that has just ended, the device only connected) an e-stop is still an operator
action on a device and belongs in the records: the device is stopped first — nothing ever
waits for a record before it stops — then a small device session (mode "device", as a clear
has) holds who stopped it, from where, and whether the device confirmed it. Its `clear` is
recorded the same way (`treatment_device.clear_device`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mesodrive.controller.attribution import Actor, record_by
from mesodrive.driver.errors import DriverError
from mesodrive.driver.injector import Injector
from mesodrive.records import RecordStore


@dataclass(frozen=True)
class DeviceEstop:
    latency_s: float | None  # the call until the device confirmed (None: not confirmed)
    session: int | None  # the device session holding the record (None: not recorded)
    problem: str = ""  # why the device did not confirm ("" when it did)
    unrecorded: str = ""  # why it could not be recorded ("" when it was)


def estop_device(store: RecordStore, inj: Injector, by: Actor,
                 why: str = "emergency stop") -> DeviceEstop:
    """Stop the device now, then record it. A records failure never undoes or hides the stop:
    it is returned in `unrecorded`."""
    problem, latency = "", None
    try:
        latency = inj.estop()
    except DriverError as exc:
        problem = str(exc) or type(exc).__name__
    try:
        session = store.start_session(
            plan_snapshot={"device_action": "estop"}, plan_hash="", product={},
            device=inj.capabilities.as_record(), calibration={}, mode="device",
            operator=by.name)
        record_by(store, session, "estop", why, by)
        if problem:
            store.record_alarm(session, "estop-not-confirmed", problem, sync=True)
        store.end_session(session, "e-stopped" if not problem else "failed",
                          {"device_action": "estop", "confirmed": not problem,
                           "latency_s": latency, "reason": problem})
    except Exception as exc:  # noqa: BLE001 - the stop stands; the caller says it is unrecorded
        return DeviceEstop(latency, None, problem, f"{type(exc).__name__}: {exc}")
    return DeviceEstop(latency, session, problem)
