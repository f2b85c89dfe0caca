"""Requested → commanded values through a calibration profile (the driver's calibration hook).

The device has systematic errors: true depth = scale · commanded + offset, true volume =
gain · commanded + offset. A calibration measures them; to get what the practitioner asked
for, the driver commands the inverse. The identity profile (no correction) is the default
until a technician has calibrated the device.

`profile_id` names a profile stored in the records (its journal row id; None: not stored, e.g.
the identity or a profile file): the driver carries it onto every shot it commands (`Commanded`),
so each shot's record says which calibration it was given with.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CalibrationProfile:
    name: str = "identity"
    depth_scale: float = 1.0
    depth_offset_mm: float = 0.0
    volume_gain: float = 1.0
    volume_offset_ul: float = 0.0
    profile_id: int | None = None

    def __post_init__(self) -> None:
        # A profile that would invert a near-zero slope is broken calibration, never usable.
        for field, value in (("depth_scale", self.depth_scale), ("volume_gain", self.volume_gain)):
            if not 0.5 <= value <= 2.0:
                raise ValueError(f"calibration profile {self.name!r}: {field} = {value} is outside [0.5, 2.0]")
        if abs(self.depth_offset_mm) > 1.0:
            raise ValueError(f"calibration profile {self.name!r}: depth_offset_mm = {self.depth_offset_mm} exceeds ±1 mm")
        if abs(self.volume_offset_ul) > 5.0:
            raise ValueError(f"calibration profile {self.name!r}: volume_offset_ul = {self.volume_offset_ul} exceeds ±5 µL")

    def commanded_depth_mm(self, requested_mm: float) -> float:
        return (requested_mm - self.depth_offset_mm) / self.depth_scale

    def commanded_volume_ul(self, requested_ul: float) -> float:
        return (requested_ul - self.volume_offset_ul) / self.volume_gain


IDENTITY = CalibrationProfile()
