"""The station's stops: the emergency stop (in a run or outside one, always on the record) and
clearing a latched stop with a reason. Apart from `station` to keep each file to one concern;
`Station` inherits these."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mesodrive.console.policy import ConsolePolicy
from mesodrive.console.refusal import ConsoleRefusal, acting_actor, named, words
from mesodrive.controller.attribution import Actor
from mesodrive.controller.treatment import (
    Treatment,
    TreatmentError,
    TreatmentService,
    latched_stop,
)
from mesodrive.driver.errors import DriverError
from mesodrive.driver.injector import Injector

if TYPE_CHECKING:
    from mesodrive.console.board import RunBoard

log = logging.getLogger(__name__)


@dataclass
class EstopReport:
    """The last emergency stop: how long from the browser's event to the device latched."""

    via: str
    latched: bool
    device_s: float | None = None  # API call -> device reports ESTOPPED
    from_browser_s: float | None = None  # browser event timestamp -> device latched
    problem: str = ""
    at: float = field(default_factory=time.time)
    session: int | None = None  # outside a run: the device session that records it


class StationStops:
    """E-stop and clear; the attributes are the station's."""

    treatment: Treatment | None
    inj: Injector | None
    policy: ConsolePolicy
    service: TreatmentService
    board: RunBoard | None
    last_estop: EstopReport | None

    @property
    def live(self) -> bool:
        raise NotImplementedError

    def estop(self, via: str, browser_ms: float | None = None,
              by: Actor | None = None) -> EstopReport:
        """Emergency stop now (blocking for a few ms: call in a thread of its own), recorded
        as `by`'s (the page's operator; never refused for want of a name). Outside a run it is
        recorded too, in a device session of its own, after the device has stopped."""
        received = time.time()
        t, inj = self.treatment, self.inj
        by = by or acting_actor(via)
        report = EstopReport(via, latched=False)
        try:
            if t is not None and self.live:
                report.device_s = t.estop(by)
                self.policy.release("emergency stop")
            elif inj is not None:
                stopped = self.service.estop_device(inj, by)
                report.device_s, report.problem = stopped.latency_s, stopped.problem
                report.session = stopped.session
                if stopped.unrecorded:
                    log.error("e-stop outside a run not recorded: %s", stopped.unrecorded)
            else:
                report.problem = "no device connected"
            report.latched = report.device_s is not None
        except DriverError as exc:
            report.problem = f"NOT CONFIRMED: {exc} — cut the power"
        if browser_ms is not None and report.device_s is not None:
            # latched when the device confirmed, not after the record of it was written
            report.from_browser_s = received + report.device_s - browser_ms / 1000
        self.last_estop = report
        if self.board is not None:
            self.board.note(self.describe_estop(report), "alarm")
        return report

    @staticmethod
    def describe_estop(r: EstopReport) -> str:
        if not r.latched:
            return f"EMERGENCY STOP ({r.via}): {r.problem}"
        ms = f"{(r.device_s or 0) * 1000:.1f} ms"
        extra = (f", {r.from_browser_s * 1000:.0f} ms from the {r.via}"
                 if r.from_browser_s is not None else "")
        return f"EMERGENCY STOP latched ({r.via}): device confirmed in {ms}{extra}"

    def latched(self) -> str | None:
        inj = self.inj
        if inj is None:
            return None
        stop = latched_stop(inj)
        return None if stop is None else stop.describe()

    def clear(self, reason: str, operator: str | None = None) -> str:
        """Clear a latched e-stop or fault, on the record, as `operator` (default: the page
        this call came from, `acting`); blocking."""
        reason = reason.strip()
        if not reason:
            raise ConsoleRefusal("say why it is safe to clear (it is recorded)")
        operator = named(operator)
        if self.live:
            raise ConsoleRefusal("the run is still ending; wait a moment")
        inj = self.inj
        if inj is None:
            raise ConsoleRefusal("the device is not connected")
        try:
            result = self.service.clear_device(inj, reason, operator=operator)
        except TreatmentError as exc:
            raise ConsoleRefusal(words(exc)) from exc
        except DriverError as exc:
            raise ConsoleRefusal(f"the device: {exc}") from exc
        if result is None:
            return "nothing was latched: nothing to clear"
        if not result.cleared:
            raise ConsoleRefusal(f"the device did not clear: {result.problem} (recorded in "
                                 f"session {result.session})")
        return f"cleared, recorded in session {result.session}"
