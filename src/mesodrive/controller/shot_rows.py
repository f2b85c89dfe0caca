"""Driver shot snapshots → record rows (public units; the records never import the driver)."""

from __future__ import annotations

from mesodrive.driver.shots import Shot
from mesodrive.driver.units import nl_to_ul, um_to_mm
from mesodrive.records import ShotRow


def shot_row(shot: Shot, point: int) -> ShotRow:
    req, cmd, r = shot.request, shot.commanded, shot.result
    measured = None
    if r is not None:
        measured = {
            "reached_depth_mm": um_to_mm(r.reached_depth_um),
            "delivered_ul": nl_to_ul(r.delivered_nl),
            "start_tick": r.start_tick,
            "end_tick": r.end_tick,
            "peak_pressure_kpa": r.peak_pressure_pa / 1000,
            "flags": r.flags,
        }
    return ShotRow(
        index=shot.index,
        point=point,
        state=shot.state.value,
        reason=shot.reason,
        requested={"depth_mm": req.depth_mm, "volume_ul": req.volume_ul, "flow_ul_s": req.flow_ul_s,
                   "speed_mm_s": req.speed_mm_s, "dwell_s": req.dwell_s},
        commanded={"depth_um": cmd.depth_um, "volume_nl": cmd.volume_nl, "flow_nl_s": cmd.flow_nl_s,
                   "speed_um_s": cmd.speed_um_s, "dwell_ms": cmd.dwell_ms, "fire_tick": cmd.fire_tick,
                   "profile": cmd.profile, "session": shot.session},
        measured=measured,
        boot_nonce=shot.boot_nonce,
    )
