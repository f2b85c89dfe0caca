"""Shapes and grids: points always inside the area, never closer than the spacing, in
serpentine (or raster) order; polygons must be simple and non-degenerate."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mesodrive.plan import Ellipse, Polygon, Rectangle, generate_grid
from mesodrive.plan.grid import GridTooLarge, lattice

coord = st.floats(-100, 100, allow_nan=False)
size = st.floats(5, 100, allow_nan=False)
spacing = st.floats(3, 20, allow_nan=False)
pattern = st.sampled_from(["square", "hex"])


@st.composite
def rectangles(draw: st.DrawFn) -> Rectangle:
    return Rectangle(kind="rectangle", origin_mm=(draw(coord), draw(coord)),
                     size_mm=(draw(size), draw(size)))


@st.composite
def ellipses(draw: st.DrawFn) -> Ellipse:
    return Ellipse(kind="ellipse", center_mm=(draw(coord), draw(coord)),
                   radii_mm=(draw(size) / 2, draw(size) / 2))


@st.composite
def star_polygons(draw: st.DrawFn) -> Polygon:
    """Vertices sorted by angle around a centre, every gap < π: always a simple polygon."""
    n = draw(st.integers(3, 12))
    gaps = np.array(draw(st.lists(st.floats(1, 3), min_size=n, max_size=n)))
    gaps = gaps / gaps.sum() * 2 * math.pi
    assume(gaps.max() < 0.95 * math.pi)
    start = draw(st.floats(0, 2 * math.pi))
    angles = start + np.concatenate([[0.0], np.cumsum(gaps)[:-1]])
    radii = draw(st.lists(st.floats(5, 50), min_size=n, max_size=n))
    cx, cy = draw(coord), draw(coord)
    verts = tuple((cx + r * math.cos(a), cy + r * math.sin(a)) for a, r in zip(angles, radii))
    return Polygon(kind="polygon", vertices_mm=verts)


shapes = st.one_of(rectangles(), ellipses(), star_polygons())


def independently_inside(shape: Rectangle | Ellipse | Polygon, x: float, y: float) -> bool:
    """A second implementation of containment (closed, with a µm-scale tolerance)."""
    tol = 1e-6
    if isinstance(shape, Rectangle):
        (ox, oy), (w, h) = shape.origin_mm, shape.size_mm
        return ox - tol <= x <= ox + w + tol and oy - tol <= y <= oy + h + tol
    if isinstance(shape, Ellipse):
        (cx, cy), (rx, ry) = shape.center_mm, shape.radii_mm
        return math.hypot((x - cx) / rx, (y - cy) / ry) <= 1 + tol
    v = shape.vertices_mm
    winding = 0.0  # the winding number via summed angles: ±2π inside, 0 outside
    for (x1, y1), (x2, y2) in itertools.pairwise(v + v[:1]):
        a1, a2 = math.atan2(y1 - y, x1 - x), math.atan2(y2 - y, x2 - x)
        d = a2 - a1
        while d > math.pi:
            d -= 2 * math.pi
        while d < -math.pi:
            d += 2 * math.pi
        winding += d
        # on the boundary: distance to the edge within tolerance
        dx, dy = x2 - x1, y2 - y1
        t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
        if math.hypot(x - x1 - t * dx, y - y1 - t * dy) <= tol:
            return True
    return abs(winding) > math.pi


@given(shapes, pattern, spacing, st.sampled_from(["serpentine", "raster"]))
def test_grid_points_inside_and_spaced(
    shape: Rectangle | Ellipse | Polygon, pat: str, s: float, ordering: str
) -> None:
    assert shape.problems() == []
    xy = np.asarray(generate_grid(shape, pat, s, ordering))  # type: ignore[arg-type]
    for x, y in xy:
        assert independently_inside(shape, float(x), float(y)), (x, y)
    if len(xy) > 1:
        d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
        np.fill_diagonal(d, np.inf)
        assert d.min() >= s * (1 - 1e-9)
    # Every lattice point inside the shape is used: none is dropped.
    rows = lattice(shape, pat, s)  # type: ignore[arg-type]
    assert sum(len(row) for row in rows) == len(xy)


@given(shapes, pattern, spacing)
def test_serpentine_order(shape: Rectangle | Ellipse | Polygon, pat: str, s: float) -> None:
    xy = generate_grid(shape, pat, s, "serpentine")  # type: ignore[arg-type]
    assume(len(xy) > 0)
    rows: list[list[float]] = []
    ys: list[float] = []
    for x, y in xy:
        if not ys or abs(y - ys[-1]) > 1e-9:
            ys.append(float(y))
            rows.append([])
        rows[-1].append(float(x))
    assert all(b > a for a, b in itertools.pairwise(ys)), "rows go bottom to top, each visited once"
    for k, row in enumerate(rows):
        steps = np.diff(row)
        assert np.all(steps > 0) if k % 2 == 0 else np.all(steps < 0)


@given(shapes, pattern, spacing)
def test_raster_order_and_same_points(shape: Rectangle | Ellipse | Polygon, pat: str, s: float) -> None:
    ser = generate_grid(shape, pat, s, "serpentine")  # type: ignore[arg-type]
    ras = np.asarray(generate_grid(shape, pat, s, "raster"))  # type: ignore[arg-type]
    assert sorted(ser) == sorted(map(tuple, ras.tolist()))
    ys = ras[:, 1]
    same_row = np.abs(np.diff(ys)) <= 1e-9
    assert np.all(np.diff(ras[:, 0])[same_row] > 0)
    assert np.all(np.diff(ys)[~same_row] > 0)


def test_hex_grid_density_and_symmetry() -> None:
    rect = Rectangle(kind="rectangle", origin_mm=(-100, -100), size_mm=(200, 200))
    sq = generate_grid(rect, "square", 5)
    hx = generate_grid(rect, "hex", 5)
    assert len(sq) == 41 * 41  # boundary points included
    assert 1.1 < len(hx) / len(sq) < 1.2  # hex packs 2/√3 ≈ 1.155× as many points
    # Anchored at the centre: a centred ellipse has its centre point and a mirror-symmetric grid.
    ell = Ellipse(kind="ellipse", center_mm=(3, 4), radii_mm=(30, 20))
    xy = generate_grid(ell, "square", 7)
    assert any(np.allclose(p, (3, 4)) for p in xy)
    mirrored = {(round(6 - x, 6), round(y, 6)) for x, y in xy}
    assert mirrored == {(round(x, 6), round(y, 6)) for x, y in xy}


def test_an_area_that_misses_every_lattice_point_gives_an_empty_grid() -> None:
    # A "C" whose bounding-box centre, the only lattice point within reach, lies in the notch.
    c = Polygon(kind="polygon", vertices_mm=((0, 0), (10, 0), (10, 1), (1, 1), (1, 9), (10, 9),
                                             (10, 10), (0, 10)))
    assert lattice(c, "square", 20) == []
    assert generate_grid(c, "square", 20) == []


def test_grid_refuses_millions_of_points() -> None:
    rect = Rectangle(kind="rectangle", origin_mm=(0, 0), size_mm=(400, 400))
    with pytest.raises(GridTooLarge):
        generate_grid(rect, "square", 0.5)


@given(st.floats(-50, 50), st.floats(-50, 50))
def test_polygon_containment_matches_winding(x: float, y: float) -> None:
    poly = Polygon(kind="polygon", vertices_mm=((0, 0), (40, 0), (40, 40), (20, 10), (0, 40)))
    out = poly.outline()
    near = [
        np.hypot(x - (x1 + t * (x2 - x1)), y - (y1 + t * (y2 - y1)))
        for (x1, y1), (x2, y2) in itertools.pairwise(out)
        for t in [np.clip(((x - x1) * (x2 - x1) + (y - y1) * (y2 - y1))
                          / ((x2 - x1) ** 2 + (y2 - y1) ** 2), 0, 1)]
    ]
    assume(min(near) > 1e-5)  # the two implementations' boundary tolerances differ
    inside = poly.contains([(x, y)])[0]
    assert inside == independently_inside(poly, x, y)


@pytest.mark.parametrize(
    ("verts", "fragment"),
    [
        (((0, 0), (10, 10), (10, 0), (0, 10)), "intersects itself"),  # bow-tie
        (((0, 0), (10, 0), (10, 10), (5, -5), (0, 10)), "intersects itself"),
        (((0, 0), (10, 0), (20, 0), (15, 0), (10, 10)), "intersects itself"),  # folds back
        (((0, 0), (10, 0), (10, 10), (0, 10), (10, 0)), "intersects itself"),  # touches vertex
        (((0, 0), (5, 5), (10, 10)), "degenerate"),
        (((0, 0), (0, 0), (10, 0), (0, 10)), "degenerate"),  # repeated vertex
        (((0, 0), (600, 0), (0, 10)), "too large"),
    ],
)
def test_polygon_problems(verts: tuple[tuple[float, float], ...], fragment: str) -> None:
    problems = Polygon(kind="polygon", vertices_mm=verts).problems()
    assert problems and fragment in problems[0].message


@pytest.mark.parametrize(
    "verts",
    [((0, 0), (10, 0), (0, 10)), ((0, 0), (0, 10), (10, 0)),  # either orientation
     ((0, 0), (10, 0), (10, 10), (5, 2), (0, 10)),  # concave
     ((0, 0), (10, 0), (10, 5), (10, 10), (0, 10))],  # collinear neighbours are fine
)
def test_simple_polygons_pass(verts: tuple[tuple[float, float], ...]) -> None:
    assert Polygon(kind="polygon", vertices_mm=verts).problems() == []


def test_outlines_are_closed_and_on_the_boundary() -> None:
    for shape in (Rectangle(kind="rectangle", origin_mm=(1, 2), size_mm=(3, 4)),
                  Ellipse(kind="ellipse", center_mm=(1, 2), radii_mm=(3, 4)),
                  Polygon(kind="polygon", vertices_mm=((0, 0), (4, 0), (0, 3)))):
        out = shape.outline()
        assert np.allclose(out[0], out[-1])
        assert all(shape.contains(out))
