"""Shared by the console tests (no pages here: NiceGUI drops page modules between tests)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from mesodrive.console.runtime import station
from mesodrive.console.station import Checklist, Station
from mesodrive.controller.states import RunState

if TYPE_CHECKING:
    from nicegui.testing import User

DONE = (RunState.COMPLETED, RunState.ABORTED, RunState.FAILED, RunState.ESTOPPED)


async def until(cond: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.05)


def wait(cond: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        time.sleep(0.05)


def full_checklist() -> Checklist:
    return Checklist(Station.screening_questions(), product_confirmed=True, primed=True)


def run_state() -> RunState | None:
    t = station().treatment
    return None if t is None else t.state


def actions(session: int) -> list[tuple[str, str]]:
    detail = station().service.store.session(session)
    return [(a.action, a.reason) for a in detail.actions]


def actors(session: int) -> list[tuple[str, str | None, str]]:
    """(action, operator, reason) of every operator action of the session."""
    detail = station().service.store.session(session)
    return [(a.action, a.operator, a.reason) for a in detail.actions]


async def open_console(user: User, home: str, operator: str | None = "dr-page") -> None:
    """Open the console page, wait for the simulator, and name the page's operator (Start and
    the other actions that carry a name need one; None leaves the page nameless)."""
    await user.open(home)
    await until(lambda: station().inj is not None, what="the simulator to connect")
    if operator:
        user.find(marker="operator").type(operator)
