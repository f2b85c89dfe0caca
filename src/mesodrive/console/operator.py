"""The operator of this page: a name asked once per page, before Start, and recorded with every
action from the page (screening, start, pause, resume, skip, abort, e-stop, clear, alarm
answers). Two practitioners at two browsers are two names in the records, never one
server-wide name.

Kept in the page's own storage (`app.storage.client`: this tab, this connection), so a reload
asks again. Stopping never waits for a name: E-STOP, Pause and Abort from a page without one
are recorded with no operator, saying so; everything that starts or continues a treatment
(Start, Resume, Skip, Retry, Clear) asks for the name first.
"""

from __future__ import annotations

from nicegui import app, ui

from mesodrive.controller.attribution import Actor

KEY = "mesodrive_operator"
VIA = "web console"
NEEDED = "enter your name in the Operator field at the top of the page first (it is recorded)"


def page_operator() -> str | None:
    """The name entered on this page (None outside a page or before one was entered)."""
    try:
        name = app.storage.client.get(KEY)
    except RuntimeError:  # not in a page's context
        return None
    return name.strip() or None if isinstance(name, str) else None


def page_actor(via: str = "") -> Actor:
    """This page's operator as the records name them, with where the action came from."""
    return Actor(page_operator(), f"{VIA}, {via}" if via else VIA)


class OperatorField:
    """The name field, at the top of every screen of the page."""

    def __init__(self) -> None:
        with ui.row().classes("items-center gap-3 q-px-md"):
            self.input = ui.input("Operator (your name: recorded with every action from this "
                                  "page)", value=page_operator() or "",
                                  on_change=lambda e: self._set(e.value)) \
                .props("outlined dense").classes("w-96").mark("operator")
            self.hint = ui.label("").classes("text-warning text-weight-medium") \
                .mark("operator-hint")
        self._set(self.input.value)

    def _set(self, value: object) -> None:
        name = value.strip() if isinstance(value, str) else ""
        app.storage.client[KEY] = name
        self.hint.set_text("" if name else "no name yet: Start, Resume, Skip and Clear ask for it")
