"""Treatment-area shapes in mm (rectangle, ellipse, polygon): containment, bounds, outlines and
the checks that make a shape usable (a simple, non-degenerate polygon of sane size).

Containment is a closed set (points on the boundary are inside, within ``EPS_MM``) so that a
grid line lying exactly on a rectangle's edge behaves the same on every platform. It is asked
row by row (points of equal y), the way a grid is laid out: a polygon then meets each edge only
in the rows the edge spans (`polygon_edges`).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from typing import Annotated, Literal, NamedTuple

from pydantic import Field, Strict

from mesodrive.plan.base import PosVec2, StrictModel, Vec2
from mesodrive.plan.issues import fmt
from mesodrive.plan.polygon_edges import (
    Point,
    Row,
    collinear,
    first_self_intersection,
    rows_inside,
)

EPS_MM = 1e-9  # boundary tolerance: far below any mechanical resolution (µm)
# Largest extent of an area or zone. Anything larger is a units mistake (cm typed as mm,
# or a whole body): no mesotherapy area is half a metre across.
AREA_MAX_MM = 500.0
# Farthest a shape or point may lie from the map's origin. A body map is a couple of metres at
# most; far beyond, a number is a units mistake, and at ~1e16 mm float spacing exceeds a grid
# spacing, so lattice points would round onto each other.
COORD_MAX_MM = 10_000.0
MAX_VERTICES = 1000


class ShapeProblem(NamedTuple):
    field: str  # relative to the shape, e.g. "vertices_mm[3]"
    value: object
    limit: str | None
    message: str


class _Shape(StrictModel):
    """What every shape answers: containment of rows of points, or of any points."""

    @abstractmethod
    def rows_inside(self, rows: Sequence[Row]) -> list[list[bool]]:
        """Per row (ascending y), per x (ascending): is the point in the closed shape?"""

    def contains(self, points: Sequence[Point]) -> list[bool]:
        """Per point, in the given order: is it in the closed shape?"""
        by_y: dict[float, list[int]] = {}
        for k, (_, y) in enumerate(points):
            by_y.setdefault(y, []).append(k)
        ys = sorted(by_y)
        for y in ys:
            by_y[y].sort(key=lambda k: points[k][0])
        rows = [(y, [points[k][0] for k in by_y[y]]) for y in ys]
        out = [False] * len(points)
        for y, inside in zip(ys, self.rows_inside(rows), strict=True):
            for k, ok in zip(by_y[y], inside, strict=True):
                out[k] = ok
        return out


class Rectangle(_Shape):
    kind: Literal["rectangle"]
    origin_mm: Vec2  # lower-left corner (x, y)
    size_mm: PosVec2  # (width, height)

    def bounds(self) -> tuple[float, float, float, float]:
        x, y = self.origin_mm
        w, h = self.size_mm
        return x, y, x + w, y + h

    def rows_inside(self, rows: Sequence[Row]) -> list[list[bool]]:
        x0, y0, x1, y1 = self.bounds()
        lo, hi = x0 - EPS_MM, x1 + EPS_MM
        return [[lo <= x <= hi for x in xs] if y0 - EPS_MM <= y <= y1 + EPS_MM
                else [False] * len(xs) for y, xs in rows]

    def outline(self) -> list[Point]:
        x0, y0, x1, y1 = self.bounds()
        return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]

    def problems(self) -> list[ShapeProblem]:
        return _size_problems(self, "size_mm", "origin_mm")

    def describe(self) -> str:
        w, h = self.size_mm
        return f"rectangle {fmt(w)}×{fmt(h)} mm"


class Ellipse(_Shape):
    kind: Literal["ellipse"]
    center_mm: Vec2
    radii_mm: PosVec2  # semi-axes along x and y

    def bounds(self) -> tuple[float, float, float, float]:
        (cx, cy), (rx, ry) = self.center_mm, self.radii_mm
        return cx - rx, cy - ry, cx + rx, cy + ry

    def rows_inside(self, rows: Sequence[Row]) -> list[list[bool]]:
        (cx, cy), (rx, ry) = self.center_mm, self.radii_mm
        # The tolerance is relative here: EPS_MM over the smaller radius. Products, not **:
        # far outside a tiny ellipse they overflow to inf (correctly outside), never raise.
        limit = 1.0 + 2 * EPS_MM / min(rx, ry)
        out = []
        for y, xs in rows:
            v = (y - cy) / ry
            vv = v * v
            out.append([((x - cx) / rx) * ((x - cx) / rx) + vv <= limit for x in xs])
        return out

    def outline(self, n: int = 256) -> list[Point]:
        (cx, cy), (rx, ry) = self.center_mm, self.radii_mm
        return [(cx + rx * math.cos(2 * math.pi * k / n), cy + ry * math.sin(2 * math.pi * k / n))
                for k in range(n)] + [(cx + rx, cy)]

    def problems(self) -> list[ShapeProblem]:
        return _size_problems(self, "radii_mm", "center_mm")

    def describe(self) -> str:
        rx, ry = self.radii_mm
        return f"ellipse {fmt(2 * rx)}×{fmt(2 * ry)} mm"


class Polygon(_Shape):
    kind: Literal["polygon"]
    # Vertices in order (either orientation); the closing edge back to the first is implied.
    vertices_mm: Annotated[
        tuple[Vec2, ...], Strict(False), Field(min_length=3, max_length=MAX_VERTICES)
    ]

    def bounds(self) -> tuple[float, float, float, float]:
        xs = [x for x, _ in self.vertices_mm]
        ys = [y for _, y in self.vertices_mm]
        return min(xs), min(ys), max(xs), max(ys)

    def rows_inside(self, rows: Sequence[Row]) -> list[list[bool]]:
        return rows_inside(self.vertices_mm, rows, EPS_MM)

    def outline(self) -> list[Point]:
        return [*self.vertices_mm, self.vertices_mm[0]]

    def problems(self) -> list[ShapeProblem]:
        out = _size_problems(self, "vertices_mm", "vertices_mm")
        if out:  # the checks below square coordinates: they need sane magnitudes
            return out
        v = self.vertices_mm
        n = len(v)
        x0, y0, x1, y1 = self.bounds()
        scale2 = max((x1 - x0) ** 2 + (y1 - y0) ** 2, 1e-12)
        for i in range(n):
            (xa, ya), (xb, yb) = v[i], v[i - 1]
            if abs(xa - xb) <= EPS_MM and abs(ya - yb) <= EPS_MM:
                out.append(ShapeProblem(
                    f"vertices_mm[{i}]", tuple(v[i]), "distinct consecutive vertices",
                    f"repeats vertex {(i - 1) % n}: the polygon is degenerate",
                ))
        if out:
            return out
        # All vertices on one line. (Zero signed area alone is not enough: a bow-tie's two
        # lobes cancel out; that one is reported as a crossing below.)
        if collinear(v, 1e-9 * scale2):
            return [ShapeProblem("vertices_mm", f"{n} vertices", "a non-zero area",
                                 "the polygon is degenerate (its vertices are collinear)")]
        crossing = first_self_intersection(v, 1e-12 * scale2, EPS_MM)
        if crossing is not None:
            i, j = crossing
            out.append(ShapeProblem(
                "vertices_mm", f"edge {i}→{(i + 1) % n} and edge {j}→{(j + 1) % n}",
                "a simple polygon (edges meet only at shared vertices)",
                f"the polygon intersects itself: edge from vertex {i} to {(i + 1) % n} meets "
                f"edge from vertex {j} to {(j + 1) % n}",
            ))
        return out

    def describe(self) -> str:
        x0, y0, x1, y1 = self.bounds()
        return f"polygon ({len(self.vertices_mm)} vertices, {fmt(x1 - x0)}×{fmt(y1 - y0)} mm)"


Area = Annotated[Rectangle | Ellipse | Polygon, Field(discriminator="kind")]
AREA_KINDS = ("rectangle", "ellipse", "polygon")


def _size_problems(
    shape: Rectangle | Ellipse | Polygon, field: str, position_field: str
) -> list[ShapeProblem]:
    x0, y0, x1, y1 = shape.bounds()
    extent = max(x1 - x0, y1 - y0)
    if extent > AREA_MAX_MM:
        return [ShapeProblem(field, f"{fmt(extent)} mm across", f"<= {fmt(AREA_MAX_MM)} mm",
                             "the shape is too large for a treatment area (are the units mm?)")]
    far = max(abs(x0), abs(y0), abs(x1), abs(y1))
    if not far <= COORD_MAX_MM:  # "not <=" also catches an overflow to inf
        return [ShapeProblem(position_field, f"{fmt(far)} mm from the origin",
                             f"|x|, |y| <= {fmt(COORD_MAX_MM)} mm",
                             "the shape lies too far from the map's origin (are the units mm?)")]
    return []
