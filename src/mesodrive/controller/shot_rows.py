"""Driver shot snapshots → record rows (public units; the records never import the driver)."""

from __future__ import annotations

from mesodrive.driver.shots import Shot
from mesodrive.records import ShotRow


def shot_row(shot: Shot, point: int) -> ShotRow:
    req, cmd, r = shot.request, shot.commanded, shot.outcome
    measured = None
    if r is not None:
        measured = {
            "reached_depth_mm": r.reached_depth_mm,
            "delivered_ul": r.delivered_ul,
            "start_tick": r.start_tick,
            "end_tick": r.end_tick,
            "peak_pressure_kpa": r.peak_pressure_kpa,
            "flags": r.flags,
        }
    return ShotRow(
        index=shot.index,
        point=point,
        state=shot.state.value,
        reason=shot.reason,
        requested={"depth_mm": req.depth_mm, "volume_ul": req.volume_ul, "flow_ul_s": req.flow_ul_s,
                   "speed_mm_s": req.speed_mm_s, "dwell_s": req.dwell_s},
        commanded=dict(cmd.wire),  # exactly what went on the wire
        measured=measured,
        boot_nonce=shot.boot_nonce,
        profile_id=cmd.profile_id,
    )
