"""The polygon sweeps give exactly what the plain definitions give: containment checked edge by
edge for every point, and self-intersection checked for every pair of edges."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from mesodrive.plan import Ellipse, Polygon, Rectangle
from mesodrive.plan.geometry import EPS_MM
from mesodrive.plan.polygon_edges import Point, first_self_intersection, rows_inside

# Small integer coordinates: vertices, edges and points line up exactly, so horizontal edges
# lie on rows, points sit on edges and vertices, and edges touch and overlap.
small = st.integers(-6, 6).map(float)
vertex_lists = st.lists(st.tuples(small, small), min_size=3, max_size=9)
# The same, some vertices moved by less than the touch tolerance: near misses count as touches.
jitter = st.sampled_from([0.0, 0.0, EPS_MM / 2, -EPS_MM / 2])
jittered_vertex_lists = st.lists(
    st.tuples(small, small, jitter, jitter).map(lambda t: (t[0] + t[2], t[1] + t[3])),
    min_size=3, max_size=9)


def plainly_inside(vertices: list[Point], x: float, y: float) -> bool:
    """Even-odd over every edge, plus within EPS_MM of any edge."""
    inside = near = False
    for k, (x1, y1) in enumerate(vertices):
        x2, y2 = vertices[(k + 1) % len(vertices)]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
        dx, dy = x2 - x1, y2 - y1
        len2 = dx * dx + dy * dy
        t = min(max(((x - x1) * dx + (y - y1) * dy) / len2, 0.0), 1.0) if len2 else 0.0
        near = near or math.hypot(x - x1 - t * dx, y - y1 - t * dy) <= EPS_MM
    return inside or near


points_near_edges = st.tuples(
    st.integers(-14, 14).map(lambda k: k / 2),  # halves: on vertices, edges and between
    st.integers(-14, 14).map(lambda k: k / 2),
    st.sampled_from([0.0, EPS_MM / 2, -EPS_MM / 2, 3 * EPS_MM, 1e-3]),  # just on or off
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(vertex_lists, jittered_vertex_lists), st.lists(points_near_edges, max_size=60))
def test_row_sweep_equals_edge_by_edge(vertices: list[Point],
                                       picks: list[tuple[float, float, float]]) -> None:
    # Any vertex list, simple or not: containment is defined for all of them.
    points = [(x + d, y) for x, y, d in picks] + [(x, y + d) for x, y, d in picks]
    by_y: dict[float, list[float]] = {}
    for x, y in points:
        by_y.setdefault(y, []).append(x)
    rows = [(y, sorted(set(by_y[y]))) for y in sorted(by_y)]
    got = rows_inside(vertices, rows, EPS_MM)
    for (y, xs), inside in zip(rows, got, strict=True):
        assert inside == [plainly_inside(vertices, x, y) for x in xs], (y, xs)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(-60, 60), st.floats(-60, 60)), max_size=80))
def test_contains_keeps_the_order_of_scattered_points(points: list[Point]) -> None:
    shapes = (Rectangle(kind="rectangle", origin_mm=(-20, -10), size_mm=(30, 40)),
              Ellipse(kind="ellipse", center_mm=(5, -5), radii_mm=(25, 15)),
              Polygon(kind="polygon", vertices_mm=((0, 0), (40, 0), (40, 40), (20, 10), (0, 40))))
    for shape in shapes:
        assert shape.contains(points) == [shape.contains([p])[0] for p in points]
    poly = shapes[2]
    assert poly.contains(points) == [plainly_inside(list(poly.vertices_mm), x, y)
                                     for x, y in points]


def _orient(a: Point, b: Point, c: Point, tol: float) -> int:
    cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    return 0 if abs(cross) <= tol else (1 if cross > 0 else -1)


def _within(a: Point, b: Point, c: Point) -> bool:
    return (min(a[0], b[0]) - EPS_MM <= c[0] <= max(a[0], b[0]) + EPS_MM
            and min(a[1], b[1]) - EPS_MM <= c[1] <= max(a[1], b[1]) + EPS_MM)


def every_meeting_pair(v: list[Point], tol: float) -> list[tuple[int, int]]:
    """All pairs (i < j) of edges that meet: neighbours only when they fold back."""
    n = len(v)
    e = [(v[k], v[(k + 1) % n]) for k in range(n)]
    out = []
    for i in range(n):
        for j in range(i + 1, n):
            (p, q), (r, s) = e[i], e[j]
            if j == i + 1 or (i == 0 and j == n - 1):
                a, b = (e[i], e[j]) if j == i + 1 else (e[j], e[i])
                d1 = (a[1][0] - a[0][0], a[1][1] - a[0][1])
                d2 = (b[1][0] - b[0][0], b[1][1] - b[0][1])
                if abs(d1[0] * d2[1] - d1[1] * d2[0]) <= tol and d1[0] * d2[0] + d1[1] * d2[1] < 0:
                    out.append((i, j))
                continue
            o = [_orient(p, q, r, tol), _orient(p, q, s, tol), _orient(r, s, p, tol),
                 _orient(r, s, q, tol)]
            if (o[0] * o[1] < 0 and o[2] * o[3] < 0) or any(
                    ok == 0 and _within(*seg, c)
                    for ok, seg, c in zip(o, [(p, q), (p, q), (r, s), (r, s)], [r, s, p, q])):
                out.append((i, j))
    return out


@settings(max_examples=400, deadline=None)
@given(st.one_of(vertex_lists, jittered_vertex_lists), st.sampled_from([1e-12, 1e-8]))
def test_sweep_finds_the_first_meeting_pair(vertices: list[Point], tol: float) -> None:
    # tol: the collinearity tolerance, 1e-12 of the squared size as Polygon.problems() uses
    pairs = every_meeting_pair(vertices, tol)
    assert first_self_intersection(vertices, tol, EPS_MM) == (min(pairs) if pairs else None)


def test_a_thousand_vertex_circle_is_simple() -> None:
    n = 1000
    circle = [(100 * math.cos(2 * math.pi * k / n), 100 * math.sin(2 * math.pi * k / n))
              for k in range(n)]
    assert first_self_intersection(circle, 1e-12, EPS_MM) is None
    assert Polygon(kind="polygon", vertices_mm=tuple(circle)).problems() == []
