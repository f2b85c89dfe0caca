"""Shared builders for the records tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mesodrive.records import RecordStore, ShotRow

PLAN: dict[str, Any] = {"patient_ref": "PT-0042", "points": [{"x": 0, "y": 0}] * 4}
PRODUCT: dict[str, Any] = {"id": "hair-cocktail-a", "limits": {"depth_mm": [1.0, 4.0]}}
DEVICE: dict[str, Any] = {"serial": "SIM-0001", "firmware": "1.0.0"}
CALIBRATION: dict[str, Any] = {"profile": "default", "volume_gain": 1.0}


def start(store: RecordStore, **overrides: Any) -> int:
    kwargs: dict[str, Any] = {"plan_snapshot": PLAN, "plan_hash": "f" * 64, "product": PRODUCT,
                              "device": DEVICE, "calibration": CALIBRATION, "mode": "auto",
                              "operator": "dr-a"}
    kwargs.update(overrides)
    return store.start_session(**kwargs)


def shot(index: int, state: str = "pending", *, point: int | None = None,
         delivered: float | None = None, volume: float = 20.0) -> ShotRow:
    measured: dict[str, float | int] | None = None
    if state == "done":
        measured = {"reached_depth_mm": 2.49, "delivered_ul": volume if delivered is None
                    else delivered, "start_tick": 1000 * index, "end_tick": 1000 * index + 400,
                    "peak_pressure_kpa": 31.5, "flags": 0}
    return ShotRow(
        index=index, point=index if point is None else point, state=state, reason="",
        requested={"depth_mm": 2.5, "volume_ul": volume, "flow_ul_s": 10.0, "speed_mm_s": 20.0,
                   "dwell_s": 0.05},
        commanded={"depth_um": 2500, "volume_nl": int(volume * 1000), "flow_nl_s": 10_000,
                   "speed_um_s": 20_000, "dwell_ms": 50, "fire_tick": 5000 + index,
                   "profile": "default"},
        measured=measured, boot_nonce=0xABCD,
    )


def filled_db(path: Path, shots: int = 10) -> tuple[int, int]:
    """A closed database with one completed session; returns (session id, journal rows)."""
    with RecordStore(path) as store:
        sid = start(store)
        for i in range(shots):
            store.record_shot(sid, shot(i), sync=True)
            store.record_shot(sid, shot(i, "accepted"))
            store.record_shot(sid, shot(i, "done"))
        store.record_alarm(sid, "OCCLUSION", "pressure 250 kPa for 300 ms")
        store.record_action(sid, "skip", "occluded point", operator="dr-a")
        store.end_session(sid, "completed", {"points_planned": shots})
    return sid, 3 * shots + 4
