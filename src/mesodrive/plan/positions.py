"""Validation stage 1: where the points are, from a generated grid or an explicit CSV list.

The grid's rules hold for both: positions within `COORD_MAX_MM` of the origin, no two points
on one spot (at 1 µm), and for a CSV list — where nobody chose a spacing — no two points
closer than the grid's minimum spacing and no spread wider than the largest area.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from mesodrive.plan.csvpoints import CsvPoint, parse_points_csv
from mesodrive.plan.geometry import (
    AREA_MAX_MM,
    COORD_MAX_MM,
    Ellipse,
    Polygon,
    Rectangle,
)
from mesodrive.plan.grid import MAX_POINTS, SPACING_RANGE_MM, GridTooLarge, generate_grid
from mesodrive.plan.issues import PlanIssue, fmt
from mesodrive.plan.models import Plan
from mesodrive.plan.point_rules import breach

POSITION_DECIMALS = 3  # positions are compared at 1 µm, the device's resolution


@dataclass(frozen=True)
class Positions:
    """The point positions in treatment order and, per point, the parameters its CSV row
    gave, with the field each came from (empty for a grid)."""

    xy: list[tuple[float, float]] = field(default_factory=list)
    csv_params: list[dict[str, tuple[float, str]]] = field(default_factory=list)


def plan_positions(plan: Plan, csv_text: str | None) -> tuple[Positions, list[PlanIssue]]:
    """The plan's positions and the issues with them. ``csv_text``: the point list's content
    (None if the plan has none or it could not be read — that is already an issue)."""
    if plan.area is not None and plan.points_csv is not None:
        return Positions(), [PlanIssue("points_csv", plan.points_csv, "either area or points_csv",
                                       "give an area or an explicit point list, not both")]
    if plan.area is None and plan.points_csv is None:
        return Positions(), [PlanIssue("area", None, "an area (with spacing_mm) or points_csv",
                                       "the plan has no points: give an area or points_csv")]
    if plan.area is not None:
        return grid_positions(plan, plan.area)
    return csv_positions(plan, csv_text)


def duplicate_positions(xy: Sequence[tuple[float, float]]) -> list[tuple[int, int]]:
    """(index, index of the earlier point it coincides with) for points on one spot at 1 µm."""
    seen: dict[tuple[float, float], int] = {}
    out: list[tuple[int, int]] = []
    for k, (x, y) in enumerate(xy):
        key = (round(x, POSITION_DECIMALS), round(y, POSITION_DECIMALS))
        if key in seen:
            out.append((k, seen[key]))
        else:
            seen[key] = k
    return out


# ---- a generated grid -----------------------------------------------------------------------


def grid_positions(
    plan: Plan, area: Rectangle | Ellipse | Polygon
) -> tuple[Positions, list[PlanIssue]]:
    issues = [PlanIssue(f"area.{p.field}", p.value, p.limit, p.message) for p in area.problems()]
    lo, hi = SPACING_RANGE_MM
    spacing = plan.spacing_mm
    bad_spacing = True
    if spacing is None:
        issues.append(PlanIssue("spacing_mm", None, f"{fmt(lo)}–{fmt(hi)} mm",
                                "a grid over an area needs spacing_mm"))
    elif breach(spacing, lo, above=False) or breach(spacing, hi, above=True):
        issues.append(PlanIssue("spacing_mm", spacing, f"{fmt(lo)}–{fmt(hi)} mm",
                                "outside the spacing range for mesotherapy grids"))
    else:
        bad_spacing = False
    if issues or bad_spacing or spacing is None:
        return Positions(), issues
    try:
        xy = generate_grid(area, plan.pattern, spacing, plan.ordering)
    except GridTooLarge as exc:
        return Positions(), [PlanIssue("area", str(exc), f"<= {MAX_POINTS} points",
                                       "the grid has too many points (area or spacing in mm?)")]
    if len(xy) == 0:
        return Positions(), [PlanIssue(
            "area", area.describe(), f"at least one {plan.pattern} grid point at "
            f"{fmt(spacing)} mm spacing", "the area is empty: no grid point falls inside it")]
    dups = duplicate_positions(xy)
    if dups:  # float rounding stacked lattice points: never inject twice into one spot
        return Positions(), [PlanIssue(
            "area", area.describe(), "distinct grid positions (at 1 µm)",
            f"{len(dups)} grid points fall on the spot of another (point {dups[0][0] + 1} on "
            f"point {dups[0][1] + 1}): the coordinates are too large for the spacing")]
    return Positions(xy), []


# ---- an explicit point list -----------------------------------------------------------------


def csv_positions(plan: Plan, csv_text: str | None) -> tuple[Positions, list[PlanIssue]]:
    issues: list[PlanIssue] = []
    # Not model_fields_set: a snapshot's dump spells out every default.
    for name, default in (("spacing_mm", None), ("pattern", "square"), ("ordering", "serpentine")):
        if getattr(plan, name) != default:
            issues.append(PlanIssue(name, getattr(plan, name), "only with an area",
                                    "has no effect with points_csv (points keep file order)"))
    if csv_text is None:
        return Positions(), issues  # the read error is already an issue
    rows, csv_issues = parse_points_csv(csv_text)
    issues.extend(csv_issues)
    far = _far_points(rows)
    issues.extend(far)
    if not far:
        issues.extend(_spacing_issues(rows))
        issues.extend(_spread_issues(rows))
    srcs = [{k: (v, f"points_csv[{r.line}].{k}") for k, v in r.params.items()} for r in rows]
    return Positions([(r.x_mm, r.y_mm) for r in rows], srcs), issues


def _far_points(rows: list[CsvPoint]) -> list[PlanIssue]:
    out = []
    for r in rows:
        for name, v in (("x_mm", r.x_mm), ("y_mm", r.y_mm)):
            if abs(v) > COORD_MAX_MM:
                out.append(PlanIssue(f"points_csv[{r.line}].{name}", v,
                                     f"|{name}| <= {fmt(COORD_MAX_MM)} mm",
                                     "too far from the map's origin (are the units mm?)"))
    return out


def _spacing_issues(rows: list[CsvPoint]) -> list[PlanIssue]:
    """Each point on the spot of, or closer than the minimum spacing to, an earlier one.
    Buckets of one spacing make it linear: a close neighbour is in one of nine buckets, and
    points already refused are not bucketed, so 10,000 points on one spot stay quick."""
    lo = SPACING_RANGE_MM[0]
    buckets: dict[tuple[int, int], list[CsvPoint]] = {}
    same: dict[tuple[float, float], int] = {}
    out: list[PlanIssue] = []
    for r in rows:
        key = (round(r.x_mm, POSITION_DECIMALS), round(r.y_mm, POSITION_DECIMALS))
        if key in same:
            out.append(PlanIssue(f"points_csv[{r.line}]", (r.x_mm, r.y_mm), "distinct points",
                                 f"same position as line {same[key]}"))
            continue
        same[key] = r.line
        bx, by = math.floor(r.x_mm / lo), math.floor(r.y_mm / lo)
        near = [(math.hypot(r.x_mm - o.x_mm, r.y_mm - o.y_mm), o.line)
                for dx in (-1, 0, 1) for dy in (-1, 0, 1) for o in buckets.get((bx + dx, by + dy), ())]
        close = min((d, line) for d, line in near) if near else None
        if close is not None and breach(close[0], lo, above=False):
            out.append(PlanIssue(
                f"points_csv[{r.line}]", (r.x_mm, r.y_mm), f">= {fmt(lo)} mm between points",
                f"{fmt(close[0])} mm from line {close[1]}: closer than the minimum spacing "
                "of a mesotherapy grid"))
            continue  # kept out of the buckets, so a bucket holds a few points at most
        buckets.setdefault((bx, by), []).append(r)
    return out


def _spread_issues(rows: list[CsvPoint]) -> list[PlanIssue]:
    if len(rows) < 2:
        return []
    xs, ys = [r.x_mm for r in rows], [r.y_mm for r in rows]
    extent = max(max(xs) - min(xs), max(ys) - min(ys))
    if extent <= AREA_MAX_MM:
        return []
    return [PlanIssue("points_csv", f"{fmt(extent)} mm across", f"<= {fmt(AREA_MAX_MM)} mm",
                      "the points spread wider than the largest treatment area "
                      "(are the units mm?)")]
