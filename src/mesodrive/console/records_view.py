"""Records: the sessions, a session's point-by-point outcome (`records.point_outcomes`, the
words a clinician reads), its alarms and operator actions, and the chain's verification; a
session's printable report (`mesodrive.reports`, as `mesodrive report`: a download) and a
patient's course (`course_view`)."""

from __future__ import annotations

from typing import Any

from nicegui import events, ui

from mesodrive.console.course_view import CourseView
from mesodrive.console.runtime import station
from mesodrive.console.ui_helpers import attempt
from mesodrive.records import SessionDetail, SessionSummary, point_outcomes
from mesodrive.reports import build_report, render_html

SESSIONS_SHOWN = 200


class RecordsView:
    def __init__(self) -> None:
        with ui.row().classes("gap-3 items-center"):
            ui.button("Refresh", on_click=self.load).props("icon=refresh").mark("records-refresh")
            ui.button("Verify the records", on_click=self._verify) \
                .props("icon=verified").mark("records-verify")
            self.verdict = ui.label("").classes("text-subtitle1").mark("records-verdict")
        cols = [{"name": n, "label": label, "field": n, "align": "left"} for n, label in (
            ("id", "session"), ("started", "started (UTC)"), ("status", "status"),
            ("patient", "patient"), ("product", "product"), ("points", "points"),
            ("volume", "µL"))]
        self.table = ui.table(columns=cols, rows=[], row_key="id",
                              pagination=10).classes("w-full").mark("sessions")
        self.table.on("rowClick", self._open)
        self.detail = ui.column().classes("w-full").mark("session-detail")
        self.course = CourseView()

    async def load(self) -> None:
        s = station()
        rows = await attempt(lambda: s.service.store.sessions())
        if rows is None:
            return
        self.table.rows = [_row(r) for r in reversed(rows[-SESSIONS_SHOWN:])]
        self.table.update()

    async def _open(self, e: events.GenericEventArguments) -> None:
        args: Any = e.args
        row = args[1] if isinstance(args, list) and len(args) > 1 else {}
        number = row.get("id") if isinstance(row, dict) else None
        if not isinstance(number, int):
            return
        await self.show(number)

    async def show(self, number: int) -> None:
        s = station()
        detail = await attempt(lambda: s.service.store.session(number))
        if detail is not None:
            self._show(detail)

    def _show(self, d: SessionDetail) -> None:
        self.detail.clear()
        with self.detail:
            with ui.row().classes("items-center gap-3"):
                ui.label(f"Session {d.summary.id}: {d.summary.status}").classes("text-h6")
                ui.button("Report (HTML, to print)", on_click=lambda: self.report(d.id)) \
                    .props("icon=print").mark("records-report")
                patient = d.summary.patient_ref
                if patient is not None:
                    ui.button(f"Course of {patient}", on_click=lambda: self.course.show(patient)) \
                        .props("flat icon=timeline").mark("records-course")
            outcomes = point_outcomes(d)
            cols = [{"name": n, "label": label, "field": n, "align": "left"} for n, label in (
                ("point", "point"), ("outcome", "outcome"), ("depth", "depth mm"),
                ("reached", "reached mm"), ("planned", "planned µL"),
                ("delivered", "delivered µL"), ("shots", "shots"))]
            ui.table(columns=cols, row_key="point", pagination=20, rows=[
                {"point": o.point, "outcome": o.text, "depth": _n(o.depth_mm),
                 "reached": _n(o.reached_mm), "planned": _n(o.planned_ul),
                 "delivered": _n(o.delivered_ul), "shots": ", ".join(map(str, o.shots))}
                for o in outcomes]).classes("w-full").mark("outcomes")
            if d.alarms:
                ui.label("Alarms").classes("text-subtitle1")
                for a in d.alarms:
                    ui.label(f"{a.ts} · {a.code}: {a.detail}").mark("record-alarm")
            ui.label("Operator actions").classes("text-subtitle1")
            for act in d.actions:
                ui.label(f"{act.ts} · {act.action} · {act.operator or '—'}: {act.reason}") \
                    .mark("record-action")

    async def report(self, number: int) -> None:
        """Build the session's report in a thread and hand it to the browser as a download."""
        store = station().service.store
        report = await attempt(lambda: build_report(store, number))
        if report is None:
            return
        page = await attempt(lambda: render_html(report))
        if page is None:
            return
        ui.download.content(page.encode("utf-8"), f"session-{number}-report.html",
                            "text/html; charset=utf-8")
        if not report.chain.ok:
            ui.notify(f"the records do NOT verify ({report.chain.problem}); the report says so",
                      type="negative", multi_line=True, position="top")

    async def _verify(self) -> None:
        s = station()
        result = await attempt(lambda: s.service.store.verify())
        if result is None:
            return
        self.verdict.set_text(f"verified: {result.rows_checked} rows, chain intact"
                              if result.ok else f"VERIFICATION FAILED: {result.problem}")


def _row(r: SessionSummary) -> dict[str, Any]:
    planned = f" of {r.points_planned}" if r.points_planned is not None else ""
    return {"id": r.id, "started": r.started_at[:19].replace("T", " "), "status": r.status,
            "patient": r.patient_ref or "—", "product": r.product_id or r.mode,
            "points": f"{r.points_done}{planned}", "volume": f"{r.volume_delivered_ul:.1f}"}


def _n(v: float | None) -> str:
    return "—" if v is None else f"{v:g}"
