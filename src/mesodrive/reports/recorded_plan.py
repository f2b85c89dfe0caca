"""The plan a recorded session ran: its points' positions and zones, and (for pictures) its
area and zone outlines, read back from the session's plan snapshot.

`run` stores ``{"plan": ValidatedPlan.snapshot(), "points": [PlannedPoint as a dict, ...],
"source": path}`` when a session starts. The stored point list is what the run engine
executed, so positions come from it; `restore_snapshot` (which re-validates the plan and
checks its hash) is used for what the list does not hold — the outlines, the overrides — and
for the positions only when a session has no list. A plan that no longer validates (rules
tightened since the session) still exports and draws from its list, without the outlines.

This joins the plan and the records layers, which is why it lives in `reports` (above both,
below the front ends): the records layer may not import `mesodrive.plan`, and the console,
which draws and reports sessions too, may not import the CLI.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mesodrive.plan import PlanError, PlannedPoint, ValidatedPlan, restore_snapshot
from mesodrive.records import SessionView
from mesodrive.records.export import PointPlace


@dataclass(frozen=True)
class RecordedPlan:
    points: tuple[PlannedPoint, ...]  # in treatment order; empty: the session has no plan
    plan: ValidatedPlan | None  # the restored plan (outlines, overrides), when it restores
    notes: tuple[str, ...] = field(default=())  # what could not be read, for stderr

    def places(self) -> dict[int, PointPlace]:
        return {p.point: PointPlace(p.x_mm, p.y_mm, p.zone) for p in self.points}


def _stored_points(snapshot: Mapping[str, Any]) -> tuple[PlannedPoint, ...] | None:
    """The snapshot's point list, or None when absent or not a list of well-formed points."""
    raw = snapshot.get("points")
    if not isinstance(raw, list) or not raw:
        return None
    out = []
    for item in raw:
        if not isinstance(item, dict):
            return None
        try:
            p = PlannedPoint(**item)
        except TypeError:
            return None
        numbers = (p.x_mm, p.y_mm)
        if (not isinstance(p.point, int) or isinstance(p.point, bool)
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           and math.isfinite(v) for v in numbers)
                or not (p.zone is None or isinstance(p.zone, str))):
            return None
        out.append(p)
    return tuple(out)


def recorded_plan(detail: SessionView, *, restore: bool = True) -> RecordedPlan:
    """The session's plan; `restore=False` skips re-validating the plan when the stored point
    list is enough (exports)."""
    snapshot = detail.plan_snapshot if isinstance(detail.plan_snapshot, dict) else {}
    points = _stored_points(snapshot)
    notes: list[str] = []
    vp: ValidatedPlan | None = None
    inner = snapshot.get("plan")
    if isinstance(inner, dict) and (restore or points is None):
        try:
            vp = restore_snapshot(inner)
        except PlanError as exc:
            notes.append(f"the session's plan does not validate today ({len(exc.issues)} "
                         f"issue(s)); using its recorded points without the outlines")
    if points is None:
        if vp is None:
            if "points" in snapshot or inner is not None:
                notes.append("the session's recorded plan has no readable point positions")
            return RecordedPlan((), None, tuple(notes))
        points = vp.points
    elif vp is not None and [(p.point, p.x_mm, p.y_mm) for p in vp.points] != \
            [(p.point, p.x_mm, p.y_mm) for p in points]:
        notes.append("the plan re-validated today places its points differently from the "
                     "recorded run; showing the recorded positions")
    return RecordedPlan(points, vp, tuple(notes))
