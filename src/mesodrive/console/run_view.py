"""Run: the grid with every point coloured by its state, live; the current point; progress
(M of N, volume, time left); the line pressure (warning and limit marked) and the last shot's
measured depth and volume against the plan's; the latched alarm; the controls; the event log."""

from __future__ import annotations

import time
from datetime import datetime

from nicegui import ui

from mesodrive.console import gridmap, pressure
from mesodrive.console.alarm_panel import AlarmPanel
from mesodrive.console.board import STATUSES, LastShot
from mesodrive.console.operator import page_actor, page_operator
from mesodrive.console.runtime import station
from mesodrive.console.ui_helpers import attempt, confirm_dialog
from mesodrive.controller.states import RunState


class RunView:
    def __init__(self) -> None:
        self._version = -1
        self._logged = 0
        self._board_id = 0
        self._kpa: float | None = None
        self._peak: float | None = None
        self.last_drawn_at: float | None = None  # when the map last changed (for the lag test)
        with ui.row().classes("w-full no-wrap items-start gap-6"):
            with ui.column().classes("w-1/2"):
                self.map = ui.html("", sanitize=False).classes("w-full run-grid").mark("run-grid")
                with ui.row().classes("gap-3"):
                    for status in STATUSES:
                        with ui.row().classes("items-center gap-1"):
                            ui.html(f'<span style="display:inline-block;width:14px;height:14px;'
                                    f'border-radius:7px;background:{gridmap.COLOURS[status]}">'
                                    f'</span>', sanitize=False)
                            ui.label(status)
            with ui.column().classes("w-1/2 gap-2"):
                self.alarm = AlarmPanel()
                self.progress = ui.label("No treatment yet: open a plan and start it.") \
                    .classes("text-h5").mark("progress")
                self.volume = ui.label("").classes("text-h6").mark("volume")
                self.eta = ui.label("").classes("text-subtitle1").mark("eta")
                self.current = ui.label("").classes("text-subtitle1").mark("current-point")
                ui.label("Line pressure").classes("text-subtitle2 q-mt-sm")
                self.pressure = ui.html(pressure.render(None), sanitize=False) \
                    .classes("w-full").mark("pressure")
                self.last_shot = ui.label("").classes("text-subtitle1").mark("last-shot")
                self.controls = Controls()
                ui.label("Events").classes("text-h6 q-mt-md")
                self.log = ui.log(max_lines=200).classes("w-full h-64").mark("event-log")

    def refresh(self) -> None:
        s = station()
        self.alarm.refresh()
        self.controls.refresh()
        board, t = s.board, s.treatment
        if board is None or t is None:
            return
        kpa = s.pressure.kpa if s.pressure is not None else None
        if kpa != self._kpa:  # redrawn only when the reading changed
            self._kpa = kpa
            self.pressure.set_content(pressure.render(kpa, self._peak))
        if id(board) != self._board_id:  # a new run
            self._board_id, self._version, self._logged = id(board), -1, 0
            self.log.clear()
        if board.version == self._version:
            return
        snap = board.snapshot()
        self._version = snap.version
        self.map.set_content(gridmap.render(t.plan.points, area=t.plan.plan.area,
                                            zones=t.plan.plan.zones, statuses=snap.statuses,
                                            spacing_mm=t.plan.plan.spacing_mm))
        self.last_drawn_at = time.time()
        self.progress.set_text(f"{snap.done} of {snap.total} points"
                               + (f" · {snap.skipped} skipped" if snap.skipped else ""))
        self.volume.set_text(f"{snap.delivered_ul:.1f} of {snap.planned_ul:.1f} µL delivered")
        self.eta.set_text(f"about {snap.eta_s:.0f} s left" if snap.eta_s is not None else
                          (snap.state.value if snap.state is not None else ""))
        nxt = board.points.get(snap.next_point) if snap.next_point is not None else None
        self._show_last(snap.last_shot)
        self.current.set_text(f"next: point {nxt.point} · {nxt.depth_mm} mm · {nxt.volume_ul} µL"
                              + (f" · {nxt.zone}" if nxt.zone else "") if nxt else "")
        for line in snap.log[self._logged:] if len(snap.log) > self._logged else []:
            stamp = datetime.fromtimestamp(line.at).strftime("%H:%M:%S")
            self.log.push(f"{stamp} {line.text}")
        self._logged = len(snap.log)


    def _show_last(self, shot: LastShot | None) -> None:
        if shot is None:
            return
        if shot.peak_pressure_kpa != self._peak:
            self._peak = shot.peak_pressure_kpa
            self.pressure.set_content(pressure.render(self._kpa, self._peak))
        depth = (f"{shot.reached_depth_mm:.2f} mm measured / {shot.target_depth_mm:g} mm target"
                 if shot.reached_depth_mm is not None else f"{shot.target_depth_mm:g} mm target")
        volume = (f"{shot.delivered_ul:.1f} of {shot.planned_ul:g} µL"
                  if shot.delivered_ul is not None else f"{shot.planned_ul:g} µL planned")
        peak = (f" · peak {shot.peak_pressure_kpa:.0f} kPa"
                if shot.peak_pressure_kpa is not None else "")
        self.last_shot.set_text(f"last: point {shot.point} · depth {depth} · {volume}{peak}")


