"""Observers on their own thread: a slow or failing observer never stalls or breaks the caller."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

E = TypeVar("E")
log = logging.getLogger(__name__)


class EventBus(Generic[E]):
    def __init__(self, name: str) -> None:
        self._observers: list[Callable[[E], None]] = []
        self._queue: queue.SimpleQueue[tuple[E] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def subscribe(self, callback: Callable[[E], None]) -> Callable[[], None]:
        """Call `callback(event)` for every later event. Returns the unsubscribe function."""
        self._observers.append(callback)
        return lambda: self._observers.remove(callback)

    def emit(self, event: E) -> None:
        self._queue.put((event,))

    def close(self, timeout: float = 2.0) -> None:
        """Deliver what is queued, then stop."""
        self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            for cb in list(self._observers):
                try:
                    cb(item[0])
                except Exception:  # an observer must never break control flow
                    log.exception("observer %r failed on %r", cb, item[0])
