"""What the injector can do, in public units: the second set of absolute limits a plan must
respect (after the product's), and the mechanics the estimate needs."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceLimits:
    """Device capabilities in public units (mm, µL, µL/s, mm/s, s).

    The controller builds this from the device identity. Three mechanical figures are not part
    of the identity and only feed the estimate; their defaults are deliberately *conservative*
    (slower than the simulator) so that an unknown device's achievable cadence is not
    overstated:

    * ``needle_accel_mm_s2`` — needle axis acceleration (trapezoidal moves);
    * ``retract_speed_mm_s`` — retraction speed (the simulator retracts at its maximum speed);
    * ``approach_mm`` — how far the parked needle sits behind the skin plane: every insertion
      and retraction travels ``approach_mm + depth``.
    """

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
    timed: bool = True  # auto mode: shots fired at device-clock times
    triggered: bool = True  # one shot per pedal/button trigger
    needle_accel_mm_s2: float = 2000.0
    retract_speed_mm_s: float = 100.0
    approach_mm: float = 1.5

    @classmethod
    def default(cls) -> DeviceLimits:
        """The built-in simulator's capabilities and mechanics (simulator/mesosim/config.py),
        for offline `plan check`. A test keeps the two in step."""
        return cls(
            depth_min_mm=0.8,  # mechanical travel; the treatment range 1–4 mm is separate
            depth_max_mm=4.2,
            volume_min_ul=0.5,
            volume_max_ul=200.0,
            flow_min_ul_s=1.0,
            flow_max_ul_s=100.0,
            speed_min_mm_s=5.0,
            speed_max_mm_s=200.0,
            dwell_max_s=3.0,
            syringe_ul=10_000.0,
            timed=True,
            triggered=True,
            needle_accel_mm_s2=20_000.0,
            retract_speed_mm_s=200.0,
            approach_mm=1.5,
        )

    def problems(self) -> list[tuple[str, object, str]]:
        """(field, value, what it must be) for capabilities no device can have: a number that
        is not finite, a range whose minimum exceeds its maximum, a mechanical figure that
        would divide by zero. A device (or a damaged snapshot) reporting one is not usable."""
        out: list[tuple[str, object, str]] = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in ("timed", "triggered"):
                if not isinstance(v, bool):
                    out.append((f.name, v, "true or false"))
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                out.append((f.name, v, "a finite number"))
        if out:
            return out
        for lo, hi in (("depth_min_mm", "depth_max_mm"), ("volume_min_ul", "volume_max_ul"),
                       ("flow_min_ul_s", "flow_max_ul_s"), ("speed_min_mm_s", "speed_max_mm_s")):
            if getattr(self, lo) > getattr(self, hi):
                out.append((lo, getattr(self, lo), f"<= {hi} {getattr(self, hi)}"))
        for name in ("flow_min_ul_s", "speed_min_mm_s", "syringe_ul", "needle_accel_mm_s2",
                     "retract_speed_mm_s"):
            if getattr(self, name) <= 0:
                out.append((name, getattr(self, name), "> 0"))
        for name in ("depth_min_mm", "volume_min_ul", "dwell_max_s", "approach_mm"):
            if getattr(self, name) < 0:
                out.append((name, getattr(self, name), ">= 0"))
        return out
