"""The console's one device, one treatment service and current treatment, shared by every page.

Every method that talks to the device or the records blocks, so pages call them in a thread
(`run.io_bound`), never in the event loop; the e-stop gets a thread of its own so that a busy
pool can never delay it. Mistakes a page can make (start twice, answer a stale alarm, clear
without a reason) raise `ConsoleRefusal` with a sentence and change nothing.

The page that started a run owns it: if that page loses its connection while the run is live,
the run pauses at the next shot boundary and the records say why (`owner_lost`). Any page
that connects later sees the paused run and may resume it (it then owns it).
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from mesodrive.console.board import RunBoard
from mesodrive.console.config import ConsoleConfig
from mesodrive.console.policy import AnswerRefused, ConsolePolicy
from mesodrive.controller.recovery import Answer, Decision
from mesodrive.controller.states import RunState
from mesodrive.controller.treatment import (
    PlanFile,
    Screening,
    Treatment,
    TreatmentError,
    TreatmentService,
    connect_device,
    latched_stop,
)
from mesodrive.driver.errors import DriverError
from mesodrive.driver.injector import Injector
from mesodrive.driver.vocabulary import DeviceState
from mesodrive.records import RecordStore, point_outcomes

log = logging.getLogger(__name__)
SIMULATOR_URL = "sim://?seed=1&realtime=1"
LIVE = frozenset({RunState.IDLE, RunState.READY, RunState.RUNNING, RunState.PAUSING,
                  RunState.PAUSED, RunState.AWAITING_RECOVERY, RunState.STOPPING})


class ConsoleRefusal(Exception):
    """A request the console refuses, in words for the page; nothing was changed."""


def simulator_url(db: Path | None) -> str:
    """The built-in simulator, its non-volatile journal beside the records (as `mesodrive run`
    does): a crashed session is settled exactly on resume."""
    folder = Path(db or RecordStore.default_path()).parent
    nvm = urllib.parse.quote(str(folder / "simulator-nvm.jsonl"))
    truth = urllib.parse.quote(str(folder / "simulator-shots.jsonl"))
    return f"{SIMULATOR_URL}&nvm={nvm}&shot_log={truth}"


@dataclass(frozen=True)
class Checklist:
    """The pre-treatment checklist as ticked in the page."""

    screening: tuple[str, ...]  # the screening questions ticked "does not apply"
    product_confirmed: bool
    primed: bool
    interval_reason: str = ""  # why now, when too early in the patient's course (course_view)


@dataclass
class EstopReport:
    """The last emergency stop: how long from the browser's event to the device latched."""

    via: str
    latched: bool
    device_s: float | None = None  # API call -> device reports ESTOPPED
    from_browser_s: float | None = None  # browser event timestamp -> device latched
    problem: str = ""
    at: float = field(default_factory=time.time)


