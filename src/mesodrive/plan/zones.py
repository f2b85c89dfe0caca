"""Validation stage 2: zones, and each point's parameters by precedence.

A point belongs to the first zone (in plan order) that contains it. A zone that contains no
point, or whose points all belong to earlier zones, would have overrides that never apply:
both are refused, since the practitioner meant them for some skin.

Precedence, lowest first: the plan's defaults, the point's zone, its CSV row, point_overrides.
Each value keeps the plan field it came from, so issues point at what to edit.
"""

from __future__ import annotations

from dataclasses import dataclass

from mesodrive.plan.issues import PlanIssue
from mesodrive.plan.models import Plan
from mesodrive.plan.point_rules import PARAMS
from mesodrive.plan.points import PlannedPoint
from mesodrive.plan.positions import Positions


@dataclass(frozen=True)
class ExpandedPoints:
    points: tuple[PlannedPoint, ...]
    sources: list[dict[str, str]]  # per point: parameter -> the plan field its value came from


def expand_points(plan: Plan, positions: Positions) -> tuple[ExpandedPoints, list[PlanIssue]]:
    issues: list[PlanIssue] = []
    zone_of = assign_zones(plan, positions.xy, issues)
    params, sources = _parameters(plan, zone_of, positions, issues)
    points = tuple(
        PlannedPoint(k + 1, x, y, plan.zones[zone_of[k]].name if zone_of[k] >= 0 else None,
                     **params[k])
        for k, (x, y) in enumerate(positions.xy)
    )
    return ExpandedPoints(points, sources), issues


def assign_zones(plan: Plan, xy: list[tuple[float, float]], issues: list[PlanIssue]) -> list[int]:
    """Per point, the index of the first zone (in plan order) that contains it, or -1."""
    zone_of = [-1] * len(xy)
    names: dict[str, int] = {}
    for zi, zone in enumerate(plan.zones):
        if zone.name in names:  # names are NFKC-normalised: look-alikes are equal here
            issues.append(PlanIssue(f"zones[{zi}].name", zone.name, "unique zone names",
                                    f"same name as zones[{names[zone.name]}]"))
        names.setdefault(zone.name, zi)
        problems = zone.shape.problems()
        for p in problems:
            issues.append(PlanIssue(f"zones[{zi}].shape.{p.field}", p.value, p.limit, p.message))
        if problems or len(xy) == 0:
            continue
        inside = [k for k, ok in enumerate(zone.shape.contains(xy)) if ok]
        if not inside:
            issues.append(PlanIssue(f"zones[{zi}].shape", zone.shape.describe(),
                                    "at least one planned point inside the zone",
                                    f"zone {zone.name!r} contains no point"))
            continue
        mine = [k for k in inside if zone_of[k] < 0]
        if not mine:
            owners = sorted({zone_of[k] for k in inside})
            named = ", ".join(f"zones[{o}] ({plan.zones[o].name!r})" for o in owners)
            issues.append(PlanIssue(
                f"zones[{zi}].shape", zone.shape.describe(),
                "at least one point not already in an earlier zone",
                f"zone {zone.name!r} receives no point: all {len(inside)} of its points are "
                f"already in {named}, and the first zone containing a point applies"))
        for k in mine:
            zone_of[k] = zi
    return zone_of


def _parameters(
    plan: Plan, zone_of: list[int], positions: Positions, issues: list[PlanIssue]
) -> tuple[list[dict[str, float]], list[dict[str, str]]]:
    n = len(positions.xy)
    base = {p: float(getattr(plan.defaults, p)) for p in PARAMS}
    params = [dict(base) for _ in range(n)]
    src = [{p: f"defaults.{p}" for p in PARAMS} for _ in range(n)]
    for k in range(n):
        zi = zone_of[k]
        if zi >= 0:
            for p in PARAMS:
                v = getattr(plan.zones[zi].overrides, p)
                if v is not None:
                    params[k][p], src[k][p] = float(v), f"zones[{zi}].overrides.{p}"
        if positions.csv_params:
            for p, (v, where) in positions.csv_params[k].items():
                params[k][p], src[k][p] = v, where
    seen: dict[int, int] = {}
    for i, po in enumerate(plan.point_overrides):
        if po.point in seen:
            issues.append(PlanIssue(f"point_overrides[{i}].point", po.point, "each point once",
                                    f"point {po.point} is already in "
                                    f"point_overrides[{seen[po.point]}]"))
            continue
        seen[po.point] = i
        if po.point > n:
            if n:
                issues.append(PlanIssue(f"point_overrides[{i}].point", po.point, f"1–{n}",
                                        "no such point"))
            continue
        for p in PARAMS:
            v = getattr(po, p)
            if v is not None:
                params[po.point - 1][p] = float(v)
                src[po.point - 1][p] = f"point_overrides[{i}].{p}"
    return params, src
