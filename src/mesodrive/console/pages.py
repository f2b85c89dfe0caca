"""The console's page: header (with the e-stop), this page's operator, and the Plan, Run and
Records screens, and the server set-up (token gate, device connection at start-up, station closed at shutdown)."""

from __future__ import annotations

import logging

from nicegui import Client, app, run, ui

from mesodrive.console.access import TokenGate
from mesodrive.console.config import ConsoleConfig
from mesodrive.console.estop import add_estop
from mesodrive.console.header import Header
from mesodrive.console.operator import OperatorField
from mesodrive.console.plan_view import PlanView
from mesodrive.console.records_view import RecordsView
from mesodrive.console.run_view import RunView
from mesodrive.console.runtime import install, station

log = logging.getLogger(__name__)
REFRESH_S = 0.05  # how often a page looks at the run (it redraws only what changed)


def _show(tabs: ui.tabs, tab: ui.tab) -> None:
    tabs.set_value(tab)


def index(client: Client) -> None:
    ui.page_title("mesodrive console")
    header = Header()
    OperatorField()
    with ui.tabs().classes("w-full") as tabs:
        plan_tab = ui.tab("Plan").mark("tab-plan")
        run_tab = ui.tab("Run").mark("tab-run")
        records_tab = ui.tab("Records").mark("tab-records")
    s = station()
    with ui.tab_panels(tabs, value=run_tab if s.treatment is not None else plan_tab) \
            .classes("w-full"):
        with ui.tab_panel(plan_tab):
            PlanView(on_started=lambda: _show(tabs, run_tab))
        with ui.tab_panel(run_tab):
            run_view = RunView()
        with ui.tab_panel(records_tab):
            records = RecordsView()
    tabs.on_value_change(lambda e: records.load() if e.value == "Records" else None)

    def refresh() -> None:
        header.refresh()
        run_view.refresh()

    ui.timer(REFRESH_S, refresh)
    refresh()
    async def lost() -> None:  # records the reason (a durable write): not in the event loop
        await run.io_bound(station().owner_lost, client.id)

    client.on_disconnect(lost)


def page_error(exc: Exception) -> None:
    """A page that failed to build: a sentence (the details are in the server's log), and the
    e-stop, which is never out of reach. Never a traceback."""
    log.error("the console page failed: %r", exc)
    with ui.row().classes("items-center gap-6 q-pa-lg"):
        add_estop()
        ui.label("This page could not be shown (the server logged why). Reload it; a run in "
                 "progress carries on, and E-STOP and the Escape key still work.") \
            .classes("text-h6")


def build(config: ConsoleConfig) -> None:
    """Everything `ui.run` serves, for this configuration."""
    s = install(config)
    app.add_middleware(TokenGate, token=config.token, secure=config.tls)
    ui.page("/")(index)
    app.on_page_exception(page_error)

    async def connect() -> None:
        await run.io_bound(s.connect)

    app.on_startup(connect)
    app.on_shutdown(s.close)
