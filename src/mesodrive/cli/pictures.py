"""Pictures of a treatment map: the plan (`plan show`) and what a session did (`records show
--map`), drawn on the same frame so the two can be laid side by side.

The frame: area and zone outlines, the treatment order, equal axes in mm, and the map's
orientation in words. Plan maps are in the patient's own frame (examples/: "x left→right";
the face plan's "left cheek" is at negative x): −x is the **patient's** left, +x the patient's
right, so a face map is not the mirror view of a practitioner facing the patient. +y is the
front of the scalp (hair) or up, toward the forehead (skin).

matplotlib with the Agg backend: files only, never a window, works without a display.
Stored and plan text (zone names, patient refs) is drawn as text: a "$" never starts math.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mesodrive.plan import PlannedPoint, ValidatedPlan, Zone
from mesodrive.plan.geometry import Area
from mesodrive.plan.issues import fmt
from mesodrive.records import PointOutcome, SessionDetail
from mesodrive.records.outcomes import (
    CUT_SHORT,
    DELIVERED,
    NOT_DONE,
    NOT_SETTLED,
    SKIPPED,
    UNCERTAIN,
)

DISCRETE_MAX = 6  # at most this many distinct values: one legend entry each, not a colour bar
DPI = 120

# Outcome → how it is drawn. Colour is never the only cue: each outcome has its own marker.
OUTCOME_STYLE: dict[str, dict[str, Any]] = {
    DELIVERED: {"c": "tab:green", "marker": "o"},
    CUT_SHORT: {"c": "tab:orange", "marker": "o", "edgecolors": "black", "linewidths": 0.8},
    UNCERTAIN: {"c": "tab:red", "marker": "D"},
    SKIPPED: {"c": "tab:purple", "marker": "X"},
    NOT_DONE: {"c": "none", "marker": "o", "edgecolors": "0.45", "linewidths": 1.2},
    NOT_SETTLED: {"c": "black", "marker": "s"},
}

_Y_WORDS = {
    "hair": "← back (nape)      y (mm)      front (forehead) →",
    "skin": "← down      y (mm)      up, toward the forehead →",
}
X_LABEL = "← patient's left      x (mm)      patient's right →"


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (ImportError when matplotlib is not installed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def text(value: object) -> str:
    """Stored or plan text as matplotlib draws it literally: control characters shown
    escaped, "$" escaped so it never starts mathtext."""
    s = "" if value is None else str(value)
    s = "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)
    return s.replace("$", r"\$")


def save(fig: Any, path: Path) -> None:
    """Write and close the figure (OSError / ValueError: the file could not be written)."""
    try:
        fig.savefig(path, dpi=DPI)
    finally:
        pyplot().close(fig)


def _frame(points: Sequence[PlannedPoint], area: Area | None, zones: Iterable[Zone],
           indication: str | None) -> tuple[Any, Any]:
    """Figure and axes with the outlines, the order and the orientation; no points yet."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 7.5))
    if area is not None:
        xs, ys = zip(*area.outline(), strict=True)
        ax.plot(xs, ys, "-", color="black", lw=1.2, label="area")
    for zone in zones:
        xs, ys = zip(*zone.shape.outline(), strict=True)
        ax.plot(xs, ys, "--", lw=1.0, color="tab:orange")
        ax.annotate(text(zone.name), (sum(xs) / len(xs), max(ys)),
                    ha="center", va="bottom", fontsize=8, color="tab:orange")
    ax.plot([p.x_mm for p in points], [p.y_mm for p in points], "-", color="0.8", lw=0.8,
            zorder=1, label="order")
    ax.set_aspect("equal")
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(_Y_WORDS.get(indication or "", "y (mm)"))
    return fig, ax


def _legend_below(fig: Any, ax: Any) -> None:
    # Below the axes, so it never hides points.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, fontsize=7,
              frameon=False)
    fig.tight_layout()


def override_points(vp: ValidatedPlan) -> list[PlannedPoint]:
    """Points whose planned value breaches a soft limit under a recorded override."""
    return [p for p in vp.points
            if any(o.field != "session_volume_ul"
                   and o.covers(o.field, p.point, float(getattr(p, o.field)))
                   for o in vp.overrides)]


