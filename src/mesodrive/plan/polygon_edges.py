"""Polygon algorithms on plain floats: containment of whole rows of points, and the first pair of
edges that cross or touch.

Plain Python, not numpy: a plan check must start fast (numpy's import alone is ~55 ms), and
both jobs sweep, so each edge meets only the rows or edges it can reach rather than every one.
Containment is closed: even-odd ray casting (equal to the winding rule for a simple polygon),
plus points within ``eps`` of an edge, which ray casting classifies arbitrarily.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

Point = tuple[float, float]
Row = tuple[float, Sequence[float]]  # (y, the row's x values in ascending order)


def edges(vertices: Sequence[Point]) -> list[tuple[Point, Point]]:
    """Edge k runs from vertex k to vertex k+1; the last one closes the polygon."""
    return list(zip(vertices, [*vertices[1:], vertices[0]], strict=True))


def rows_inside(vertices: Sequence[Point], rows: Sequence[Row], eps: float) -> list[list[bool]]:
    """Per row (rows in ascending y), per x: is (x, y) inside the polygon or within eps of its
    boundary?"""
    ys = [y for y, _ in rows]
    crossings: list[list[float]] = [[] for _ in rows]  # x where an edge crosses the row
    touching: list[list[int]] = [[] for _ in rows]  # edges that come within reach of the row
    reach = 4 * eps  # generous: a point within eps of an edge is surely inside these windows
    all_edges = edges(vertices)
    for e, ((x1, y1), (x2, y2)) in enumerate(all_edges):
        lo, hi = min(y1, y2), max(y1, y2)
        for r in range(bisect_left(ys, lo - reach), bisect_right(ys, hi + reach)):
            y = ys[r]
            if (y1 > y) != (y2 > y):
                crossings[r].append(x1 + (y - y1) * (x2 - x1) / (y2 - y1))
            touching[r].append(e)
    out: list[list[bool]] = []
    for r, (y, xs) in enumerate(rows):
        cuts = sorted(crossings[r])
        # Even-odd: a point is inside when an odd number of crossings lie to its right.
        inside = [(len(cuts) - bisect_right(cuts, x)) % 2 == 1 for x in xs]
        for e in touching[r]:
            (x1, y1), (x2, y2) = all_edges[e]
            a, b = _x_window(x1, y1, x2, y2, y, reach)
            for k in range(bisect_left(xs, a), bisect_right(xs, b)):
                if not inside[k] and _dist_to_segment(xs[k], y, x1, y1, x2, y2) <= eps:
                    inside[k] = True
        out.append(inside)
    return out


def _x_window(x1: float, y1: float, x2: float, y2: float, y: float, reach: float) -> Point:
    """The x range, widened by ``reach``, of the edge's part within ``reach`` of height y."""
    lo, hi = min(x1, x2), max(x1, x2)
    dy = y2 - y1
    if abs(dy) > reach:  # steep enough that the slope stays finite
        slope = (x2 - x1) / dy
        xa, xb = x1 + (y - reach - y1) * slope, x1 + (y + reach - y1) * slope
        lo, hi = max(lo, min(xa, xb)), min(hi, max(xa, xb))
    return lo - reach, hi + reach


def _dist_to_segment(x: float, y: float, x1: float, y1: float, x2: float, y2: float) -> float:
    dx, dy = x2 - x1, y2 - y1
    len2 = dx * dx + dy * dy
    t = min(max(((x - x1) * dx + (y - y1) * dy) / len2, 0.0), 1.0) if len2 > 0 else 0.0
    return math.hypot(x - (x1 + t * dx), y - (y1 + t * dy))


def collinear(vertices: Sequence[Point], tol: float) -> bool:
    """All vertices on one line: cross products with the farthest vertex within ``tol``."""
    x0, y0 = vertices[0]
    d = [(x - x0, y - y0) for x, y in vertices]
    fx, fy = max(d, key=lambda p: math.hypot(*p))
    return all(abs(dx * fy - dy * fx) <= tol for dx, dy in d)


def first_self_intersection(vertices: Sequence[Point], tol: float, eps: float) -> tuple[int, int] | None:
    """The first pair of edges (i < j) that cross or touch, apart from the shared vertex of
    neighbours; neighbours that fold back over each other (a spike) also count. ``tol`` is the
    cross-product size that counts as collinear, ``eps`` the reach of a touch."""
    es = edges(vertices)
    n = len(es)
    hits: list[tuple[int, int]] = []
    for i in range(n):
        # Neighbouring edges share a vertex; they overlap only if collinear and reversed.
        k = (i + 1) % n
        (ax, ay), (bx, by) = es[i]
        (cx, cy), (dx, dy) = es[k]
        d1x, d1y, d2x, d2y = bx - ax, by - ay, dx - cx, dy - cy
        if abs(d1x * d2y - d1y * d2x) <= tol and d1x * d2x + d1y * d2y < 0:
            hits.append((min(i, k), max(i, k)))
    # Other pairs: sweep along x, so only edges whose boxes overlap are compared.
    box = [(min(p[0], q[0]) - eps, max(p[0], q[0]) + eps, min(p[1], q[1]) - eps,
            max(p[1], q[1]) + eps) for p, q in es]
    by_left = sorted(range(n), key=lambda e: box[e][0])
    for pos, i in enumerate(by_left):
        right, low, high = box[i][1], box[i][2], box[i][3]
        for q in range(pos + 1, n):  # not a slice: that copied the rest for every edge
            j = by_left[q]
            if box[j][0] > right:
                break
            a, b = min(i, j), max(i, j)
            if b - a < 2 or (a == 0 and b == n - 1):  # neighbours: checked above
                continue
            if box[j][3] < low or box[j][2] > high:
                continue
            if _segments_meet(*es[a], *es[b], tol=tol, eps=eps):
                hits.append((a, b))
    return min(hits) if hits else None


def _segments_meet(p: Point, q: Point, r: Point, s: Point, *, tol: float, eps: float) -> bool:
    o1, o2 = _orient(p, q, r, tol), _orient(p, q, s, tol)
    o3, o4 = _orient(r, s, p, tol), _orient(r, s, q, tol)
    if o1 * o2 < 0 and o3 * o4 < 0:
        return True
    return ((o1 == 0 and _on_segment(p, q, r, eps)) or (o2 == 0 and _on_segment(p, q, s, eps))
            or (o3 == 0 and _on_segment(r, s, p, eps)) or (o4 == 0 and _on_segment(r, s, q, eps)))


def _orient(a: Point, b: Point, c: Point, tol: float) -> int:
    """Sign of the cross product (b - a) × (c - a); |cross| <= tol counts as collinear (0)."""
    cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    return 0 if abs(cross) <= tol else (1 if cross > 0 else -1)


def _on_segment(a: Point, b: Point, c: Point, eps: float) -> bool:
    """For collinear c: does it lie within the box of segment a-b?"""
    return (min(a[0], b[0]) - eps <= c[0] <= max(a[0], b[0]) + eps
            and min(a[1], b[1]) - eps <= c[1] <= max(a[1], b[1]) + eps)