class Controls:
    """Pause, Resume, Skip the next point (while paused, with a reason), Abort (confirmed, with
    a reason), and Fire in triggered mode. Each is enabled only when the run can take it; the
    station refuses the rest anyway. Each is recorded as this page's operator's."""

    def __init__(self) -> None:
        with ui.row().classes("gap-3"):
            self.pause = ui.button("Pause", on_click=self._pause) \
                .props("color=amber-9 size=lg push icon=pause").mark("pause")
            self.resume = ui.button("Resume", on_click=self._resume) \
                .props("color=green-9 size=lg push icon=play_arrow").mark("resume")
            self.skip = ui.button("Skip point…", on_click=self._ask_skip) \
                .props("color=orange-9 size=lg push icon=skip_next").mark("skip")
            self.fire = ui.button("Fire", on_click=self._fire) \
                .props("color=blue-9 size=lg push icon=bolt").mark("fire")
            self.abort = ui.button("Abort…", on_click=self._ask_abort) \
                .props("color=grey-9 size=lg push icon=stop").mark("abort")
        self._abort_dialog: ui.dialog = confirm_dialog(
            "abort", "Abort the treatment?", "The points not yet delivered are not injected. The run "
            "cannot be continued afterwards.", "Abort", reason_label="Reason (recorded)",
            on_ok=self._abort)
        self._skip_point: int | None = None
        self._skip_dialog: ui.dialog = confirm_dialog(
            "skip", "Skip the next point?", "The point is not injected in this session; the "
            "reason is recorded.", "Skip", reason_label="Reason (recorded)",
            reason_required=True, on_ok=self._skip)

    def _ask_abort(self) -> None:
        self._abort_dialog.open()

    def _ask_skip(self) -> None:
        board = station().board
        self._skip_point = board.snapshot().next_point if board is not None else None
        if self._skip_point is None:
            ui.notify("no point left to skip", type="warning")
            return
        self._skip_dialog.open()

    def refresh(self) -> None:
        s = station()
        t = s.treatment
        state = t.state if t is not None and s.live else None
        self.pause.set_enabled(state in (RunState.RUNNING, RunState.READY, RunState.IDLE))
        self.resume.set_enabled(state is RunState.PAUSED)
        self.skip.set_enabled(state is RunState.PAUSED)
        self.abort.set_enabled(state is not None and state is not RunState.STOPPING)
        self.fire.set_visibility(t is not None and t.plan.mode == "triggered")
        self.fire.set_enabled(state is RunState.RUNNING)

    async def _pause(self) -> None:
        s, by = station(), page_actor()
        await attempt(lambda: s.pause("", by))

    async def _resume(self) -> None:
        s = station()
        owner, operator = ui.context.client.id, page_operator()
        await attempt(lambda: s.resume(owner, operator))

    async def _skip(self, reason: str) -> None:
        s, point, operator = station(), self._skip_point, page_operator()
        if point is not None:
            await attempt(lambda: s.skip(point, reason, operator), f"point {point} skipped")

    async def _fire(self) -> None:
        s = station()
        await attempt(s.fire)

    async def _abort(self, reason: str) -> None:
        s, by = station(), page_actor()
        await attempt(lambda: s.abort(reason, by))
