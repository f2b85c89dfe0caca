"""The back end's standard form: frozen, fully expanded points and recorded overrides."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlannedPoint:
    point: int  # 1-based number in treatment order (what `plan show` labels and records keep)
    x_mm: float
    y_mm: float
    zone: str | None  # the zone whose overrides apply, if any
    depth_mm: float
    volume_ul: float
    flow_ul_s: float
    speed_mm_s: float
    dwell_s: float


@dataclass(frozen=True)
class SoftOverride:
    """A soft-limit breach the practitioner acknowledged, with the limit it breaches."""

    field: str  # depth_mm | volume_ul | flow_ul_s | speed_mm_s | session_volume_ul
    point: int | None  # None: every point with this value (or the session total)
    value: float
    limit: str  # e.g. "soft_max 60 µL (hard_max 100 µL)"
    reason: str

    def covers(self, field: str, point: int | None, value: float) -> bool:
        return (
            self.field == field
            and (self.point is None or self.point == point)
            and same_value(self.value, value)
        )


def same_value(a: float, b: float) -> bool:
    """Equal as planned numbers: well below the wire resolution (1 nL, 1 µm)."""
    return abs(a - b) <= 1e-6 + 1e-9 * max(abs(a), abs(b))
