"""Treatment-area shapes in mm (rectangle, ellipse, polygon): containment, bounds, outlines and
the checks that make a shape usable (a simple, non-degenerate polygon of sane size).

Containment is a closed set (points on the boundary are inside, within ``EPS_MM``) so that a
grid line lying exactly on a rectangle's edge behaves the same on every platform.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
from pydantic import Field, Strict

from mesodrive.plan.base import PosVec2, StrictModel, Vec2
from mesodrive.plan.issues import fmt

EPS_MM = 1e-9  # boundary tolerance: far below any mechanical resolution (µm)
# Largest extent of an area or zone. Anything larger is a units mistake (cm typed as mm,
# or a whole body): no mesotherapy area is half a metre across.
AREA_MAX_MM = 500.0
# Farthest a shape or point may lie from the map's origin. A body map is a couple of metres at
# most; far beyond, a number is a units mistake, and at ~1e16 mm float spacing exceeds a grid
# spacing, so lattice points would round onto each other.
COORD_MAX_MM = 10_000.0
MAX_VERTICES = 1000

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class ShapeProblem(NamedTuple):
    field: str  # relative to the shape, e.g. "vertices_mm[3]"
    value: object
    limit: str | None
    message: str


class Rectangle(StrictModel):
    kind: Literal["rectangle"]
    origin_mm: Vec2  # lower-left corner (x, y)
    size_mm: PosVec2  # (width, height)

    def bounds(self) -> tuple[float, float, float, float]:
        x, y = self.origin_mm
        w, h = self.size_mm
        return x, y, x + w, y + h

    def contains(self, x: FloatArray, y: FloatArray) -> BoolArray:
        x0, y0, x1, y1 = self.bounds()
        return (x >= x0 - EPS_MM) & (x <= x1 + EPS_MM) & (y >= y0 - EPS_MM) & (y <= y1 + EPS_MM)

    def outline(self) -> FloatArray:
        x0, y0, x1, y1 = self.bounds()
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], dtype=float)

    def problems(self) -> list[ShapeProblem]:
        return _size_problems(self, "size_mm", "origin_mm")

    def describe(self) -> str:
        w, h = self.size_mm
        return f"rectangle {fmt(w)}×{fmt(h)} mm"


class Ellipse(StrictModel):
    kind: Literal["ellipse"]
    center_mm: Vec2
    radii_mm: PosVec2  # semi-axes along x and y

    def bounds(self) -> tuple[float, float, float, float]:
        (cx, cy), (rx, ry) = self.center_mm, self.radii_mm
        return cx - rx, cy - ry, cx + rx, cy + ry

    def contains(self, x: FloatArray, y: FloatArray) -> BoolArray:
        (cx, cy), (rx, ry) = self.center_mm, self.radii_mm
        with np.errstate(over="ignore"):  # far outside a tiny ellipse: inf, correctly outside
            r2: FloatArray = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2
        # The tolerance is relative here: EPS_MM over the smaller radius.
        return r2 <= 1.0 + 2 * EPS_MM / min(rx, ry)

    def outline(self, n: int = 256) -> FloatArray:
        (cx, cy), (rx, ry) = self.center_mm, self.radii_mm
        t = np.linspace(0.0, 2 * math.pi, n + 1)
        return np.column_stack([cx + rx * np.cos(t), cy + ry * np.sin(t)])

    def problems(self) -> list[ShapeProblem]:
        return _size_problems(self, "radii_mm", "center_mm")

    def describe(self) -> str:
        rx, ry = self.radii_mm
        return f"ellipse {fmt(2 * rx)}×{fmt(2 * ry)} mm"


class Polygon(StrictModel):
    kind: Literal["polygon"]
    # Vertices in order (either orientation); the closing edge back to the first is implied.
    vertices_mm: Annotated[
        tuple[Vec2, ...], Strict(False), Field(min_length=3, max_length=MAX_VERTICES)
    ]

    def _v(self) -> FloatArray:
        return np.asarray(self.vertices_mm, dtype=float)

    def bounds(self) -> tuple[float, float, float, float]:
        v = self._v()
        return float(v[:, 0].min()), float(v[:, 1].min()), float(v[:, 0].max()), float(v[:, 1].max())

    def signed_area(self) -> float:
        v = self._v()
        x, y = v[:, 0], v[:, 1]
        return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))

    def contains(self, x: FloatArray, y: FloatArray) -> BoolArray:
        """Even-odd ray casting (equal to the winding rule for a simple polygon), plus points
        within EPS_MM of an edge, which ray casting classifies arbitrarily."""
        v = self._v()
        inside = np.zeros(np.shape(x), dtype=bool)
        near = np.zeros(np.shape(x), dtype=bool)
        for (x1, y1), (x2, y2) in zip(v, np.roll(v, -1, axis=0)):
            crosses = (y1 > y) != (y2 > y)
            with np.errstate(divide="ignore", invalid="ignore"):
                x_at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            inside ^= crosses & (x < x_at)
            near |= _dist_to_segment(x, y, x1, y1, x2, y2) <= EPS_MM
        result: BoolArray = inside | near
        return result

    def outline(self) -> FloatArray:
        v = self._v()
        return np.vstack([v, v[:1]])

    def problems(self) -> list[ShapeProblem]:
        out = _size_problems(self, "vertices_mm", "vertices_mm")
        if out:  # the checks below square coordinates: they need sane magnitudes
            return out
        v = self._v()
        n = len(v)
        x0, y0, x1, y1 = self.bounds()
        scale2 = max((x1 - x0) ** 2 + (y1 - y0) ** 2, 1e-12)
        for i in range(n):
            if np.allclose(v[i], v[i - 1], rtol=0.0, atol=EPS_MM):
                out.append(ShapeProblem(
                    f"vertices_mm[{i}]", tuple(self.vertices_mm[i]), "distinct consecutive vertices",
                    f"repeats vertex {(i - 1) % n}: the polygon is degenerate",
                ))
        if out:
            return out
        # All vertices on one line. (Zero signed area alone is not enough: a bow-tie's two
        # lobes cancel out; that one is reported as a crossing below.)
        d = v - v[0]
        far = d[np.argmax(np.hypot(d[:, 0], d[:, 1]))]
        if np.all(np.abs(d[:, 0] * far[1] - d[:, 1] * far[0]) <= 1e-9 * scale2):
            return [ShapeProblem("vertices_mm", f"{n} vertices", "a non-zero area",
                                 "the polygon is degenerate (its vertices are collinear)")]
        crossing = _first_self_intersection(v, 1e-12 * scale2)
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


def _dist_to_segment(
    x: FloatArray, y: FloatArray, x1: float, y1: float, x2: float, y2: float
) -> FloatArray:
    dx, dy = x2 - x1, y2 - y1
    len2 = dx * dx + dy * dy
    t = np.clip(((x - x1) * dx + (y - y1) * dy) / len2, 0.0, 1.0) if len2 > 0 else 0.0
    result: FloatArray = np.hypot(x - (x1 + t * dx), y - (y1 + t * dy))
    return result


def _orient(ax: FloatArray, ay: FloatArray, bx: FloatArray, by: FloatArray,
            cx: FloatArray, cy: FloatArray, tol: float) -> FloatArray:
    """Sign of the cross product (b - a) × (c - a); |cross| <= tol counts as collinear (0)."""
    cross = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    result: FloatArray = np.where(np.abs(cross) <= tol, 0.0, np.sign(cross))
    return result


def _on_segment(ax: FloatArray, ay: FloatArray, bx: FloatArray, by: FloatArray,
                cx: FloatArray, cy: FloatArray) -> BoolArray:
    """For collinear c: does it lie within the box of segment a-b?"""
    result: BoolArray = (
        (np.minimum(ax, bx) - EPS_MM <= cx) & (cx <= np.maximum(ax, bx) + EPS_MM)
        & (np.minimum(ay, by) - EPS_MM <= cy) & (cy <= np.maximum(ay, by) + EPS_MM)
    )
    return result


def _first_self_intersection(v: FloatArray, tol: float) -> tuple[int, int] | None:
    """The first pair of edges (i < j) that cross or touch, apart from the shared vertex of
    neighbours; neighbours that fold back over each other (a spike) also count."""
    n = len(v)
    a, b = v, np.roll(v, -1, axis=0)  # edge k runs a[k] -> b[k]
    for i in range(n):
        # Neighbouring edges i and i+1 share b[i]; they overlap only if collinear and reversed.
        k = (i + 1) % n
        d1, d2 = b[i] - a[i], b[k] - a[k]
        cross = d1[0] * d2[1] - d1[1] * d2[0]
        if abs(cross) <= tol and float(np.dot(d1, d2)) < 0:
            return (i, k) if i < k else (k, i)
        js = np.arange(i + 2, n if i > 0 else n - 1)  # non-neighbours of edge i, j > i
        if js.size == 0:
            continue
        px, py, qx, qy = a[i, 0], a[i, 1], b[i, 0], b[i, 1]
        rx, ry, sx, sy = a[js, 0], a[js, 1], b[js, 0], b[js, 1]
        o1 = _orient(px, py, qx, qy, rx, ry, tol)
        o2 = _orient(px, py, qx, qy, sx, sy, tol)
        o3 = _orient(rx, ry, sx, sy, px, py, tol)
        o4 = _orient(rx, ry, sx, sy, qx, qy, tol)
        hit = (o1 * o2 < 0) & (o3 * o4 < 0)
        hit |= (o1 == 0) & _on_segment(px, py, qx, qy, rx, ry)
        hit |= (o2 == 0) & _on_segment(px, py, qx, qy, sx, sy)
        hit |= (o3 == 0) & _on_segment(rx, ry, sx, sy, px, py)
        hit |= (o4 == 0) & _on_segment(rx, ry, sx, sy, qx, qy)
        if hit.any():
            return i, int(js[np.argmax(hit)])
    return None