class Station:
    def __init__(self, config: ConsoleConfig) -> None:
        self.config = config
        self.url = config.device or simulator_url(config.db)
        self.simulated = self.url.startswith("sim://")
        self.service = TreatmentService(config.db, operator=config.operator)
        self.inj: Injector | None = None
        self.connect_problem = ""
        self.connecting = False
        self.plan: PlanFile | None = None
        self.treatment: Treatment | None = None
        self.board: RunBoard | None = None
        self.policy = ConsolePolicy()
        self.owner: str | None = None  # client id of the page that started (or resumed) the run
        self.last_estop: EstopReport | None = None
        self._lock = threading.RLock()

    # ----- device ------------------------------------------------------------------------------
    def connect(self) -> None:
        """Connect to the device (blocking: call in a thread)."""
        with self._lock:
            if self.inj is not None or self.connecting:
                return
            self.connecting = True
        try:
            inj = connect_device(self.url)
        except TreatmentError as exc:
            self.connect_problem = str(exc)
            return
        finally:
            self.connecting = False
        self.inj, self.connect_problem = inj, ""
        if inj.capabilities.serial.startswith("SIM-"):  # the simulator, behind any transport
            self.simulated = True

    def device_label(self) -> str:
        if self.inj is None:
            return "SIMULATOR" if self.simulated else "device"
        serial = self.inj.capabilities.serial
        return f"SIMULATOR {serial}" if self.simulated else serial

    def device_state(self) -> DeviceState | None:
        inj = self.inj
        if inj is None:
            return None
        try:
            return inj.state
        except Exception:  # noqa: BLE001 - a header must never fail
            return None

    def link_ok(self) -> bool:
        inj = self.inj
        return inj is not None and not inj.link_lost

    # ----- the run -----------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        t = self.treatment
        return t is not None and t.state in LIVE and not t.done.is_set()

    def start(self, checklist: Checklist, owner: str) -> Treatment:
        """Start the open plan after the checklist (blocking: call in a thread)."""
        with self._lock:
            if self.live:
                raise ConsoleRefusal("a treatment is already running")
            plan, inj = self.plan, self.inj
            if plan is None:
                raise ConsoleRefusal("open a plan first")
            if inj is None:
                raise ConsoleRefusal("the device is not connected")
            missing = [q for q in self.screening_questions() if q not in checklist.screening]
            if missing or not checklist.product_confirmed or not checklist.primed:
                raise ConsoleRefusal("complete the checklist before starting")
            try:
                self.service.check_records(create=True)
                self.service.refuse_latched(inj)
                vplan = self.service.validate_for_device(plan, inj)
                screening = Screening("typed", "all items ticked in the web console",
                                      self.config.operator)
                self.policy = ConsolePolicy()
                treatment = self.service.start(vplan, inj, screening, policy=self.policy,
                                               source=str(plan.path),
                                               interval_reason=checklist.interval_reason)
            except TreatmentError as exc:
                raise ConsoleRefusal(_words(exc)) from exc
            except DriverError as exc:
                raise ConsoleRefusal(f"the device: {exc}") from exc
            self.service.store.record_action(
                treatment.session, "checklist",
                f"in the web console: product confirmed ({vplan.product.id}: "
                f"{vplan.product.name}); syringe primed; screening: none of the "
                f"{len(checklist.screening)} contraindications applies")
            board = RunBoard(vplan.points, treatment.session)
            treatment.subscribe(lambda e: board.on_event(e, treatment.result))
            board.note(f"session {treatment.session} started: {len(vplan.points)} points")
            self.treatment, self.board, self.owner = treatment, board, owner
            treatment.start()
            threading.Thread(target=self._after_run, args=(treatment, board), daemon=True,
                             name="mesodrive-console-after-run").start()
            return treatment

    def _after_run(self, treatment: Treatment, board: RunBoard) -> None:
        """When the run (and its session) has ended: the map from the records."""
        treatment.done.wait()
        try:
            board.reconcile(point_outcomes(self.service.store.session(treatment.session)))
            board.note(f"session {treatment.session} ended: {treatment.state.value}; the map "
                       f"now shows the records")
        except Exception:  # the live map stays; the Records screen reads them again
            log.exception("reading the ended session's records")

    @staticmethod
    def screening_questions() -> tuple[str, ...]:
        from mesodrive.controller.treatment import SCREENING

        return SCREENING

    def _current(self) -> Treatment:
        t = self.treatment
        if t is None or not self.live:
            raise ConsoleRefusal("no treatment is running")
        return t

    def pause(self, why: str = "") -> None:
        t = self._current()
        if t.state not in (RunState.RUNNING, RunState.READY, RunState.IDLE):
            raise ConsoleRefusal(f"the run is {t.state.value}: nothing to pause")
        t.pause()
        if self.board is not None:
            self.board.note("pausing at the next shot boundary" + (f" ({why})" if why else ""))

    def resume(self, owner: str) -> None:
        t = self._current()
        if t.state is not RunState.PAUSED:
            raise ConsoleRefusal(f"the run is {t.state.value}, not paused")
        self.owner = owner
        t.resume()

    def abort(self, reason: str) -> None:
        t = self._current()
        reason = reason.strip() or "operator abort in the web console"
        self.policy.release(f"aborted: {reason}")
        t.abort(reason)

    def fire(self) -> None:
        t = self._current()
        if t.plan.mode != "triggered":
            raise ConsoleRefusal("Fire is for triggered plans only")
        if t.state is not RunState.RUNNING:
            raise ConsoleRefusal(f"the run is {t.state.value}: not firing")
        t.soft_trigger()

    def answer(self, number: int, decision: Decision, reason: str,
               refill_ul: float | None = None) -> Answer:
        try:
            answer = self.policy.answer(number, decision, reason, refill_ul)
        except AnswerRefused as exc:
            raise ConsoleRefusal(str(exc)) from exc
        if self.board is not None:
            self.board.note(f"alarm answered: {decision.value} ({answer.reason})")
        return answer

    def owner_lost(self, client: str) -> None:
        """The page `client` lost its connection: if it owns a run in progress, pause it at
        the next shot boundary, on the record."""
        t = self.treatment
        if client != self.owner or t is None or not self.live:
            return
        if t.state not in (RunState.RUNNING, RunState.READY, RunState.IDLE):
            return
        try:
            t.engine.store.record_action(
                t.session, "console-disconnected",
                "the page that started the run lost its connection: pausing at the next shot "
                "boundary")
        except Exception:
            log.exception("could not record the console disconnection")
        self.pause("the page that started it lost its connection")

    # ----- e-stop ------------------------------------------------------------------------------
    def estop(self, via: str, browser_ms: float | None = None) -> EstopReport:
        """Emergency stop now (blocking for a few ms: call in a thread of its own)."""
        received = time.time()
        t, inj = self.treatment, self.inj
        report = EstopReport(via, latched=False)
        try:
            if t is not None and self.live:
                report.device_s = t.estop()
                self.policy.release("emergency stop")
            elif inj is not None:
                report.device_s = inj.estop()
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

    def clear(self, reason: str) -> str:
        """Clear a latched e-stop or fault, on the record (blocking)."""
        reason = reason.strip()
        if not reason:
            raise ConsoleRefusal("say why it is safe to clear (it is recorded)")
        if self.live:
            raise ConsoleRefusal("the run is still ending; wait a moment")
        inj = self.inj
        if inj is None:
            raise ConsoleRefusal("the device is not connected")
        try:
            result = self.service.clear_device(inj, reason)
        except TreatmentError as exc:
            raise ConsoleRefusal(_words(exc)) from exc
        except DriverError as exc:
            raise ConsoleRefusal(f"the device: {exc}") from exc
        if result is None:
            return "nothing was latched: nothing to clear"
        if not result.cleared:
            raise ConsoleRefusal(f"the device did not clear: {result.problem} (recorded in "
                                 f"session {result.session})")
        return f"cleared, recorded in session {result.session}"

    def close(self) -> None:
        self.policy.release("the console is shutting down")
        t = self.treatment
        if t is not None and self.live:
            try:
                t.abort("the console is shutting down")
                t.done.wait(5)
            except Exception:
                log.exception("stopping the run at shutdown")
        if self.inj is not None:
            self.inj.close()
        self.service.close()


def _words(exc: TreatmentError) -> str:
    text = str(exc)
    if exc.issues is not None:
        text += f":\n{exc.issues}"
    if exc.stop is not None:
        text += " — clear it first (the reason is recorded)"
    return text