def duration(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def draw_plan(vp: ValidatedPlan, name: str, *, color: str = "depth",
              numbers: bool = False) -> Any:
    """The plan's points coloured by depth or volume, first/last, refills and overrides."""
    pts = vp.points
    fig, ax = _frame(pts, vp.plan.area, vp.plan.zones, vp.plan.indication)
    xs = [p.x_mm for p in pts]
    ys = [p.y_mm for p in pts]
    values = [p.depth_mm if color == "depth" else p.volume_ul for p in pts]
    unit = "mm" if color == "depth" else "µL"
    plt = pyplot()
    cmap = plt.get_cmap("viridis")
    lo, hi = min(values), max(values)
    distinct = sorted(set(values))
    if len(distinct) <= DISCRETE_MAX:
        counts = Counter(values)
        for v in distinct:
            shade = cmap(0.5 if hi == lo else (v - lo) / (hi - lo))
            sel = [i for i, value in enumerate(values) if value == v]
            ax.scatter([xs[i] for i in sel], [ys[i] for i in sel], color=shade, s=36, zorder=2,
                       edgecolors="none", label=f"{color} {fmt(v)} {unit} ({counts[v]})",
                       gid=f"value:{fmt(v)}")
    else:
        sc = ax.scatter(xs, ys, c=values, cmap=cmap, s=36, zorder=2, edgecolors="none")
        fig.colorbar(sc, ax=ax, shrink=0.8, label=f"{color} ({unit})")
    ax.plot(xs[:1], ys[:1], marker="^", color="tab:green", ms=11, ls="none", zorder=3,
            label="first (1)")
    ax.plot(xs[-1:], ys[-1:], marker="s", color="tab:red", ms=9, ls="none", zorder=3,
            label=f"last ({len(pts)})")
    if vp.refill_before:
        ax.plot([pts[n - 1].x_mm for n in vp.refill_before],
                [pts[n - 1].y_mm for n in vp.refill_before], marker="o", mfc="none",
                mec="black", ms=13, ls="none", zorder=3, label="refill before")
    over = override_points(vp)
    if over:
        ax.plot([p.x_mm for p in over], [p.y_mm for p in over], marker="o", mfc="none",
                mec="magenta", mew=1.6, ms=15, ls="none", zorder=4,
                label=f"soft-limit override ({len(over)})", gid="overrides")
    if numbers:
        for p in pts:
            ax.annotate(str(p.point), (p.x_mm, p.y_mm), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
    mode = f"auto {fmt(vp.cadence_hz or 0)}/s" if vp.mode == "auto" else "triggered"
    ax.set_title(f"{text(name)}: {text(vp.product.id)} [{vp.product.indication}]\n"
                 f"{len(pts)} points, {vp.estimate.total_volume_ul / 1000:.2f} mL, {mode}, "
                 f"~{duration(vp.estimate.duration_s)}", fontsize=10)
    _legend_below(fig, ax)
    return fig


def outcome_of_each_point(points: Sequence[PlannedPoint],
                          outcomes: Iterable[PointOutcome]) -> list[tuple[PlannedPoint, str]]:
    """Each planned point with its outcome word (a point without a record was not done)."""
    by_point = {o.point: o.outcome for o in outcomes}
    return [(p, by_point.get(p.point, NOT_DONE)) for p in points]


def draw_outcomes(points: Sequence[PlannedPoint], vp: ValidatedPlan | None,
                  detail: SessionDetail, outcomes: Sequence[PointOutcome]) -> Any:
    """What happened at each point, on the plan's frame: one marker style per outcome, the
    share given written beside every point that was cut short."""
    indication = vp.plan.indication if vp is not None else (detail.product or {}).get(
        "indication")
    fig, ax = _frame(points, vp.plan.area if vp else None, vp.plan.zones if vp else (),
                     indication if isinstance(indication, str) else None)
    placed = outcome_of_each_point(points, outcomes)
    for word, style in OUTCOME_STYLE.items():
        group = [p for p, w in placed if w == word]
        if group:
            ax.scatter([p.x_mm for p in group], [p.y_mm for p in group], s=40, zorder=2,
                       label=f"{word} ({len(group)})", gid=f"outcome:{word}", **style)
    full = {o.point: o for o in outcomes}
    for p, word in placed:
        o = full.get(p.point)
        if word == CUT_SHORT and o is not None and o.planned_ul:
            ax.annotate(f"{100 * o.delivered_ul / o.planned_ul:.0f} %", (p.x_mm, p.y_mm),
                        xytext=(4, 4), textcoords="offset points", fontsize=7,
                        color="tab:orange", gid="cut-short-share")
    s = detail.summary
    planned = len(points)
    given = sum(1 for _, w in placed if w in (DELIVERED, CUT_SHORT, UNCERTAIN))
    ax.set_title(f"session {s.id}: {text(s.status)} · {text(s.patient_ref or '-')} · "
                 f"{text(s.product_id or '-')} · {text(s.started_at[:16].replace('T', ' '))}\n"
                 f"{given} of {planned} points given, {s.volume_delivered_ul:.1f} µL delivered",
                 fontsize=10)
    _legend_below(fig, ax)
    return fig
