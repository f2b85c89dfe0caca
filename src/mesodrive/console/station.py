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
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from mesodrive.console.acting import acting_operator
from mesodrive.console.board import RunBoard
from mesodrive.console.config import ConsoleConfig
from mesodrive.console.policy import AnswerRefused, ConsolePolicy
from mesodrive.console.pressure import PressureWatch
from mesodrive.console.refusal import CONSOLE, ConsoleRefusal, acting_actor, named, words
from mesodrive.console.station_stops import EstopReport, StationStops
from mesodrive.controller.attribution import Actor
from mesodrive.controller.recovery import Answer, Decision
from mesodrive.controller.states import RunState
from mesodrive.controller.treatment import (
    PlanFile,
    Resumable,
    Screening,
    Treatment,
    TreatmentError,
    TreatmentService,
    connect_device,
)
from mesodrive.driver.errors import DriverError
from mesodrive.driver.injector import Injector
from mesodrive.driver.vocabulary import DeviceState
from mesodrive.records import RecordStore, SessionSummary, point_outcomes

__all__ = ["Checklist", "ConsoleRefusal", "EstopReport", "Station", "simulator_url"]
log = logging.getLogger(__name__)
SIMULATOR_URL = "sim://?seed=1&realtime=1"
LIVE = frozenset({RunState.IDLE, RunState.READY, RunState.RUNNING, RunState.PAUSING,
                  RunState.PAUSED, RunState.AWAITING_RECOVERY, RunState.STOPPING})


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


