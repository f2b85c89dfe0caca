"""The patient's course in the console: every session of a patient reference (as `mesodrive
records course`), and, in the Plan screen's checklist, where the new session would fall —
too early in the course is a warning with a reason field; the reason is recorded with the
session and the treatment service refuses to start without it (`controller.course_check`).

Records are read in a worker thread (`attempt`), never in the page's event loop.
"""

from __future__ import annotations

from typing import Any

from nicegui import background_tasks, ui

from mesodrive.console.runtime import station
from mesodrive.console.ui_helpers import attempt
from mesodrive.controller.course_check import CourseCheck
from mesodrive.controller.treatment import PlanFile
from mesodrive.records.course import TOO_EARLY, Course, CourseSession, patient_course

_COLUMNS = (("session", "session"), ("date", "date (UTC)"), ("product", "product"),
            ("points", "points"), ("volume", "µL"), ("status", "status"),
            ("days", "days since previous"), ("recommended", "recommended"),
            ("timing", "timing"), ("cumulative", "cumulative µL"))


def course_rows(course: Course) -> list[dict[str, Any]]:
    """One table row per session (what `records course` prints)."""
    return [_row(s) for s in course.sessions]


def _row(s: CourseSession) -> dict[str, Any]:
    planned = "?" if s.points_planned is None else str(s.points_planned)
    timing = s.timing.upper() if s.timing == TOO_EARLY else s.timing
    if s.early_reason:
        timing += f" — reason: {s.early_reason}"
    return {"session": s.session, "date": s.started_at[:16].replace("T", " "),
            "product": s.product_id or "—", "points": f"{s.points_done} of {planned}",
            "volume": f"{s.volume_ul:.1f}", "status": s.status,
            "days": "—" if s.days_since is None else str(s.days_since),
            "recommended": s.recommended.describe() if s.recommended else "none",
            "timing": timing, "cumulative": f"{s.cumulative_ul:.1f}"}


class CourseView:
    """A patient reference in, the course out."""

    def __init__(self) -> None:
        ui.label("A patient's course").classes("text-h6")
        with ui.row().classes("items-end gap-3"):
            self.patient = ui.input("patient reference").classes("w-64").mark("course-patient")
            ui.button("Show the course", on_click=self.load).props("icon=timeline") \
                .mark("course-show")
        self.result = ui.column().classes("w-full").mark("course")

    async def show(self, patient: str) -> None:
        self.patient.set_value(patient)
        await self.load()

    async def load(self) -> None:
        patient = str(self.patient.value or "").strip()
        self.result.clear()
        if not patient:
            with self.result:
                ui.label("Give a patient reference.").mark("course-empty")
            return
        store = station().service.store
        course = await attempt(lambda: patient_course(store, patient))
        if course is None:
            return
        with self.result:
            if not course.sessions:
                ui.label(f"No sessions for patient {patient}.").mark("course-empty")
                return
            ui.table(columns=[{"name": n, "label": label, "field": n, "align": "left"}
                              for n, label in _COLUMNS],
                     rows=course_rows(course), row_key="session").classes("w-full") \
                .mark("course-table")
            for key in course.courses():
                ui.label(course.summary(key)).mark("course-summary")


class CourseNotice:
    """In the checklist: where the plan's session falls in the patient's course, and the
    reason field when it is too early."""

    def __init__(self, plan: PlanFile) -> None:
        self.box = ui.column().classes("w-full").mark("course-notice")
        self.check: CourseCheck | None = None
        self._reason: ui.input | None = None
        background_tasks.create(self._load(plan), name="course-check")

    @property
    def reason(self) -> str:
        return str(self._reason.value or "").strip() if self._reason is not None else ""

    async def _load(self, plan: PlanFile) -> None:
        service = station().service
        check = await attempt(lambda: service.course_check(plan.checked))
        if check is None or self.box.is_deleted:
            return
        self.check = check
        with self.box:
            if not check.too_early:
                ui.label(f"Course: {check.describe()}").mark("course-line")
                return
            ui.label(f"Too early in the course: {check.describe()}") \
                .classes("text-warning text-weight-bold").mark("course-warning")
            self._reason = ui.input("Why treat now? (required, recorded)") \
                .classes("w-full").mark("course-reason")
