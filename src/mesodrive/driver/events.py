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
    code: int
    tick: int
    detail: int


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
