"""Injection grids: lattice points inside an area, then put in treatment order.

The lattice is anchored at the centre of the area's bounding box, so a symmetric area gets a
symmetric grid and a convex area always gets at least its centre point. ``hex`` staggers every
other row by half a spacing with rows ``spacing·√3/2`` apart: every point is exactly
``spacing`` from its six neighbours, covering the skin more evenly than a square grid with
15 % more points. Rows run along x; ``serpentine`` sweeps alternate rows in opposite directions
(the short path a practitioner's hand takes), ``raster`` sweeps every row left to right.
"""

from __future__ import annotations

import math
from typing import Literal

from mesodrive.plan.geometry import Ellipse, Polygon, Rectangle
from mesodrive.plan.polygon_edges import Point

# Spacing between points: nappage 2–4 mm up to 2 cm for skin and scalp (DOMAIN.md); beyond
# 5 cm a grid no longer treats an area.
SPACING_RANGE_MM = (2.0, 50.0)
# Automated guns do 1,000–2,000 punctures a session (DOMAIN.md); 10,000 is far above any real
# plan and keeps a typo (0.2 mm spacing) from generating millions of points.
MAX_POINTS = 10_000


class GridTooLarge(ValueError):
    pass


def lattice(
    area: Rectangle | Ellipse | Polygon, pattern: Literal["square", "hex"], spacing_mm: float
) -> list[list[Point]]:
    """The lattice points inside ``area``, by row: rows bottom to top (only rows that have
    points), each row left to right."""
    x0, y0, x1, y1 = area.bounds()
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    dy = spacing_mm * math.sqrt(3) / 2 if pattern == "hex" else spacing_mm
    ni = math.ceil((x1 - x0) / 2 / spacing_mm) + 1
    nj = math.ceil((y1 - y0) / 2 / dy) + 1
    if (2 * ni + 1) * (2 * nj + 1) > 50 * MAX_POINTS:
        raise GridTooLarge(f"about {(x1 - x0) * (y1 - y0) / (spacing_mm * dy):.0f} points")
    rows = []
    for j in range(-nj, nj + 1):
        shift = 0.5 * (j % 2) if pattern == "hex" else 0.0  # odd rows offset by half a spacing
        rows.append((cy + j * dy, [cx + (i + shift) * spacing_mm for i in range(-ni, ni + 1)]))
    kept = [[(x, y) for x, ok in zip(xs, inside, strict=True) if ok]
            for (y, xs), inside in zip(rows, area.rows_inside(rows), strict=True)]
    count = sum(len(row) for row in kept)
    if count > MAX_POINTS:
        raise GridTooLarge(f"{count} points")
    return [row for row in kept if row]


def generate_grid(
    area: Rectangle | Ellipse | Polygon,
    pattern: Literal["square", "hex"],
    spacing_mm: float,
    ordering: Literal["serpentine", "raster"] = "serpentine",
) -> list[Point]:
    """Points inside ``area`` on the chosen lattice, in treatment order: rows bottom to top, and
    along each row left to right, or alternating direction for serpentine. Only rows that have
    points count in the alternation, so the sweep never reverses across an empty row."""
    out: list[Point] = []
    for r, row in enumerate(lattice(area, pattern, spacing_mm)):
        out.extend(reversed(row) if ordering == "serpentine" and r % 2 == 1 else row)
    return out
