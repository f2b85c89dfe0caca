"""Small helpers every screen uses: a refusal becomes a notification, never a traceback, and
every station call acts for the operator of the page it came from (`acting`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nicegui import run, ui

from mesodrive.console.acting import acting_as
from mesodrive.console.operator import page_operator
from mesodrive.console.refusal import ConsoleRefusal

log = logging.getLogger(__name__)
T = TypeVar("T")


async def attempt(fn: Callable[[], T], done: str | None = None) -> T | None:
    """Run a blocking station call in a thread, as this page's operator; a refusal or an
    unexpected error is shown in words (and logged), and None returned."""
    try:
        value = await run.io_bound(acting_as(page_operator(), fn))
    except ConsoleRefusal as exc:
        ui.notify(str(exc), type="warning", multi_line=True, position="top")
        return None
    except Exception as exc:
        log.exception("console action failed")
        ui.notify(f"that did not work: {exc}", type="negative", position="top")
        return None
    if done:
        ui.notify(done, type="positive", position="top")
    return value


def confirm_dialog(name: str, title: str, body: str, action: str, *, reason_label: str | None = None,
                   reason_required: bool = False,
                   on_ok: Callable[[str], Awaitable[None]]) -> ui.dialog:
    """A dialog (its elements marked `NAME-reason`, `NAME-ok`, `NAME-cancel`) that does not close on Escape (Escape is the e-stop) nor on a click outside."""
    with ui.dialog().props("persistent no-esc-dismiss") as dialog, ui.card().classes("w-96"):
        ui.label(title).classes("text-h6")
        ui.label(body)
        reason = ui.input(reason_label or "").classes("w-full").mark(f"{name}-reason") \
            if reason_label else None

        async def ok() -> None:
            text = reason.value.strip() if reason is not None else ""
            if reason_required and not text:
                ui.notify("a reason is needed (it is recorded)", type="warning")
                return
            dialog.close()
            await on_ok(text)

        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat").mark(f"{name}-cancel")
            ui.button(action, on_click=ok).props("color=negative").mark(f"{name}-ok")
    return dialog
