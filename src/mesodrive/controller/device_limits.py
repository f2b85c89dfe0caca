"""The device's self-reported capabilities, in the plan's public units."""

from __future__ import annotations

from mesodrive.driver.capabilities import DeviceCapabilities
from mesodrive.plan import DeviceLimits


def device_limits(caps: DeviceCapabilities) -> DeviceLimits:
    """The plan's view of the device (same units: the driver already converted)."""
    return DeviceLimits(
        depth_min_mm=caps.depth_min_mm, depth_max_mm=caps.depth_max_mm,
        volume_min_ul=caps.volume_min_ul, volume_max_ul=caps.volume_max_ul,
        flow_min_ul_s=caps.flow_min_ul_s, flow_max_ul_s=caps.flow_max_ul_s,
        speed_min_mm_s=caps.speed_min_mm_s, speed_max_mm_s=caps.speed_max_mm_s,
        dwell_max_s=caps.dwell_max_s, syringe_ul=caps.syringe_ul,
        timed=caps.timed, triggered=caps.triggered,
        # The device's own mechanics, so the estimate (and the cadence check) are its own.
        needle_accel_mm_s2=caps.needle_accel_mm_s2,
        retract_speed_mm_s=caps.retract_speed_mm_s,
        approach_mm=caps.approach_mm,
    )
