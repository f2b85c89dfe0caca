"""Explicit point lists: ``x_mm,y_mm[,depth_mm,volume_ul,flow_ul_s,speed_mm_s,dwell_s]``.

A header row is required (columns in any order; x_mm and y_mm mandatory). Empty cells take the
plan's defaults (and zones). Blank lines and lines starting with ``#`` are skipped. Points are
injected in file order. Issues name ``points_csv[LINE].COLUMN`` with the file's line number.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

from mesodrive.plan.grid import MAX_POINTS
from mesodrive.plan.issues import PlanIssue

REQUIRED = ("x_mm", "y_mm")
OPTIONAL = ("depth_mm", "volume_ul", "flow_ul_s", "speed_mm_s", "dwell_s")
COLUMNS = REQUIRED + OPTIONAL


@dataclass(frozen=True)
class CsvPoint:
    line: int
    x_mm: float
    y_mm: float
    params: dict[str, float]  # only the cells that were filled in


def parse_points_csv(text: str) -> tuple[list[CsvPoint], list[PlanIssue]]:
    """Parse the CSV text; returns the points and every issue found (never raises)."""
    issues: list[PlanIssue] = []
    rows = [
        (n, row)
        for n, row in enumerate(csv.reader(io.StringIO(text)), start=1)
        if row and any(c.strip() for c in row) and not row[0].lstrip().startswith("#")
    ]
    if not rows:
        return [], [PlanIssue("points_csv", "(empty)", "a header and at least one point",
                              "the point list is empty")]
    header_line, header = rows[0]
    names = [h.strip() for h in header]
    for col, name in enumerate(names):
        if name not in COLUMNS:
            issues.append(PlanIssue(f"points_csv[{header_line}]", name,
                                    "columns: " + ", ".join(COLUMNS), f"unknown column {col + 1}"))
        elif names.index(name) != col:
            issues.append(PlanIssue(f"points_csv[{header_line}]", name, "each column once",
                                    "duplicate column"))
    for name in REQUIRED:
        if name not in names:
            issues.append(PlanIssue(f"points_csv[{header_line}]", None, f"a {name} column",
                                    f"the header has no {name} column"))
    if issues:
        return [], issues
    if len(rows) - 1 > MAX_POINTS:
        return [], [PlanIssue("points_csv", f"{len(rows) - 1} points", f"<= {MAX_POINTS}",
                              "too many points")]
    points: list[CsvPoint] = []
    for line, row in rows[1:]:
        if len(row) != len(names):
            issues.append(PlanIssue(f"points_csv[{line}]", ",".join(row),
                                    f"{len(names)} cells like the header",
                                    f"row has {len(row)} cells"))
            continue
        values: dict[str, float] = {}
        ok = True
        for name, cell in zip(names, row):
            cell = cell.strip()
            if not cell:
                if name in REQUIRED:
                    issues.append(PlanIssue(f"points_csv[{line}].{name}", None, "a number",
                                            "required cell is empty"))
                    ok = False
                continue
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                issues.append(PlanIssue(f"points_csv[{line}].{name}", cell, "a finite number",
                                        "not a number"))
                ok = False
                continue
            values[name] = value
        if ok:
            x, y = values.pop("x_mm"), values.pop("y_mm")
            points.append(CsvPoint(line, x, y, values))
    if not points and not issues:
        issues.append(PlanIssue("points_csv", "(header only)", "at least one point",
                                "the point list has no points"))
    return points, issues
