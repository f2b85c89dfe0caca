"""The report's two maps, as inline SVG: the points coloured by the volume delivered, and by
the depth error (reached − planned) — or by the commanded depth when the device measured none.

Drawn on the same frame as `plan show` and `records show --map` (cli.pictures): the patient's
own frame, −x the patient's left, +y up (skin) or the front (hair), the area and zone outlines
when the session's plan restores. matplotlib's `Figure` without pyplot: no global state, so
the console can draw in a worker thread. Text is drawn as glyph outlines (matplotlib's SVG
default), so stored text in a title can never become markup in the page.

Colour is never the only cue: points that received nothing are hollow, an uncertain point is a
diamond, a cut-short point has a black rim, a point without a measurement is a grey cross.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mesodrive.records.outcomes import CUT_SHORT, UNCERTAIN
from mesodrive.reports.session_report import PointLine, SessionReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

X_LABEL = "← patient's left      x (mm)      patient's right →"
_Y_WORDS = {"hair": "← back (nape)   y (mm)   front →", "skin": "← down   y (mm)   up →"}
MIN_ERROR_SCALE_MM = 0.05  # the depth-error colour scale spans at least ±this


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # inline: without the XML declaration and doctype


def _indication(report: SessionReport) -> str | None:
    vp = report.recorded.plan
    if vp is not None:
        return vp.plan.indication
    value = report.detail.product.get("indication")
    return value if isinstance(value, str) else None


def _frame(report: SessionReport, title: str) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.6, 5.2))
    ax = fig.add_subplot()
    vp = report.recorded.plan
    if vp is not None:
        if vp.plan.area is not None:
            xs, ys = zip(*vp.plan.area.outline(), strict=True)
            ax.plot(xs, ys, "-", color="black", lw=1.0)
        for zone in vp.plan.zones:
            xs, ys = zip(*zone.shape.outline(), strict=True)
            ax.plot(xs, ys, "--", lw=0.8, color="tab:orange")
    ax.set_aspect("equal")
    ax.set_xlabel(X_LABEL, fontsize=8)
    ax.set_ylabel(_Y_WORDS.get(_indication(report) or "", "y (mm)"), fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=9)
    return fig, ax


def _placed(report: SessionReport) -> list[PointLine]:
    return [p for p in report.points if p.x_mm is not None and p.y_mm is not None]


def _xy(points: Sequence[PointLine]) -> tuple[list[float], list[float]]:
    return [p.x_mm or 0.0 for p in points], [p.y_mm or 0.0 for p in points]


def _legend(fig: Figure, ax: Axes) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=7,
                  frameon=False)


def volume_map(report: SessionReport) -> str | None:
    """Delivered µL per point (None: no point has a position to draw)."""
    placed = _placed(report)
    if not placed:
        return None
    fig, ax = _frame(report, "volume delivered per point (µL)")
    given = [p for p in placed if p.outcome.counts_delivered]
    top = max([p.outcome.planned_ul or 0.0 for p in placed]
              + [p.outcome.delivered_ul for p in placed] + [1e-9])
    style: dict[str, Any] = {"cmap": "viridis", "vmin": 0.0, "vmax": top, "s": 34, "zorder": 2}
    full = [p for p in given if p.outcome.outcome not in (CUT_SHORT, UNCERTAIN)]
    short = [p for p in given if p.outcome.outcome == CUT_SHORT]
    unsure = [p for p in given if p.outcome.outcome == UNCERTAIN]
    mappable = None
    # A thin dark rim on every filled marker: viridis' light end stays visible on paper.
    groups: list[tuple[list[PointLine], dict[str, Any], str]] = [
        (full, {"marker": "o", "edgecolors": "0.3", "linewidths": 0.4}, "delivered"),
        (short, {"marker": "o", "edgecolors": "black", "linewidths": 1.0},
         "cut short (black rim)"),
        (unsure, {"marker": "D", "edgecolors": "0.3", "linewidths": 0.4},
         "uncertain (counted as planned)")]
    for group, extra, label in groups:
        if group:
            xs, ys = _xy(group)
            mappable = ax.scatter(xs, ys, c=[p.outcome.delivered_ul for p in group],
                                  label=f"{label} ({len(group)})", **style, **extra)
    nothing = [p for p in placed if not p.outcome.counts_delivered]
    if nothing:
        xs, ys = _xy(nothing)
        ax.scatter(xs, ys, s=34, marker="o", facecolors="none", edgecolors="0.4",
                   linewidths=1.0, zorder=2, label=f"nothing given ({len(nothing)})")
    if mappable is not None:
        fig.colorbar(mappable, ax=ax, shrink=0.75, label="µL delivered")
    _legend(fig, ax)
    return _svg(fig)


def depth_map(report: SessionReport) -> tuple[str, str] | None:
    """(what it shows, SVG): the depth error where measured, else the commanded depth."""
    placed = _placed(report)
    if not placed:
        return None
    measured = [p for p in placed if p.depth_error_mm is not None]
    if measured:
        fig, ax = _frame(report, "depth error per point: reached − planned (mm)")
        scale = max([abs(p.depth_error_mm or 0.0) for p in measured] + [MIN_ERROR_SCALE_MM])
        xs, ys = _xy(measured)
        # RdYlBu: no white middle, so a point on depth never looks like an empty ring.
        sc = ax.scatter(xs, ys, c=[p.depth_error_mm or 0.0 for p in measured], cmap="RdYlBu_r",
                        vmin=-scale, vmax=scale, s=34, zorder=2, edgecolors="0.3",
                        linewidths=0.4, label=f"measured ({len(measured)})")
        fig.colorbar(sc, ax=ax, shrink=0.75, label="reached − planned depth (mm)")
        rest = [p for p in placed if p.depth_error_mm is None]
        if rest:
            xs, ys = _xy(rest)
            ax.scatter(xs, ys, s=30, marker="x", color="0.45", linewidths=1.0, zorder=2,
                       label=f"no measurement ({len(rest)})")
        what = "depth error"
    else:
        fig, ax = _frame(report, "commanded depth per point (mm): no depth was measured")
        depths = [p.outcome.depth_mm for p in placed]
        xs, ys = _xy(placed)
        sc = ax.scatter(xs, ys, c=[d if d is not None else float("nan") for d in depths],
                        cmap="viridis", s=34, zorder=2)
        fig.colorbar(sc, ax=ax, shrink=0.75, label="commanded depth (mm)")
        what = "commanded depth"
    _legend(fig, ax)
    return what, _svg(fig)
