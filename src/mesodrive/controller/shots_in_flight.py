"""Shots in flight becoming final: read from the driver's ledger, waited for, or settled by
asking the device — never assumed. Each final shot is booked by the book of points.

Why apart from the engine: this is the only place the run turns driver shot state into book
entries, and every loop here walks the shots in flight (at most the device's queue), never
the session's history.
"""

from __future__ import annotations

import logging

from mesodrive.controller.point_book import FinishedShot, PointBook
from mesodrive.driver.errors import DriverError
from mesodrive.driver.injector import Injector

log = logging.getLogger(__name__)


class ShotsInFlight:
    def __init__(self, inj: Injector, book: PointBook) -> None:
        self.inj, self.book = inj, book

    def collect(self) -> list[FinishedShot]:
        """Book every shot in flight that became final; return them, oldest first."""
        out = []
        for index, (_, device_session) in list(self.book.in_flight.items()):
            shot = self.inj.shot(device_session, index)
            if shot.state.final:
                out.append(self.book.finished(index, shot))
        return out

    def wait_final(self, timeout: float = 3.0) -> None:
        """Wait for each shot in flight to become final; the driver asks the device about any
        that does not (and leaves it UNCERTAIN when it cannot tell)."""
        for index, (_, device_session) in list(self.book.in_flight.items()):
            try:
                self.inj.wait_shot(device_session, index, timeout=timeout)
            except DriverError as exc:
                log.warning("shot %d: %s", index, exc)

    def cancel_queued(self) -> None:
        """Cancel what is queued on the device and settle each shot in flight from its record."""
        try:
            self.inj.cancel_queue()
        except DriverError as exc:
            log.warning("cancel_queue: %s", exc)
        for index, (_, device_session) in list(self.book.in_flight.items()):
            try:
                self.inj.resolve_shot(device_session, index)
            except DriverError as exc:
                log.warning("shot %d: %s", index, exc)
