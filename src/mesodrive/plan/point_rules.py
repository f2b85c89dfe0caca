"""The per-point rules: one point's parameters against the product and the device.

The same rules serve twice (DESIGN.md, defence in depth): plan validation applies them to every
expanded point (`point_issues`, which names the plan field each value came from), and the
controller applies them again to each point just before its shot (`check_point`).

* the device's capabilities, the syringe and the 1–4 mm treatment depth are absolute;
* the product's hard limits are absolute; a soft-limit breach needs a matching recorded
  override with a reason, whose value equals the planned value;
* a limit the product does not define means "not allowed", never "unlimited".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from mesodrive.plan.device import DeviceLimits
from mesodrive.plan.issues import PlanIssue, fmt
from mesodrive.plan.library import POINT_LIMITS, TREATMENT_DEPTH_MM, UNITS, Limits, Product
from mesodrive.plan.points import PlannedPoint, SoftOverride

PARAMS = ("depth_mm", "volume_ul", "flow_ul_s", "speed_mm_s", "dwell_s")
# Device capability bounds per parameter (DeviceLimits attribute names).
_DEVICE_RANGE = {
    "depth_mm": ("depth_min_mm", "depth_max_mm"),
    "volume_ul": ("volume_min_ul", "volume_max_ul"),
    "flow_ul_s": ("flow_min_ul_s", "flow_max_ul_s"),
    "speed_mm_s": ("speed_min_mm_s", "speed_max_mm_s"),
}


def breach(value: float, bound: float, above: bool) -> bool:
    """``value`` is beyond ``bound`` by more than float noise (far below the wire's 1 nL/1 µm)."""
    tol = 1e-9 * max(1.0, abs(bound))
    return value > bound + tol if above else value < bound - tol


class PointProblem(NamedTuple):
    param: str
    value: object
    limit: str | None
    message: str
    product_level: bool = False  # a limit missing from the product, not this point's value


def check_point(
    product: Product,
    device: DeviceLimits,
    point: PlannedPoint,
    overrides: Sequence[SoftOverride],
) -> list[PlanIssue]:
    """The controller's pre-shot re-check: issues with one point; an empty list means the shot
    may go. Fields are ``points[N].param`` (N = the point number), or ``product.param`` for a
    limit the product lacks."""
    return [
        PlanIssue(f"product.{p.param}" if p.product_level else f"points[{point.point}].{p.param}",
                  p.value, p.limit, p.message)
        for p in point_problems(product, device, point, overrides)
    ]


def point_problems(
    product: Product | None,
    device: DeviceLimits,
    point: PlannedPoint,
    overrides: Sequence[SoftOverride],
    used: set[int] | None = None,
) -> list[PointProblem]:
    """Everything wrong with one point (``product`` None: device rules only); ``used``
    collects the indexes of the overrides that covered a soft breach."""
    out: list[PointProblem] = []
    for name in ("x_mm", "y_mm", *PARAMS):
        v = getattr(point, name)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            out.append(PointProblem(name, v, "a finite number", "not a finite number"))
    if out:
        return out
    for name, unit in POINT_LIMITS.items():
        v = float(getattr(point, name))
        out.extend(PointProblem(name, v, limit, message)
                   for limit, message in _absolute_problems(name, v, unit, device))
        lim = product.limit(name) if product is not None else None
        if product is not None and lim is None:
            out.append(PointProblem(name, None, f"a {name} limit in the product library",
                                    missing_limit_message(product, name), product_level=True))
            continue
        if lim is None:
            continue
        problem = limit_problem(name, v, lim, point.point, overrides, used)
        if problem is not None:
            out.append(PointProblem(name, v, *problem))
    dwell = float(point.dwell_s)
    if breach(dwell, 0.0, above=False) or breach(dwell, device.dwell_max_s, above=True):
        out.append(PointProblem("dwell_s", dwell, f"device 0–{fmt(device.dwell_max_s)} s",
                                "outside the device's capability"))
    return out


def _absolute_problems(
    name: str, v: float, unit: str, device: DeviceLimits
) -> list[tuple[str, str]]:
    """(limit, message) for the bounds no override can move: device, syringe, treatment depth."""
    out: list[tuple[str, str]] = []
    lo_attr, hi_attr = _DEVICE_RANGE[name]
    lo, hi = getattr(device, lo_attr), getattr(device, hi_attr)
    if breach(v, lo, above=False) or breach(v, hi, above=True):
        out.append((f"device {fmt(lo)}–{fmt(hi)} {unit}", "outside the device's capability"))
    if name == "depth_mm":
        tlo, thi = TREATMENT_DEPTH_MM
        if breach(v, tlo, above=False) or breach(v, thi, above=True):
            out.append((f"treatment range {fmt(tlo)}–{fmt(thi)} mm",
                        "outside the 1–4 mm mesotherapy depth range"))
    if name == "volume_ul" and breach(v, device.syringe_ul, above=True):
        out.append((f"syringe {fmt(device.syringe_ul)} µL", "more than the syringe holds"))
    return out


def missing_limit_message(product: Product, name: str) -> str:
    return (f"product {product.id!r} defines no {name} limit, so it may not be used "
            "(a missing limit means not allowed, never unlimited)")


def limit_problem(
    name: str,
    v: float,
    lim: Limits,
    point: int | None,
    overrides: Sequence[SoftOverride],
    used: set[int] | None,
) -> tuple[str, str] | None:
    """(limit, message) if ``v`` breaks ``lim`` without a covering override, else None."""
    unit = UNITS[name]
    if breach(v, lim.hard_min, above=False):
        return (f"hard_min {fmt(lim.hard_min)} {unit}",
                "below the product's hard minimum (cannot be overridden)")
    if breach(v, lim.hard_max, above=True):
        return (f"hard_max {fmt(lim.hard_max)} {unit}",
                "above the product's hard maximum (cannot be overridden)")
    low, high = breach(v, lim.soft_low, above=False), breach(v, lim.soft_high, above=True)
    if not (low or high):
        return None
    for k, o in enumerate(overrides):
        if o.reason.strip() and o.covers(name, point, v):
            if used is not None:
                used.add(k)
            return None
    where = "below the soft minimum" if low else "above the soft maximum"
    bound = f"soft_min {fmt(lim.soft_low)}" if low else f"soft_max {fmt(lim.soft_high)}"
    # The hint names no point, so that one message covers every point with this value.
    hint = f'[[overrides]] field = "{name}", value = {fmt(v)}, reason = "..."'
    return (f"{bound} {unit} ({lim.describe(unit)})",
            f"{where}: needs an override with a reason ({hint})")


# ---- the validation stage: the rule over every expanded point --------------------------------


@dataclass
class _Grouped:
    """Per-point issues from one plan field, gathered over the points they affect."""

    value: object
    limit: str | None
    message: str
    points: list[int]


def point_issues(
    product: Product | None,
    device: DeviceLimits,
    points: Sequence[PlannedPoint],
    sources: Sequence[Mapping[str, str]],
    overrides: Sequence[SoftOverride],
    used: set[int],
) -> list[PlanIssue]:
    """The per-point rule over a plan, each issue reported against the plan field the value
    came from (``sources[k][param]``) with the points it affects: one wrong default gives one
    message, not 150. A limit missing from the product is left to the product stage."""
    grouped: dict[tuple[str, str | None, str, str], _Grouped] = {}
    for k, pp in enumerate(points):
        for prob in point_problems(product, device, pp, overrides, used):
            if prob.product_level:
                continue
            field = sources[k].get(prob.param, f"points[{pp.point}].{prob.param}")
            key = (field, prob.limit, prob.message, repr(prob.value))
            g = grouped.setdefault(key, _Grouped(prob.value, prob.limit, prob.message, []))
            g.points.append(pp.point)
    return [PlanIssue(field, g.value, g.limit, f"{g.message} {at_points(g.points)}")
            for (field, _, _, _), g in grouped.items()]


def at_points(points: Sequence[int]) -> str:
    if len(points) == 1:
        return f"(point {points[0]})"
    shown = ", ".join(str(p) for p in points[:5])
    return f"({len(points)} points: {shown}{', …' if len(points) > 5 else ''})"
