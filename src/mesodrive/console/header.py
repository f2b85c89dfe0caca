"""The header that cannot be missed: SIMULATOR or the device's serial, the connection, the
calibration profile a treatment applies (and its expiry, or that it expired or is missing),
the engine's state, a latched e-stop, and the E-STOP button."""

from __future__ import annotations

from nicegui import ui

from mesodrive.console.estop import add_estop
from mesodrive.console.runtime import station
from mesodrive.console.ui_helpers import attempt, confirm_dialog
from mesodrive.driver.vocabulary import DeviceState

STATE_COLOURS = {"running": "bg-green-8", "paused": "bg-amber-8", "pausing": "bg-amber-7",
                 "awaiting-recovery": "bg-red-9", "e-stopped": "bg-red-10",
                 "completed": "bg-blue-grey-7", "aborted": "bg-blue-grey-8",
                 "failed": "bg-red-9"}
# The calibration profile's level (ProfileChoice.header) as a colour: an alarm is a real
# device that will not treat (no valid profile), a warning an uncalibrated simulator.
PROFILE_COLOURS = {"ok": "bg-blue-grey-7 text-white", "warning": "bg-amber-6 text-black",
                   "alarm": "bg-red-9 text-white"}


class Header:
    def __init__(self) -> None:
        with ui.header().classes("items-center justify-between no-wrap q-px-md q-py-sm "
                                 "bg-grey-10"):
            with ui.row().classes("items-center gap-x-4 gap-y-1").style("min-width:0"):
                ui.label("mesodrive").classes("text-h5 text-white")
                self.device = ui.label("").classes("text-h6 q-px-sm rounded").mark("device")
                self.link = ui.label("").classes("text-subtitle1 text-white").mark("link")
                self.profile = ui.label("").classes("text-subtitle1 q-px-sm rounded") \
                    .mark("profile")
                self.run = ui.label("").classes("text-h6 q-px-md rounded text-white") \
                    .mark("run-state")
                self.latch = ui.label("").classes("text-h6 q-px-md rounded bg-red-10 "
                                                  "text-white").mark("latched")
                self.clear = ui.button("Clear e-stop…", on_click=self._ask_clear) \
                    .props("color=amber-9 push").mark("clear")
                self.connect = ui.button("Connect", on_click=self._connect) \
                    .props("color=blue-grey-6 push").mark("connect")
            add_estop()
        self._latched_text: str | None = None
        self._clear_dialog = confirm_dialog(
            "clear", "Clear the emergency stop",
            "Check the patient and the device first. The reason is recorded.", "Clear",
            reason_label="Why is it safe to clear?", reason_required=True, on_ok=self._clear)

    async def _connect(self) -> None:
        await attempt(station().connect)

    def _ask_clear(self) -> None:
        self._clear_dialog.open()

    async def _clear(self, reason: str) -> None:
        s = station()
        text = await attempt(lambda: s.clear(reason))
        if text:
            ui.notify(text, type="positive", position="top")

    def refresh(self) -> None:
        s = station()
        label = s.device_label()
        self.device.set_text(label)
        self.device.classes(replace="text-h6 q-px-sm rounded " + (
            "bg-amber-6 text-black" if s.simulated else "bg-blue-grey-6 text-white"))
        if s.inj is None:
            self.link.set_text("connecting…" if s.connecting or not s.connect_problem
                               else f"NOT CONNECTED: {s.connect_problem}")
        else:
            dev = s.device_state()
            self.link.set_text(("LINK LOST" if not s.link_ok() else "connected")
                               + (f" · device {dev.name.lower()}" if dev is not None else ""))
        self._refresh_profile()
        t = s.treatment
        state = t.state.value if t is not None else "no run"
        self.run.set_text(f"run: {state}" + (f" · session {t.session}" if t else ""))
        self.run.classes(replace="text-h6 q-px-md rounded text-white "
                         + STATE_COLOURS.get(state, "bg-grey-8"))
        latched = s.device_state() in (DeviceState.ESTOPPED, DeviceState.FAULT)
        dev_state = s.device_state()
        self.latch.set_text("E-STOPPED (latched)" if dev_state is DeviceState.ESTOPPED
                            else "DEVICE FAULT (latched)" if latched else "")
        self.latch.set_visibility(latched)
        self.clear.set_visibility(latched and not s.live)
        self.connect.set_visibility(s.inj is None and not s.connecting)

    def _refresh_profile(self) -> None:
        s = station()
        choice = s.service.profile_status(s.inj) if s.inj is not None else None
        self.profile.set_visibility(choice is not None)
        if choice is None:
            return
        text, level = choice.header()
        self.profile.set_text(f"calibration: {text}")
        self.profile.classes(replace="text-subtitle1 q-px-sm rounded "
                             + PROFILE_COLOURS.get(level, "bg-grey-8 text-white"))