class Station(StationStops):
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
        self.pressure: PressureWatch | None = None  # the line pressure while a run is live
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

    def start(self, checklist: Checklist, owner: str, operator: str | None = None) -> Treatment:
        """Start the open plan after the checklist, as `operator` (the page's; blocking: call
        in a thread)."""
        operator = named(operator)
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
                screening = Screening("console", f"{len(checklist.screening)} items, each "
                                      f"ticked on the page", operator)
                self.policy = ConsolePolicy()
                treatment = self.service.start(vplan, inj, screening, policy=self.policy,
                                               source=str(plan.path), operator=operator,
                                               interval_reason=checklist.interval_reason)
            except TreatmentError as exc:
                raise ConsoleRefusal(words(exc)) from exc
            except DriverError as exc:
                raise ConsoleRefusal(f"the device: {exc}") from exc
            self.service.store.record_action(
                treatment.session, "checklist",
                f"in the web console: product confirmed ({vplan.product.id}: "
                f"{vplan.product.name}); syringe primed; screening: none of the "
                f"{len(checklist.screening)} contraindications applies", operator=operator)
            self._run(treatment, owner, f"session {treatment.session} started by {operator}: "
                                        f"{len(vplan.points)} points")
            return treatment

    def resume_session(self, session: int, owner: str, operator: str | None = None) -> Treatment:
        """Continue a session a crashed host left open (`mesodrive resume`'s path: every open
        shot settled by asking the device, never re-injected), as `operator` (blocking)."""
        operator = named(operator)
        with self._lock:
            if self.live:
                raise ConsoleRefusal("a treatment is already running")
            inj = self.inj
            if inj is None:
                raise ConsoleRefusal("the device is not connected")
            try:
                target: Resumable = self.service.prepare_resume(session)
                self.policy = ConsolePolicy()
                treatment, state = self.service.resume(
                    target, inj, policy=self.policy, by=Actor(operator, CONSOLE))
            except TreatmentError as exc:
                raise ConsoleRefusal(words(exc)) from exc
            except DriverError as exc:  # while settling: nothing was sent
                raise ConsoleRefusal(f"the device: {exc} — nothing was sent; the session "
                                     f"stays open") from exc
            given = len(state.delivered) - len(state.partial)
            board = self._run(treatment, owner, f"session {session} resumed by {operator}: "
                              f"{given} of {len(target.plan.points)} points already delivered "
                              f"({len(state.uncertain)} uncertain), {len(state.partial)} cut "
                              f"short, {len(state.skipped)} skipped")
            for row in state.settled:
                board.note(f"shot {row.index} (point {row.point}) settled: {row.state} — "
                           f"{row.reason}")
            return treatment

    def _run(self, treatment: Treatment, owner: str, note: str) -> RunBoard:
        board = RunBoard(treatment.plan.points, treatment.session)
        board.prime(treatment.result)
        treatment.subscribe(lambda e: board.on_event(e, treatment.result))
        treatment.subscribe_failures(board.on_failure)
        board.note(note)
        self.treatment, self.board, self.owner = treatment, board, owner
        treatment.start()
        if self.pressure is not None:
            self.pressure.stop()
        self.pressure = PressureWatch(treatment.engine.inj, lambda: not treatment.done.is_set())
        threading.Thread(target=self._after_run, args=(treatment, board), daemon=True,
                         name="mesodrive-console-after-run").start()
        return board

    def open_sessions(self) -> list[SessionSummary]:
        """Treatments a crashed host (or a second Ctrl-C) left open, newest first; not the one
        running here."""
        live = self.treatment.session if self.treatment is not None and self.live else None
        return [s for s in reversed(self.service.store.sessions())
                if s.status == "open" and s.mode != "device" and s.id != live]

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

    def pause(self, why: str = "", by: Actor | None = None) -> None:
        """Never refused for want of a name (stopping never waits)."""
        t = self._current()
        if t.state not in (RunState.RUNNING, RunState.READY, RunState.IDLE):
            raise ConsoleRefusal(f"the run is {t.state.value}: nothing to pause")
        t.pause(by or acting_actor(), why)
        if self.board is not None:
            self.board.note("pausing at the next shot boundary" + (f" ({why})" if why else ""))

    def resume(self, owner: str, operator: str | None = None, reason: str = "") -> None:
        operator = named(operator)
        t = self._current()
        if t.state is not RunState.PAUSED:
            raise ConsoleRefusal(f"the run is {t.state.value}, not paused")
        self.owner = owner
        t.resume(Actor(operator, CONSOLE), reason)

    def skip(self, point: int, reason: str, operator: str | None = None) -> str:
        """Skip a pending point while paused, with a reason (recorded); blocking."""
        operator = named(operator)
        if not reason.strip():
            raise ConsoleRefusal("skipping a point needs a reason (it is recorded)")
        t = self._current()
        if t.state is not RunState.PAUSED:
            raise ConsoleRefusal(f"the run is {t.state.value}: pause it first to skip a point")
        done = t.skip(point, reason.strip(), Actor(operator, CONSOLE))
        if not done.skipped:
            raise ConsoleRefusal(f"point {point} was not skipped: {done.problem}")
        if self.board is not None:
            self.board.note(f"point {point} skipped by {operator}: {reason.strip()}")
        return f"point {point} skipped"

    def abort(self, reason: str, by: Actor | None = None) -> None:
        """Never refused for want of a name (stopping never waits)."""
        t = self._current()
        reason = reason.strip() or "operator abort in the web console"
        by = by or acting_actor()
        t.claim("recovery:abort", by)  # an alarm waiting for its answer is answered "abort"
        self.policy.release(f"aborted: {reason}")
        t.abort(reason, by)

    def fire(self) -> None:
        t = self._current()
        if t.plan.mode != "triggered":
            raise ConsoleRefusal("Fire is for triggered plans only")
        if t.state is not RunState.RUNNING:
            raise ConsoleRefusal(f"the run is {t.state.value}: not firing")
        t.soft_trigger()

    def answer(self, number: int, decision: Decision, reason: str,
               refill_ul: float | None = None, operator: str | None = None) -> Answer:
        """An alarm's answer, as `operator`'s; abort needs no name (stopping never waits)."""
        operator = operator if operator is not None else acting_operator()
        if decision is not Decision.ABORT:
            operator = named(operator)
        t = self.treatment
        actions = [f"recovery:{decision.value}"] + (["skip"] if decision is Decision.SKIP else
                                                     ["abort"] if decision is Decision.ABORT
                                                     else [])
        if t is not None:
            for action in actions:
                t.claim(action, Actor(operator, CONSOLE))
        try:
            answer = self.policy.answer(number, decision, reason, refill_ul)
        except AnswerRefused as exc:
            if t is not None:
                for action in actions:
                    t.withdraw(action)
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
        self.pause("the page that started it lost its connection",
                   Actor(None, f"{CONSOLE}, on its own", automatic=True))

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

