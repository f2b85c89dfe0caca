"""The run engine: executes a validated plan on one injector, recording every shot.

This module is the run's loop and state machine only — what the run does in each state and
how it moves between them. The parts it drives live beside it, one concept each:

- `scheduler.ShotScheduler`: which point goes next and when it fires (auto cadence on the
  device clock, or preloaded for the pedal);
- `point_book.PointBook`: where every point stands, by the one rule of `delivery.py`
  (`shot_delivered`, re-exported here, is that rule's "never re-inject" answer);
- `shots_in_flight`: shots sent becoming final (read, waited for, or asked about);
- `device_watch`, `fault_alarms`: the device leaving the session on its own, and a fault as
  an alarm naming the point it struck, in public units;
- `alarm_handling`: an alarm recorded, the policy asked, a retry or skip carried out;
- `device_actions`: disarm / clear / home / prime / refill / reconnect, ordered by `restore`;
- `run_requests`: pause / resume / abort / e-stop posted from other threads;
- `run_events`, `run_result`, `run_config`: what observers and callers see.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mesodrive.controller.alarm_handling import AlarmHandling
from mesodrive.controller.delivery import shot_delivered
from mesodrive.controller.device_actions.prepare import prepare_device
from mesodrive.controller.device_watch import Estopped, device_turn, in_trouble, refusal_problem
from mesodrive.controller.fault_alarms import FAULT_PROBLEMS
from mesodrive.controller.operator_skip import SkipRequest, refuse_skip, skip_point
from mesodrive.controller.point_book import MAX_QUEUE, PointBook
from mesodrive.controller.recovery import (
    Decision,
    Problem,
    ProblemKind,
    RecoveryPolicy,
    abort_policy,
)
from mesodrive.controller.run_config import RunConfig
from mesodrive.controller.run_events import (
    AlarmRaised,
    PointFinished,
    Progress,
    RunEvent,
    RunProgress,
    RunStateChanged,
)
from mesodrive.controller.run_gc import no_full_collections
from mesodrive.controller.run_requests import RunRequest, RunRequests
from mesodrive.controller.run_result import RunResult, ScheduleStats
from mesodrive.controller.scheduler import ShotScheduler
from mesodrive.controller.shot_rows import shot_row
from mesodrive.controller.shots_in_flight import ShotsInFlight
from mesodrive.controller.states import RunState, RunStateMachine
from mesodrive.driver.errors import DriverError, LinkLostError
from mesodrive.driver.event_bus import EventBus
from mesodrive.driver.injector import Injector
from mesodrive.driver.shots import Shot, ShotState
from mesodrive.driver.vocabulary import DeviceState, RejectReason
from mesodrive.plan import ValidatedPlan
from mesodrive.records import RecordStore

__all__ = [
    "FAULT_PROBLEMS", "AlarmRaised", "PointFinished", "Progress", "RunConfig", "RunEngine",
    "RunEvent", "RunProgress", "RunRequest", "RunResult", "RunStateChanged", "ScheduleStats",
    "shot_delivered",
]

log = logging.getLogger(__name__)
S = RunState
R = RunRequest


class RunEngine:
    def __init__(
        self,
        injector: Injector,
        plan: ValidatedPlan,
        store: RecordStore,
        session_id: int,
        *,
        policy: RecoveryPolicy = abort_policy,
        config: RunConfig | None = None,
        first_index: int = 0,
        delivered: dict[int, float] | None = None,
        uncertain: set[int] | None = None,
        partial: set[int] | None = None,
        skipped: dict[int, str] | None = None,
    ) -> None:
        self.inj = injector
        self.plan = plan
        self.store = store
        self.session = session_id
        self.policy = policy
        self.config = config or RunConfig()
        self.result = RunResult(S.IDLE)
        self.book = PointBook({p.point: p.volume_ul for p in plan.points}, self.result,
                              delivered=delivered or {}, uncertain=uncertain or (),
                              partial=partial or (), skipped=skipped or {},
                              recent=MAX_QUEUE + 2)
        self._flight = ShotsInFlight(injector, self.book)
        self.scheduler = ShotScheduler(injector, plan, self.book, self.result.stats, self.config,
                                       first_index)
        self._alarms = AlarmHandling(injector, store, session_id, lambda p: self.policy(p),
                                     self.book, self.scheduler, plan.device.syringe_ul)
        self.device_sessions: list[int] = []  # every device session armed, fresh at each arm
        self._requests = RunRequests()
        self._abort_reason = ""
        self._skip: SkipRequest | None = None
        self._bus: EventBus[RunEvent] = EventBus("mesodrive-run-events")
        self._sm = RunStateMachine(self._on_state)
        self._alarm: str | None = None
        self._rejection: tuple[int, str] | None = None  # (point, reason) of a refused shot
        self._problem: Problem | None = None
        injector.journal = self._journal

    # ----- public control (any thread) --------------------------------------------------------
    @property
    def state(self) -> RunState:
        return self._sm.state

    def subscribe(self, callback: Callable[[RunEvent], None]) -> Callable[[], None]:
        return self._bus.subscribe(callback)

    def pause(self) -> None:
        self._requests.post(R.PAUSE)

    def resume(self) -> None:
        self._requests.post(R.RESUME)

    def abort(self, reason: str = "operator abort") -> None:
        self._abort_reason = reason
        self._requests.post(R.ABORT)

    def skip(self, request: SkipRequest) -> None:
        """Skip a pending point while paused (`operator_skip`); `request.done` when handled."""
        self._skip = request
        self._requests.post(R.SKIP)

    def estop(self) -> float:
        """Emergency stop now, from any thread; the run ends ESTOPPED."""
        latency = self.inj.estop()
        self.store.record_action(self.session, "estop", "emergency stop")
        self._requests.post(R.ESTOP)
        return latency

    # ----- the run ------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Execute the plan until it completes, is aborted, fails or is e-stopped."""
        # No full garbage collection while the run lasts: one pauses every thread, the
        # heartbeat's included, for tens of ms (see run_gc).
        with no_full_collections():
            self._run()
        return self.result

    def _run(self) -> None:
        try:
            self._prepare()
            while not self.state.terminal:
                if self._requests.take(R.ESTOP):
                    self._go(S.ESTOPPED)
                    break
                if self._skip is not None and self.state is not S.PAUSED \
                        and self._requests.take(R.SKIP):
                    refuse_skip(self._skip, f"the run is {self.state.value}, not paused")
                    self._skip = None
                step = {
                    S.RUNNING: self._step_running,
                    S.PAUSING: self._step_pausing,
                    S.PAUSED: self._step_paused,
                    S.AWAITING_RECOVERY: self._step_recovery,
                    S.STOPPING: self._step_stopping,
                }[self.state]
                try:
                    step()
                except LinkLostError as exc:
                    self._enter_recovery(Problem(ProblemKind.LINK_LOST, self.book.next_point(),
                                                 str(exc)))
                except DriverError:
                    # The device changed under us mid-step (reboot, fault, link): the next
                    # step's fault check turns that into a recovery. Anything else is fatal.
                    if not in_trouble(self.inj):
                        raise
        except DriverError as exc:
            log.error("run failed: %s", exc)
            self._fail(f"device error: {exc}")
        except Exception as exc:
            self._fail(f"internal error: {exc!r}")
            raise
        finally:
            self._finish()
            refuse_skip(self._skip, "the run has ended")

    def _prepare(self) -> None:
        prepare_device(self.inj)
        self._arm()
        self._go(S.READY)
        self._go(S.RUNNING)
        self._emit_progress()

    def _arm(self) -> None:
        self.device_sessions.append(self.inj.arm(telemetry_ms=self.config.telemetry_ms))
        self.book.new_arm()
        self.scheduler.restart()  # a new schedule starts: not an underrun

    def _sleep(self) -> None:
        self._requests.wait(self.inj.timebase.wall(self.config.poll_s))

    # ----- RUNNING --------------------------------------------------------------------------------
    def _step_running(self) -> None:
        self._collect()
        if self._device_fault():
            return
        if self._rejection is not None:
            self._on_rejection(*self._rejection)
            return
        if self._requests.take(R.ABORT):
            self._go(S.STOPPING)
            return
        if self._requests.take(R.PAUSE):
            self.store.record_action(self.session, "pause", "operator pause")
            self._go(S.PAUSING)
            self._flight.cancel_queued()
            return
        if not self.book.open_points:
            self.inj.disarm()
            self._go(S.COMPLETED)
            return
        nxt = self.book.next_point()
        if self.scheduler.refill_due(nxt):
            if not self.book.in_flight:
                self._enter_recovery(Problem(ProblemKind.REFILL_DUE, nxt,
                                             f"refill the syringe before point {nxt}"))
            else:
                self._sleep()
            return
        self.scheduler.schedule()
        self._sleep()

    # ----- shots becoming final; the device's own turns ----------------------------------------------
    def _collect(self) -> None:
        """Account for every shot in flight that became final."""
        for finished in self._flight.collect():
            shot, point = finished.shot, finished.point
            if finished.delivery.final_for_point:
                self._bus.emit(PointFinished(point, shot))
                self._emit_progress()
            elif shot.state is ShotState.REJECTED:
                if shot.reason == RejectReason.TOO_LATE.name:
                    self.result.stats.late_shots += 1  # the device faults too: handled as such
                elif self._rejection is None:
                    self._rejection = (point, shot.reason)

    def _settle_inflight(self, timeout: float = 3.0) -> None:
        """Make every in-flight shot final by asking the device (never by assuming)."""
        self._flight.wait_final(timeout)
        self._collect()

    def _device_fault(self) -> bool:
        """The device left ARMED on its own (fault, e-stop, reboot): stop and recover."""
        turn = device_turn(self.inj, self.book, self._settle_inflight)
        if isinstance(turn, Estopped):
            self._go(S.ESTOPPED)
        elif turn is not None:
            self._enter_recovery(turn)
        return turn is not None

    def _on_rejection(self, point: int, reason: str) -> None:
        """A refused shot stops scheduling: cancel the queue, settle, and ask."""
        self._rejection = None
        self._flight.cancel_queued()
        self._settle_inflight()
        self._enter_recovery(refusal_problem(point, reason))

    # ----- PAUSING / PAUSED ----------------------------------------------------------------------
    def _step_pausing(self) -> None:
        self._collect()
        if self._device_fault():
            return
        if not self.book.in_flight:  # shot boundary reached; the device retracts after every shot
            self._go(S.PAUSED)
            self._emit_progress()
            return
        self._sleep()

    def _step_paused(self) -> None:
        if self._device_fault():
            return
        if self._requests.take(R.ABORT):
            self._go(S.STOPPING)
        elif self._requests.take(R.SKIP) and (request := self._skip) is not None:
            self._skip = None
            skip_point(self.book, self.store, self.session, request)
            self._emit_progress()
        elif self._requests.take(R.RESUME):
            self.store.record_action(self.session, "resume", "operator resume")
            self.scheduler.restart()
            self._go(S.RUNNING)
        else:
            self._sleep()

    # ----- recovery -------------------------------------------------------------------------------
    def _enter_recovery(self, problem: Problem) -> None:
        self._problem = problem
        self._alarm = self._alarms.record(problem)
        self._bus.emit(AlarmRaised(problem))
        self._go(S.AWAITING_RECOVERY)
        self._emit_progress()

    def _step_recovery(self) -> None:
        problem = self._problem
        assert problem is not None
        answer = self._alarms.ask(problem)
        if answer.decision is Decision.ABORT or self._requests.take(R.ABORT):
            self._abort_reason = answer.reason or f"aborted after {problem.kind.value}"
            self._go(S.STOPPING)
            return
        self._alarms.carry_out(problem, answer, self._settle_inflight)
        self._arm()
        # A shot refused before the re-arm was refused by the device as it was then (faulted,
        # link lost: FAULT_ACTIVE); its point is still open and is scheduled again, and a
        # refusal that still holds will come again. Asking about it now would be a second
        # alarm for the problem just answered.
        self._rejection = None
        self._alarm = None
        self._go(S.RUNNING)

    # ----- STOPPING ---------------------------------------------------------------------------------
    def _step_stopping(self) -> None:
        self.store.record_action(self.session, "abort", self._abort_reason or "operator abort")
        try:
            if not self.inj.link_lost and self.inj.state in (DeviceState.ARMED, DeviceState.FIRING):
                self._flight.cancel_queued()
                self._settle_inflight()
                self.inj.disarm()
        except DriverError as exc:
            log.warning("while stopping: %s", exc)
        self._go(S.ABORTED)

    # ----- bookkeeping ----------------------------------------------------------------------------
    def _go(self, state: RunState) -> None:
        self._sm.go(state)
        self.result.state = state
        self.result.pending = self.book.pending_points()  # at state changes, not per shot

    def _fail(self, reason: str) -> None:
        self._abort_reason = reason
        if not self.state.terminal:
            try:
                self.store.record_alarm(self.session, "run-failed", reason, sync=True)
            except Exception:
                log.exception("could not record the failure")
            self._go(S.FAILED)

    def _finish(self) -> None:
        if not self.state.terminal:
            self._go(S.FAILED)
        try:
            self._settle_inflight(timeout=1.0)
        except Exception:
            log.exception("settling in-flight shots at the end")
        self.result.pending = self.book.pending_points()
        summary = {**self.book.summary(), **self.result.stats.summary(), "reason": self._abort_reason}
        self.store.end_session(self.session, self.state.value, summary)
        self._emit_progress()
        self._bus.close()

    def _on_state(self, old: RunState, new: RunState) -> None:
        self._bus.emit(RunStateChanged(old, new))

    def _emit_progress(self) -> None:
        """O(1): the book keeps its counts and totals as shots become final."""
        book, r = self.book, self.result
        remaining = book.open_points
        eta = remaining * self.scheduler.period_s if remaining and self.state is S.RUNNING else None
        self._bus.emit(Progress(len(r.delivered), len(book), len(r.skipped), book.given_ul,
                                book.planned_ul, eta, self._alarm, cut_short=len(r.partial),
                                next_point=book.next_point()))

    def _journal(self, shot: Shot) -> None:
        """The driver's journal: durable before a shot is sent, off the timing path after."""
        point = self.book.point_of(shot.index)
        self.store.record_shot(self.session, shot_row(shot, -1 if point is None else point),
                               sync=shot.state is ShotState.PENDING)
