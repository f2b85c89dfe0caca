"""The device's self-reported capabilities, in the plan's public units."""

from __future__ import annotations

from mesodrive.driver.units import ms_to_s, nl_to_ul, um_to_mm
from mesodrive.plan import DeviceLimits
from mesodrive.protocol.messages import Identity, Mode


def device_limits(ident: Identity) -> DeviceLimits:
    return DeviceLimits(
        depth_min_mm=um_to_mm(ident.depth_min_um),
        depth_max_mm=um_to_mm(ident.depth_max_um),
        volume_min_ul=nl_to_ul(ident.volume_min_nl),
        volume_max_ul=nl_to_ul(ident.volume_max_nl),
        flow_min_ul_s=nl_to_ul(ident.flow_min_nl_s),
        flow_max_ul_s=nl_to_ul(ident.flow_max_nl_s),
        speed_min_mm_s=um_to_mm(ident.speed_min_um_s),
        speed_max_mm_s=um_to_mm(ident.speed_max_um_s),
        dwell_max_s=ms_to_s(ident.dwell_max_ms),
        syringe_ul=nl_to_ul(ident.syringe_nl),
        timed=bool(ident.modes & Mode.TIMED),
        triggered=bool(ident.modes & Mode.TRIGGERED),
        # The device's own mechanics, so the estimate (and the cadence check) are its own.
        needle_accel_mm_s2=um_to_mm(ident.accel_um_s2),
        retract_speed_mm_s=um_to_mm(ident.retract_um_s),
        approach_mm=um_to_mm(ident.park_um),
    )
