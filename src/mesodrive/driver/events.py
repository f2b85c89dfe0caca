"""What the driver tells its observers (delivered on the event thread, never on the I/O thread)."""

from __future__ import annotations

from dataclasses import dataclass

from mesodrive.driver.shots import Shot
from mesodrive.protocol.messages import DeviceState, Telemetry


@dataclass(frozen=True)
class StateChanged:
    state: DeviceState
    faults: int


@dataclass(frozen=True)
class FaultRaised:
    """A device fault. `text` says its detail in public units; `shot_index` is the shot it
    struck when the fault's detail names one (made by `wire.fault_raised`)."""

    code: int
    tick: int
    detail: int  # the device's raw integer (PROTOCOL.md §12.3)
    text: str = ""
    shot_index: int | None = None


@dataclass(frozen=True)
class TriggerPressed:
    tick: int


@dataclass(frozen=True)
class TelemetrySample:
    sample: Telemetry


@dataclass(frozen=True)
class ShotUpdated:
    shot: Shot


@dataclass(frozen=True)
class LinkLost:
    reason: str


@dataclass(frozen=True)
class Rebooted:
    old_nonce: int
    new_nonce: int
    how: str  # what revealed it: boot_event, identity, status_reply, clock jump, ...


Event = StateChanged | FaultRaised | TriggerPressed | TelemetrySample | ShotUpdated | LinkLost | Rebooted
