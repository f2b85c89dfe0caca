"""The plan's grid as an SVG (made here, every text from the plan escaped: the page shows it
without sanitising): the treated area, its zones, and every point coloured by its
state (or, before a run, by its zone). Plain SVG in the page: no JavaScript, scales with the
window, and each point carries `data-point`/`data-status` for tests and assistive tools.

Colours: normal states use green/grey/blue; red is kept for "failed" (it is the colour of a
high-priority alarm, IEC 60601-1-8) and every state has a legend entry, so colour is never the
only cue (the point's tooltip names its state).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape

from mesodrive.console.board import (
    CUT_SHORT,
    DELIVERED,
    FAILED,
    NEXT,
    PENDING,
    SKIPPED,
    UNCERTAIN,
)
from mesodrive.plan import Area, Ellipse, PlannedPoint, Polygon, Rectangle, Zone

COLOURS = {PENDING: "#b0bec5", NEXT: "#1565c0", DELIVERED: "#2e7d32", CUT_SHORT: "#ef6c00",
           SKIPPED: "#6a1b9a", UNCERTAIN: "#f9a825", FAILED: "#c62828"}
ZONE_COLOURS = ("#00838f", "#5d4037", "#ad1457", "#283593", "#558b2f", "#4e342e")
MARGIN_MM = 8.0


def _bounds(points: Iterable[PlannedPoint], shapes: Iterable[Area]) -> tuple[float, ...]:
    xs: list[float] = []
    ys: list[float] = []
    for p in points:
        xs.append(p.x_mm)
        ys.append(p.y_mm)
    for s in shapes:
        if isinstance(s, Rectangle):
            xs += [s.origin_mm[0], s.origin_mm[0] + s.size_mm[0]]
            ys += [s.origin_mm[1], s.origin_mm[1] + s.size_mm[1]]
        elif isinstance(s, Ellipse):
            xs += [s.center_mm[0] - s.radii_mm[0], s.center_mm[0] + s.radii_mm[0]]
            ys += [s.center_mm[1] - s.radii_mm[1], s.center_mm[1] + s.radii_mm[1]]
        elif isinstance(s, Polygon):
            xs += [v[0] for v in s.vertices_mm]
            ys += [v[1] for v in s.vertices_mm]
    if not xs:
        return (-10.0, -10.0, 10.0, 10.0)
    return (min(xs) - MARGIN_MM, min(ys) - MARGIN_MM, max(xs) + MARGIN_MM, max(ys) + MARGIN_MM)


def _shape(s: Area, style: str) -> str:
    # y grows upwards on the plan (forehead / back of the head at +y), downwards in SVG
    if isinstance(s, Rectangle):
        x, y = s.origin_mm
        w, h = s.size_mm
        return f'<rect x="{x}" y="{-(y + h)}" width="{w}" height="{h}" {style}/>'
    if isinstance(s, Ellipse):
        (cx, cy), (rx, ry) = s.center_mm, s.radii_mm
        return f'<ellipse cx="{cx}" cy="{-cy}" rx="{rx}" ry="{ry}" {style}/>'
    if isinstance(s, Polygon):
        pts = " ".join(f"{v[0]},{-v[1]}" for v in s.vertices_mm)
        return f'<polygon points="{pts}" {style}/>'
    return ""


def render(points: tuple[PlannedPoint, ...], *, area: Area | None = None,
           zones: Iterable[Zone] = (), statuses: Mapping[int, str] | None = None,
           spacing_mm: float | None = None) -> str:
    """The SVG text. `statuses` None: colour by zone (the plan preview)."""
    zones = list(zones)
    x0, y0, x1, y1 = _bounds(points, [z.shape for z in zones] + ([area] if area else []))
    r = max(1.2, min(4.0, (spacing_mm or 10.0) * 0.32))
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x0} {-y1} {x1 - x0} {y1 - y0}" '
              f'style="width:100%;max-height:70vh" role="img" aria-label="treatment grid">')]
    if area is not None:
        parts.append(_shape(area, 'fill="#eceff1" stroke="#78909c" stroke-width="0.6"'))
    zone_colour = {z.name: ZONE_COLOURS[i % len(ZONE_COLOURS)] for i, z in enumerate(zones)}
    for z in zones:
        c = zone_colour[z.name]
        parts.append(_shape(z.shape, f'fill="{c}" fill-opacity="0.08" stroke="{c}" '
                                     f'stroke-width="0.5" stroke-dasharray="2 1.5"'))
    for p in points:
        if statuses is None:
            status = p.zone or "no zone"
            fill = zone_colour.get(p.zone or "", "#546e7a")
        else:
            status = statuses.get(p.point, PENDING)
            fill = COLOURS.get(status, COLOURS[PENDING])
        ring = (f' stroke="#0d47a1" stroke-width="{r * 0.5:.2f}"' if status == NEXT
                else ' stroke="#263238" stroke-width="0.15"')
        label = escape(f"point {p.point}: {status} · {p.depth_mm} mm · {p.volume_ul} µL"
                       + (f" · {p.zone}" if p.zone else ""))
        parts.append(f'<circle cx="{p.x_mm}" cy="{-p.y_mm}" r="{r:.2f}" fill="{fill}"{ring} '
                     f'data-point="{p.point}" data-status="{escape(status)}">'
                     f'<title>{label}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)
