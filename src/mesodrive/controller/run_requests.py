"""Requests to a running engine from other threads (console, CLI, signal handlers): pause,
resume, abort, e-stop, skip (while paused). They are posted here and taken by the run loop at its next step, so
the loop alone changes the run's state; posting wakes a loop that is waiting."""

from __future__ import annotations

import enum
import threading


class RunRequest(enum.Enum):
    PAUSE = "pause"
    RESUME = "resume"
    ABORT = "abort"
    ESTOP = "estop"
    SKIP = "skip"


class RunRequests:
    """A thread-safe set of posted requests with a wake-up for the run loop."""

    def __init__(self) -> None:
        self._posted: set[RunRequest] = set()
        self._wake = threading.Condition()

    def post(self, request: RunRequest) -> None:
        with self._wake:
            self._posted.add(request)
            self._wake.notify_all()

    def take(self, request: RunRequest) -> bool:
        """True (and forget it) if `request` was posted."""
        with self._wake:
            if request in self._posted:
                self._posted.discard(request)
                return True
            return False

    def wait(self, timeout_s: float) -> None:
        """Sleep up to `timeout_s` wall seconds unless a request is (or gets) posted."""
        with self._wake:
            if not self._posted:
                self._wake.wait(timeout_s)
