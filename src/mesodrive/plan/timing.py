"""Validation stage 5: the mode, the syringe fills and the clock — is the session runnable?

* the device must support the mode; auto mode needs a cadence, triggered mode must not have one;
* a refill volume must fit the syringe and hold the largest point;
* an auto cadence must be achievable (a shot must end before the next one's fire time);
* the whole session must fit in `MAX_SESSION_S`.

`MAX_SESSION_S` is our figure: a mesotherapy session takes minutes (1,000–2,000 punctures for
an automated gun, DOMAIN.md, at ~1/s is under 35 min). Two hours is generous; an estimate
beyond it is a mistake — a cadence in shots per hour typed as Hz, or a flow in µL/min — and
running it would keep a patient under an armed needle for hours.
"""

from __future__ import annotations

from collections.abc import Sequence

from mesodrive.plan.device import DeviceLimits
from mesodrive.plan.estimate import Estimate, estimate, shot_time
from mesodrive.plan.issues import PlanIssue, fmt
from mesodrive.plan.models import Plan
from mesodrive.plan.point_rules import breach
from mesodrive.plan.points import PlannedPoint

MAX_SESSION_S = 2 * 3600.0


def mode_issues(plan: Plan, device: DeviceLimits) -> list[PlanIssue]:
    out = []
    if plan.mode == "auto":
        if not device.timed:
            out.append(PlanIssue("mode", "auto", "a device with timed shots",
                                 "the device does not support auto (timed) mode"))
        if plan.cadence_hz is None:
            out.append(PlanIssue("cadence_hz", None, "shots per second, > 0",
                                 "auto mode needs a cadence"))
    else:
        if not device.triggered:
            out.append(PlanIssue("mode", "triggered", "a device with triggered shots",
                                 "the device does not support triggered mode"))
        if plan.cadence_hz is not None:
            out.append(PlanIssue("cadence_hz", plan.cadence_hz, "only with mode = \"auto\"",
                                 "a cadence has no meaning in triggered mode"))
    return out


def refill_issues(
    plan: Plan, device: DeviceLimits, points: Sequence[PlannedPoint]
) -> list[PlanIssue]:
    out = []
    refill_ul = plan.refill_ul or device.syringe_ul
    if plan.refill_ul is not None and breach(plan.refill_ul, device.syringe_ul, above=True):
        out.append(PlanIssue("refill_ul", plan.refill_ul, f"syringe {fmt(device.syringe_ul)} µL",
                             "more than the device's syringe holds"))
    biggest = max((p.volume_ul for p in points), default=0.0)
    if biggest > refill_ul + 1e-9 and not breach(biggest, device.syringe_ul, above=True):
        out.append(PlanIssue("refill_ul", refill_ul, f">= the largest point volume "
                             f"{fmt(biggest)} µL", "one fill cannot deliver every point"))
    return out


def timing(
    plan: Plan, device: DeviceLimits, points: Sequence[PlannedPoint]
) -> tuple[Estimate | None, list[PlanIssue]]:
    """The estimate (None if the points cannot be timed: no points, or a non-positive flow or
    speed, which the per-point rule reports) and the issues with the cadence and duration."""
    if not points or not all(p.flow_ul_s > 0 and p.speed_mm_s > 0 and p.depth_mm >= 0
                             for p in points):
        return None, []
    refill_ul = plan.refill_ul or device.syringe_ul
    # Absurd figures overflow to inf (float arithmetic, no exception): refused below.
    est = estimate(points, device, plan.mode, plan.cadence_hz, refill_ul=refill_ul)
    issues: list[PlanIssue] = []
    cadence = plan.cadence_hz if plan.mode == "auto" else None
    if cadence is not None and breach(cadence, est.achievable_cadence_hz, above=True):
        slow = max(points, key=lambda p: shot_time(p, device))
        issues.append(PlanIssue(
            "cadence_hz", cadence, f"<= {est.achievable_cadence_hz:.3g} Hz",
            f"the device cannot keep up: the slowest shot (point {slow.point}) takes "
            f"{est.per_shot_s:.3g} s",
        ))
    if not est.duration_s <= MAX_SESSION_S:  # "not <=": an infinite estimate is refused too
        hours = f"{est.duration_s / 3600:.3g} h"
        limit = f"a session of at most {fmt(MAX_SESSION_S / 3600)} h"
        if cadence is not None:
            issues.append(PlanIssue(
                "cadence_hz", cadence, limit,
                f"at this cadence the session would take about {hours} "
                f"({len(points)} points, one every {fmt(1 / cadence)} s): "
                "is it in shots per second?"))
        else:
            issues.append(PlanIssue(
                "estimate", hours, limit,
                f"the session would take about {hours} ({len(points)} points, slowest shot "
                f"{est.per_shot_s:.3g} s): check the flow, volume, dwell and point count"))
    return est, issues
