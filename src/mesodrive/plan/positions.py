"""Validation stage 1: where the points are, from a generated grid or an explicit CSV list."""

from __future__ import annotations

from dataclasses import dataclass, field

from mesodrive.plan.csvpoints import parse_points_csv
from mesodrive.plan.geometry import (
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
    return Positions([(float(x), float(y)) for x, y in xy]), []


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
    seen: dict[tuple[float, float], int] = {}
    for r in rows:
        if (r.x_mm, r.y_mm) in seen:
            issues.append(PlanIssue(f"points_csv[{r.line}]", (r.x_mm, r.y_mm), "distinct points",
                                    f"same position as line {seen[(r.x_mm, r.y_mm)]}"))
        seen.setdefault((r.x_mm, r.y_mm), r.line)
    srcs = [{k: (v, f"points_csv[{r.line}].{k}") for k, v in r.params.items()} for r in rows]
    return Positions([(r.x_mm, r.y_mm) for r in rows], srcs), issues
