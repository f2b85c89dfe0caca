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

import numpy as np
import numpy.typing as npt

from mesodrive.plan.geometry import Ellipse, FloatArray, Polygon, Rectangle

# Spacing between points: nappage 2–4 mm up to 2 cm for skin and scalp (DOMAIN.md); beyond
# 5 cm a grid no longer treats an area.
SPACING_RANGE_MM = (2.0, 50.0)
# Automated guns do 1,000–2,000 punctures a session (DOMAIN.md); 10,000 is far above any real
# plan and keeps a typo (0.2 mm spacing) from generating millions of points.
MAX_POINTS = 10_000

IntArray = npt.NDArray[np.int64]


class GridTooLarge(ValueError):
    pass


def lattice(
    area: Rectangle | Ellipse | Polygon, pattern: Literal["square", "hex"], spacing_mm: float
) -> tuple[FloatArray, IntArray]:
    """All lattice points inside ``area`` as an (N, 2) array, with each point's row number."""
    x0, y0, x1, y1 = area.bounds()
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    dy = spacing_mm * math.sqrt(3) / 2 if pattern == "hex" else spacing_mm
    ni = math.ceil((x1 - x0) / 2 / spacing_mm) + 1
    nj = math.ceil((y1 - y0) / 2 / dy) + 1
    if (2 * ni + 1) * (2 * nj + 1) > 50 * MAX_POINTS:
        raise GridTooLarge(f"about {(x1 - x0) * (y1 - y0) / (spacing_mm * dy):.0f} points")
    ii, jj = np.meshgrid(np.arange(-ni, ni + 1), np.arange(-nj, nj + 1))
    i, j = ii.ravel(), jj.ravel()
    shift = 0.5 * (j % 2) if pattern == "hex" else 0.0  # odd rows offset by half a spacing
    x: FloatArray = (cx + (i + shift) * spacing_mm).astype(np.float64)
    y: FloatArray = (cy + j * dy).astype(np.float64)
    keep = area.contains(x, y)
    if int(keep.sum()) > MAX_POINTS:
        raise GridTooLarge(f"{int(keep.sum())} points")
    return np.column_stack([x[keep], y[keep]]), j[keep].astype(np.int64)


def order(xy: FloatArray, rows: IntArray, ordering: Literal["serpentine", "raster"]) -> IntArray:
    """Indices that put the points in treatment order: rows bottom to top (increasing y), and
    along each row left to right, or alternating direction for serpentine. Only rows that have
    points count in the alternation, so the sweep never reverses across an empty row."""
    if len(xy) == 0:
        return np.zeros(0, dtype=np.int64)
    _, rank = np.unique(rows, return_inverse=True)
    x = xy[:, 0]
    key = np.where(rank % 2 == 1, -x, x) if ordering == "serpentine" else x
    result: IntArray = np.lexsort((key, rank)).astype(np.int64)
    return result


def generate_grid(
    area: Rectangle | Ellipse | Polygon,
    pattern: Literal["square", "hex"],
    spacing_mm: float,
    ordering: Literal["serpentine", "raster"] = "serpentine",
) -> FloatArray:
    """Points inside ``area`` on the chosen lattice, in treatment order, as an (N, 2) array."""
    xy, rows = lattice(area, pattern, spacing_mm)
    ordered: FloatArray = xy[order(xy, rows, ordering)]
    return ordered
