"""The one `Station` of this server process, outside any module that defines pages (test
fixtures drop those from `sys.modules` after each test; this one keeps the device open)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

from mesodrive.console.config import ConsoleConfig
from mesodrive.console.station import Station

T = TypeVar("T")
_station: Station | None = None


def install(config: ConsoleConfig) -> Station:
    """A fresh station for this configuration (the previous one, if any, is closed)."""
    global _station
    if _station is not None:
        _station.close()
    _station = Station(config)
    return _station


def station() -> Station:
    if _station is None:
        raise RuntimeError("the console's station is not installed")
    return _station


async def in_own_thread(fn: Callable[[], T]) -> T:
    """Run `fn` in a new thread (not a pool that may be busy) and await its result: for the
    e-stop, which must never queue behind slower device calls."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def work() -> None:
        try:
            value = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            loop.call_soon_threadsafe(_fail, future, exc)
        else:
            loop.call_soon_threadsafe(_done, future, value)

    threading.Thread(target=work, name="mesodrive-console-estop", daemon=True).start()
    return await future


def _done(future: asyncio.Future[T], value: T) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[T], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
