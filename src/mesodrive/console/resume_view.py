"""Unfinished treatments: the sessions a crashed host (or a second Ctrl-C, or a console that
was stopped) left open, each with Resume — `mesodrive resume SESSION` from the page.

Resume goes through the treatment service's resume path: every shot the records show as sent
and not settled is settled by asking the device (from its record of that boot, or its
non-volatile journal after a reboot; uncertain, counted as delivered, when it cannot prove
what happened), nothing is ever injected twice, and the run continues after them on the Run
screen. It needs the page's operator name (recorded with the resume) and a connected device
that is not e-stopped. Shown on the Plan screen, where a treatment is started; it looks again
when asked and whenever no run is live.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from mesodrive.console.operator import NEEDED, page_operator
from mesodrive.console.runtime import station
from mesodrive.console.ui_helpers import attempt
from mesodrive.records import SessionSummary

LOOK_EVERY_S = 5.0


class ResumePanel:
    def __init__(self, on_resumed: Callable[[], None]) -> None:
        self._on_resumed = on_resumed
        self._shown: tuple[int, ...] | None = None
        self.card = ui.card().classes("w-full bg-amber-1").mark("resumable")
        self.card.set_visibility(False)
        ui.timer(LOOK_EVERY_S, self.load)
        ui.timer(0.1, self.load, once=True)

    async def load(self) -> None:
        s = station()
        if s.live:
            self._show([])
            return
        sessions = await attempt(s.open_sessions)
        if sessions is not None:
            self._show(sessions)

    def _show(self, sessions: list[SessionSummary]) -> None:
        ids = tuple(x.id for x in sessions)
        if ids == self._shown:
            return
        self._shown = ids
        self.card.clear()
        self.card.set_visibility(bool(sessions))
        with self.card:
            ui.label("Unfinished treatments").classes("text-h6")
            ui.label("The host stopped while these ran. Resume settles every shot in doubt by "
                     "asking the device (never injecting a point twice), then continues.") \
                .classes("text-body2")
            for x in sessions:
                planned = f" of {x.points_planned}" if x.points_planned is not None else ""
                with ui.row().classes("items-center gap-4"):
                    ui.label(f"session {x.id} · started {x.started_at[:19].replace('T', ' ')} "
                             f"UTC · patient {x.patient_ref or '—'} · {x.product_id or x.mode}"
                             f" · {x.points_done}{planned} points given") \
                        .mark(f"resumable-{x.id}")
                    ui.button("Resume", on_click=lambda n=x.id: self._resume(n)) \
                        .props("color=green-9 push icon=play_arrow").mark(f"resume-session-{x.id}")

    async def _resume(self, session: int) -> None:
        s = station()
        owner, operator = ui.context.client.id, page_operator()
        if operator is None:
            ui.notify(NEEDED, type="warning", position="top")
            return
        resumed = await attempt(lambda: s.resume_session(session, owner, operator),
                                f"session {session} resumed")
        if resumed is not None:
            self._shown = None
            await self.load()
            self._on_resumed()
