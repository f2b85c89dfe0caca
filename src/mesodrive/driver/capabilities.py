"""What a connected device can do and how it is now, in public units (converted by `wire.py`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mesodrive.driver.vocabulary import DeviceState


@dataclass(frozen=True)
class DeviceCapabilities:
    serial: str
    firmware: str
    boot_nonce: int
    schema_hash: int
    protocol_version: int
    depth_min_mm: float
    depth_max_mm: float
    volume_min_ul: float
    volume_max_ul: float
    flow_min_ul_s: float
    flow_max_ul_s: float
    speed_min_mm_s: float
    speed_max_mm_s: float
    dwell_max_s: float
    syringe_ul: float
    timed: bool
    triggered: bool
    sensors: int
    queue_len: int
    horizon_s: float
    needle_accel_mm_s2: float
    retract_speed_mm_s: float
    approach_mm: float

    @property
    def simulated(self) -> bool:
        return self.serial.startswith("SIM")

    def as_record(self) -> dict[str, Any]:
        """For the records: every field, the schema hash as the hex the protocol prints."""
        out = asdict(self)
        out["schema_hash"] = f"{self.schema_hash:#018x}"
        return out


@dataclass(frozen=True)
class DeviceStatus:
    """The device's answer to a status query, in public units."""

    state: DeviceState
    faults: int  # Fault bits
    homed: bool
    needle_mm: float  # protrusion past the skin plane; <= 0 is retracted
    plunger_ul: float  # plunger travel since the syringe was loaded
    remaining_ul: float
    pressure_kpa: float
    contact: bool
    session: int  # armed device session, 0 when none
    queued: int
    boot_nonce: int
