"""A latched alarm, shown until the operator answers it, with exactly the choices the recovery
policy allows (retry / skip with a reason / abort). High priority (every run-stopping fault):
red, flashing at about 2 Hz (IEC 60601-1-8), with its cause and what to do."""

from __future__ import annotations

from nicegui import ui

from mesodrive.console.operator import page_operator
from mesodrive.console.policy import Question
from mesodrive.console.runtime import station
from mesodrive.console.ui_helpers import attempt
from mesodrive.controller.recovery import Decision, ProblemKind

ALARM_CSS = """
@keyframes mesodrive-flash-high { 0%, 49% { background: #b71c1c; } 50%, 100% { background: #7f0000; } }
.alarm-high { animation: mesodrive-flash-high 0.5s steps(1) infinite; color: white; }
@media (prefers-reduced-motion: reduce) { .alarm-high { animation: none; background: #b71c1c; } }
"""

WHAT_TO_DO = {
    ProblemKind.OCCLUSION: "Check the needle and the line for a blockage; replace the needle "
                           "if needed.",
    ProblemKind.EMPTY_SYRINGE: "Load a new syringe; it is primed before the run continues.",
    ProblemKind.REFILL_DUE: "Refill or swap the syringe; it is primed before the run continues.",
    ProblemKind.CONTACT_LOST: "Put the handpiece back on the skin at the next point.",
    ProblemKind.STALL: "Check the needle axis for an obstruction.",
    ProblemKind.AIR: "Purge the air from the line; it is primed again before continuing.",
    ProblemKind.LINK_LOST: "Check the cable; the console reconnects before continuing.",
    ProblemKind.LATE_SHOT: "The host fell behind; nothing was injected late. Retry continues.",
    ProblemKind.DEVICE_REBOOTED: "The device restarted; it is homed again before continuing.",
    ProblemKind.OTHER_FAULT: "Check the device and the patient.",
}
LABELS = {Decision.RETRY: "Fixed — retry", Decision.SKIP: "Skip the point",
          Decision.ABORT: "Abort the treatment"}
COLOURS = {Decision.RETRY: "green-9", Decision.SKIP: "orange-9", Decision.ABORT: "grey-9"}


class AlarmPanel:
    def __init__(self) -> None:
        ui.add_css(ALARM_CSS)
        self.card = ui.card().classes("alarm-high w-full q-pa-md").mark("alarm")
        self._shown: int | None = None
        self.card.set_visibility(False)

    def refresh(self) -> None:
        q = station().policy.question
        if q is None:
            if self._shown is not None:
                self.card.clear()
                self.card.set_visibility(False)
                self._shown = None
            return
        if q.number == self._shown:
            return
        self._shown = q.number
        self._build(q)

    def _build(self, q: Question) -> None:
        p = q.problem
        self.card.clear()
        self.card.set_visibility(True)
        with self.card:
            ui.label(f"ALARM — {p.kind.value.upper()}").classes("text-h4 text-weight-bold") \
                .mark("alarm-title")
            ui.label(p.detail + (f" · next point {p.point}" if p.point is not None else "")) \
                .classes("text-h6")
            ui.label(WHAT_TO_DO.get(p.kind, WHAT_TO_DO[ProblemKind.OTHER_FAULT])) \
                .classes("text-subtitle1")
            reason = ui.input("Reason (recorded; needed to skip)").props("dark outlined") \
                .classes("w-full").mark("alarm-reason")
            refill = (ui.number("New syringe volume, µL (empty: a full syringe)", min=0)
                      .props("dark outlined").mark("alarm-refill") if q.refill else None)
            with ui.row().classes("gap-4"):
                for d in q.choices:
                    async def choose(d: Decision = d) -> None:
                        volume = refill.value if refill is not None and refill.value else None
                        name, why = page_operator(), reason.value or ""
                        await attempt(lambda: station().answer(q.number, d, why, volume, name))
                    ui.button(LABELS[d], on_click=choose) \
                        .props(f"color={COLOURS[d]} size=lg push") \
                        .mark(f"alarm-{d.value}")
