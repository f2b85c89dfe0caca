"""How long a plan takes, from the same motion and flow physics the device runs.

One shot (PROTOCOL.md §12.3): insertion from the park position to depth at the shot's speed
(trapezoidal profile with the device's acceleration), dispensing at the shot's flow, dwell,
retraction at the retract speed. Both moves travel ``approach_mm + depth``.

* auto mode: shots fire at a fixed cadence; a shot must be over before the next one's fire
  time (a late shot is a device fault), so the slowest shot plus ``SHOT_GAP_S`` bounds the
  achievable cadence;
* triggered mode: the practitioner sets the pace; we assume ``REPOSITION_S`` per point.

Refills add ``REFILL_S`` each. ``REPOSITION_S``, ``REFILL_S`` and ``SHOT_GAP_S`` are our
assumptions, not measurements.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mesodrive.plan.device import DeviceLimits
from mesodrive.plan.points import PlannedPoint

SHOT_GAP_S = 0.05  # slack between one shot's end and the next fire time (model error, contact)
REPOSITION_S = 0.5  # triggered: move the handpiece ~1 cm and press the pedal
REFILL_S = 60.0  # swap or refill the syringe and re-prime the line


@dataclass(frozen=True)
class Estimate:
    per_shot_s: float  # the slowest shot (it bounds the cadence)
    achievable_cadence_hz: float  # the highest auto cadence the device can keep up with
    cadence_hz: float | None  # the plan's cadence (auto mode), else None
    duration_s: float  # whole session, refills included
    total_volume_ul: float
    refills: int  # syringe refills during the session (the first fill not counted)


def move_time(distance_mm: float, vmax_mm_s: float, accel_mm_s2: float) -> float:
    """Rest-to-rest move: ``d/v + v/a`` (trapezoid) or ``2·sqrt(d/a)`` (too short to reach v)."""
    d = abs(distance_mm)
    if d == 0:
        return 0.0
    if d >= vmax_mm_s * vmax_mm_s / accel_mm_s2:
        return d / vmax_mm_s + vmax_mm_s / accel_mm_s2
    return 2.0 * math.sqrt(d / accel_mm_s2)


def shot_time(point: PlannedPoint, device: DeviceLimits) -> float:
    travel = device.approach_mm + point.depth_mm
    return (
        move_time(travel, point.speed_mm_s, device.needle_accel_mm_s2)
        + point.volume_ul / point.flow_ul_s
        + point.dwell_s
        + move_time(travel, device.retract_speed_mm_s, device.needle_accel_mm_s2)
    )


def plan_refills(points: Sequence[PlannedPoint], refill_ul: float) -> tuple[int, ...]:
    """Point numbers before which the syringe must be refilled: greedy, a full fill of
    ``refill_ul`` at the start and after each refill; a point is never split across fills."""
    before: list[int] = []
    remaining = refill_ul
    for k, p in enumerate(points):
        if p.volume_ul > remaining + 1e-9 and k > 0:
            before.append(p.point)
            remaining = refill_ul
        remaining -= p.volume_ul
    return tuple(before)


def estimate(
    points: Sequence[PlannedPoint],
    device: DeviceLimits,
    mode: str,
    cadence_hz: float | None,
    *,
    refill_ul: float | None = None,
) -> Estimate:
    """Estimate a session. Points must have positive flow and speed (validate first)."""
    points = tuple(points)
    total = sum((p.volume_ul for p in points), 0.0)  # absurd ones sum to inf: validation refuses them
    refills = len(plan_refills(points, refill_ul or device.syringe_ul))
    if not points:
        return Estimate(0.0, 0.0, cadence_hz if mode == "auto" else None, 0.0, 0.0, 0)
    shots = [shot_time(p, device) for p in points]
    slowest = max(shots)
    achievable = 1.0 / (slowest + SHOT_GAP_S)
    if mode == "auto":
        rate = cadence_hz if cadence_hz else achievable
        # An absurd shot (inf s: validation refuses it) leaves no achievable cadence: inf, not 1/0.
        period = 1.0 / rate if rate > 0 else math.inf
        duration = (len(points) - 1) * period + shots[-1] if len(points) > 1 else shots[-1]
    else:
        cadence_hz = None
        duration = sum(shots) + (len(points) - 1) * REPOSITION_S
    return Estimate(
        per_shot_s=slowest,
        achievable_cadence_hz=achievable,
        cadence_hz=cadence_hz,
        duration_s=duration + refills * REFILL_S,
        total_volume_ul=total,
        refills=refills,
    )
