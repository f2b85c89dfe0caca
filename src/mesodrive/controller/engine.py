"""The run engine: executes a validated plan on one injector, recording every shot.

Auto mode queues shots on the device clock a bounded time ahead (the look-ahead), so host
jitter never delays an injection and a late one is refused by the device, never made late.
Triggered mode keeps the next shots preloaded so a pedal press fires without the host.

Points and shots: a *point* is a place in the plan; a *shot* is one attempt to inject it, with
its own never-reused index. A point is delivered by a shot that is DONE (and moved), or that is
UNCERTAIN (counted as delivered, flagged). A shot certainly not executed (rejected, cancelled,
never received, or refused before the needle moved) leaves its point pending; it is tried
again only with a new index, after the cause is handled — so nothing is ever injected twice.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from mesodrive.controller.recovery import (
    Answer,
    Decision,
    Problem,
    ProblemKind,
    RecoveryPolicy,
    abort_policy,
)
from mesodrive.controller.shot_rows import shot_row
from mesodrive.controller.states import RunState, RunStateMachine
from mesodrive.driver.errors import DriverError, LinkLostError, ShotBlocked, ShotTooLate
from mesodrive.driver.event_bus import EventBus
from mesodrive.driver.injector import Injector
from mesodrive.driver.shots import Shot, ShotOutcome, ShotRequest, ShotState
from mesodrive.driver.vocabulary import DeviceState, Fault, RejectReason
from mesodrive.plan import PlannedPoint, ValidatedPlan, check_point
from mesodrive.records import RecordStore

log = logging.getLogger(__name__)
S = RunState

FAULT_PROBLEMS = {
    Fault.OCCLUSION: ProblemKind.OCCLUSION,
    Fault.OVERPRESSURE: ProblemKind.OCCLUSION,
    Fault.EMPTY_SYRINGE: ProblemKind.EMPTY_SYRINGE,
    Fault.CONTACT_LOST: ProblemKind.CONTACT_LOST,
    Fault.STALL: ProblemKind.STALL,
    Fault.AIR: ProblemKind.AIR,
    Fault.LINK_LOST: ProblemKind.LINK_LOST,
    Fault.LATE_SHOT: ProblemKind.LATE_SHOT,
}


@dataclass(frozen=True)
class RunConfig:
    look_ahead_s: float = 1.0  # shots are queued up to this far ahead on the device clock
    min_lead_s: float = 0.25  # a new shot fires at least this long after "now": room for the
    # durable journal write and the link; a slower write makes the driver refuse, not send late
    preload: int = 3  # triggered mode: shots kept queued on the device
    telemetry_ms: int = 50
    poll_s: float = 0.01


# ----- events ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    skipped: int
    delivered_ul: float
    planned_ul: float
    eta_s: float | None
    alarm: str | None


@dataclass(frozen=True)
class PointFinished:
    point: int
    shot: Shot


@dataclass(frozen=True)
class AlarmRaised:
    problem: Problem


@dataclass(frozen=True)
class RunStateChanged:
    old: RunState
    new: RunState


RunEvent = Progress | PointFinished | AlarmRaised | RunStateChanged


@dataclass
class ScheduleStats:
    """What the benchmark and the summary report about timing."""

    min_slack_s: float | None = None  # least time between queueing a shot and its fire time
    steady_min_slack_s: float | None = None  # the same, leaving out each (re)start's first shot
    underruns: int = 0  # the queue ran dry: a shot could not keep the cadence
    late_shots: int = 0  # the device refused a shot as too late
    shots_sent: int = 0

    def note_slack(self, slack_s: float, *, first: bool) -> None:
        self.min_slack_s = slack_s if self.min_slack_s is None else min(self.min_slack_s, slack_s)
        if not first:
            m = self.steady_min_slack_s
            self.steady_min_slack_s = slack_s if m is None else min(m, slack_s)


@dataclass
class RunResult:
    state: RunState
    delivered: dict[int, float] = field(default_factory=dict)  # point -> µL (planned µL if uncertain)
    uncertain: set[int] = field(default_factory=set)  # delivered points whose shot is UNCERTAIN
    partial: set[int] = field(default_factory=set)  # delivered points whose shot was cut short
    skipped: dict[int, str] = field(default_factory=dict)  # point -> reason
    pending: list[int] = field(default_factory=list)
    stats: ScheduleStats = field(default_factory=ScheduleStats)


def shot_delivered(state: ShotState, outcome: ShotOutcome | None) -> bool:
    """Does this shot count as the point's delivery? UNCERTAIN does (never re-inject); DONE does
    unless the device itself says it stopped before the needle moved (flag NOT_STARTED, set only
    by the contact check). A reported depth of 0 proves nothing: with a depth offset the needle
    can be in the skin while the device believes it is at zero, and a retry is a second puncture."""
    if state is ShotState.UNCERTAIN:
        return True
    if state is not ShotState.DONE:
        return False
    return outcome is None or not outcome.not_started


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
        self._points: dict[int, PlannedPoint] = {p.point: p for p in plan.points}
        self.result = RunResult(S.IDLE, dict(delivered or {}), set(uncertain or ()),
                                set(partial or ()), dict(skipped or {}))
        self._pending = sorted(p for p in self._points if p not in self.result.delivered
                               and p not in self.result.skipped)
        self.result.pending = self._pending
        self._inflight: dict[int, int] = {}  # shot index -> point
        self._sent_under: dict[int, int] = {}  # shot index -> device session it was sent under
        self.device_sessions: list[int] = []  # every device session armed, fresh at each arm
        self._index_point: dict[int, int] = {}
        self._next_index = first_index
        self._last_fire: float | None = None  # device-clock seconds
        self._refilled: set[int] = set()
        self._requests: set[str] = set()  # "pause" | "resume" | "abort"
        self._abort_reason = ""
        self._wake = threading.Condition()
        self._bus: EventBus[RunEvent] = EventBus("mesodrive-run-events")
        self._sm = RunStateMachine(self._on_state)
        self._alarm: str | None = None
        self._rejection: tuple[int, str] | None = None  # (point, reason) of a refused shot
        injector.journal = self._journal

    # ----- public control (any thread) --------------------------------------------------------
    @property
    def state(self) -> RunState:
        return self._sm.state

    def subscribe(self, callback: Callable[[RunEvent], None]) -> Callable[[], None]:
        return self._bus.subscribe(callback)

    def pause(self) -> None:
        self._request("pause")

    def resume(self) -> None:
        self._request("resume")

    def abort(self, reason: str = "operator abort") -> None:
        self._abort_reason = reason
        self._request("abort")

    def estop(self) -> float:
        """Emergency stop now, from any thread; the run ends ESTOPPED."""
        latency = self.inj.estop()
        self.store.record_action(self.session, "estop", "emergency stop")
        self._request("estop")
        return latency

    def _request(self, what: str) -> None:
        with self._wake:
            self._requests.add(what)
            self._wake.notify_all()

    def _take(self, what: str) -> bool:
        with self._wake:
            if what in self._requests:
                self._requests.discard(what)
                return True
            return False

    # ----- the run ------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Execute the plan until it completes, is aborted, fails or is e-stopped."""
        try:
            self._prepare()
            while not self.state.terminal:
                if self._take("estop"):
                    self._go(S.ESTOPPED)
                    break
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
                    self._problem = Problem(ProblemKind.LINK_LOST, self._next_point(), str(exc))
                    self._enter_recovery()
                except DriverError:
                    # The device changed under us mid-step (reboot, fault, link): the next
                    # step's fault check turns that into a recovery. Anything else is fatal.
                    if not self._device_in_trouble():
                        raise
        except DriverError as exc:
            log.error("run failed: %s", exc)
            self._fail(f"device error: {exc}")
        except Exception as exc:
            self._fail(f"internal error: {exc!r}")
            raise
        finally:
            self._finish()
        return self.result

    def _prepare(self) -> None:
        inj = self.inj
        status = inj.status()
        if status.state in (DeviceState.FAULT, DeviceState.ESTOPPED):
            raise DriverError(f"device is in {DeviceState(status.state).name}: clear it first")
        if status.state in (DeviceState.ARMED, DeviceState.FIRING):
            inj.disarm()
            inj.wait_state(DeviceState.READY, timeout=5)
        elif status.state != DeviceState.READY or not status.homed:
            inj.home()
        self._arm()
        self._go(S.READY)
        self._go(S.RUNNING)
        self._emit_progress()

    def _arm(self) -> None:
        self.device_sessions.append(self.inj.arm(telemetry_ms=self.config.telemetry_ms))
        self._last_fire = None  # a new schedule starts: not an underrun

    # ----- RUNNING --------------------------------------------------------------------------------
    def _step_running(self) -> None:
        self._collect()
        if self._device_fault():
            return
        if self._rejection is not None:
            self._on_rejection()
            return
        if self._take("abort"):
            self._go(S.STOPPING)
            return
        if self._take("pause"):
            self.store.record_action(self.session, "pause", "operator pause")
            self._go(S.PAUSING)
            self._cancel_queued()
            return
        if not self._pending and not self._inflight:
            self.inj.disarm()
            self._go(S.COMPLETED)
            return
        if self._refill_due():
            if not self._inflight:
                self._problem = Problem(ProblemKind.REFILL_DUE, self._pending[0],
                                        f"refill the syringe before point {self._pending[0]}")
                self._enter_recovery()
            else:
                self._sleep()
            return
        if self.plan.mode == "auto":
            self._schedule_auto()
        else:
            self._schedule_triggered()
        self._sleep()

    def _sleep(self) -> None:
        with self._wake:
            if not self._requests:
                self._wake.wait(self.inj.timebase.wall(self.config.poll_s))

    def _next_point(self) -> int | None:
        queued = set(self._inflight.values())
        return next((p for p in self._pending if p not in queued), None)

    def _refill_due(self) -> bool:
        nxt = self._next_point()
        return nxt is not None and nxt in self.plan.refill_before and nxt not in self._refilled

    def _schedule_auto(self) -> None:
        cadence = self.plan.cadence_hz or self.plan.estimate.achievable_cadence_hz
        period = 1.0 / cadence
        now = self.inj.device_now()
        lead = self.config.min_lead_s
        horizon = now + self.config.look_ahead_s
        queue_len = self.inj.capabilities.queue_len
        while len(self._inflight) < queue_len - 1:
            point = self._next_point()
            if point is None or (point in self.plan.refill_before and point not in self._refilled):
                return
            if self._last_fire is None:
                fire = now + lead
            else:
                fire = self._last_fire + period
                if fire < now + lead:  # the look-ahead ran dry: the cadence slips, never late
                    self.result.stats.underruns += 1
                    fire = now + lead
            if fire > horizon:
                return
            if not self._send(point, fire, now, first=self._last_fire is None):
                return  # not sent: the next step schedules afresh from a new "now"
            self._last_fire = fire

    def _schedule_triggered(self) -> None:
        while len(self._inflight) < self.config.preload:
            point = self._next_point()
            if point is None or (point in self.plan.refill_before and point not in self._refilled):
                return
            if not self._send(point, None, None, first=False):
                return

    def _send(self, point: int, fire: float | None, now: float | None, *, first: bool) -> bool:
        """Journal and send one shot for `point`; False if it was not sent (point stays pending)."""
        p = self._points[point]
        issues = check_point(self.plan.product, self.plan.device, p, self.plan.overrides)
        if issues:  # validated plans never get here: a failure means something is badly wrong
            raise DriverError(f"point {point} failed the pre-shot check: {issues}")
        index = self._next_index
        self._next_index += 1
        self._index_point[index] = point
        req = ShotRequest(index=index, depth_mm=p.depth_mm, volume_ul=p.volume_ul,
                          flow_ul_s=p.flow_ul_s, speed_mm_s=p.speed_mm_s, dwell_s=p.dwell_s,
                          fire_at=fire)
        try:
            shot = self.inj.queue_shot(req)  # journals (durably) before sending
        except ShotTooLate:
            # Recording it took too long (a slow disk): never sent. The cadence slips.
            self._index_point.pop(index, None)
            self.result.stats.underruns += 1
            self._last_fire = None
            return False
        except ShotBlocked:
            if self.inj.state in (DeviceState.ARMED, DeviceState.FIRING) and not self.inj.link_lost:
                raise  # refused for a reason of our own making: a bug, never retried
            # The device left the session (fault, dead-man, reboot) just now: the point stays
            # pending and the next step handles the device's state.
            self._index_point.pop(index, None)
            return False
        self._inflight[index] = point
        self._sent_under[index] = shot.session
        self.result.stats.shots_sent += 1
        if fire is not None and now is not None:
            self.result.stats.note_slack(fire - now, first=first)
        return True

    # ----- results --------------------------------------------------------------------------------
    def _collect(self) -> None:
        """Account for every shot that became final."""
        for index, point in list(self._inflight.items()):
            shot = self.inj.shot(self._sent_under[index], index)
            if not shot.state.final:
                continue
            del self._inflight[index]
            r = shot.outcome
            if shot_delivered(shot.state, r):
                planned = self._points[point].volume_ul
                self.result.delivered[point] = r.delivered_ul if r else planned
                if shot.state is ShotState.UNCERTAIN:
                    self.result.uncertain.add(point)
                elif r is not None and r.aborted:
                    self.result.partial.add(point)  # under-dosed: reported, never topped up
                self._remove_pending(point)
                self._bus.emit(PointFinished(point, shot))
                self._emit_progress()
            elif shot.state is ShotState.REJECTED:
                if shot.reason == RejectReason.TOO_LATE.name:
                    self.result.stats.late_shots += 1  # the device faults too: handled as such
                elif self._rejection is None:
                    self._rejection = (point, shot.reason)

    def _remove_pending(self, point: int) -> None:
        i = bisect.bisect_left(self._pending, point)
        if i < len(self._pending) and self._pending[i] == point:
            del self._pending[i]

    def _device_fault(self) -> bool:
        """The device left ARMED on its own (fault, e-stop, reboot): stop and recover."""
        inj = self.inj
        if inj.state == DeviceState.ESTOPPED:
            self._settle_inflight()
            self._go(S.ESTOPPED)
            return True
        if inj.rebooted:
            inj.rebooted = False
            self._settle_inflight()
            self._problem = Problem(ProblemKind.DEVICE_REBOOTED, self._next_point(), "the device rebooted")
            self._enter_recovery()
            return True
        if inj.link_lost:
            self._problem = Problem(ProblemKind.LINK_LOST, self._next_point(), "link lost")
            self._enter_recovery()
            return True
        if inj.state == DeviceState.FAULT:
            self._settle_inflight()
            fault = inj.last_fault
            kind = FAULT_PROBLEMS.get(Fault(fault.code), ProblemKind.OTHER_FAULT) if fault else ProblemKind.OTHER_FAULT
            detail = f"{Fault(fault.code).name} (detail {fault.detail})" if fault else "device fault"
            self._problem = Problem(kind, self._next_point(), detail)
            self._enter_recovery()
            return True
        return False

    def _on_rejection(self) -> None:
        """The device refused a shot (never executed). Re-sending it would only be refused
        again: stop scheduling and ask, as for a fault. Too little product left is a refill."""
        assert self._rejection is not None
        point, reason = self._rejection
        self._rejection = None
        self._cancel_queued()
        self._settle_inflight()
        kind = ProblemKind.REFILL_DUE if reason == RejectReason.INSUFFICIENT_VOLUME.name else ProblemKind.OTHER_FAULT
        self._problem = Problem(kind, point, f"the device refused point {point}: {reason}")
        self._enter_recovery()

    def _device_in_trouble(self) -> bool:
        inj = self.inj
        return inj.rebooted or inj.link_lost or inj.state not in (DeviceState.ARMED, DeviceState.FIRING)

    def _settle_inflight(self, timeout: float = 3.0) -> None:
        """Make every in-flight shot final by asking the device (never by assuming)."""
        for index in list(self._inflight):
            try:
                self.inj.wait_shot(self._sent_under[index], index, timeout=timeout)
            except DriverError as exc:
                log.warning("shot %d: %s", index, exc)
        self._collect()

    def _cancel_queued(self) -> None:
        try:
            self.inj.cancel_queue()
        except DriverError as exc:
            log.warning("cancel_queue: %s", exc)
        for index in list(self._inflight):
            try:
                self.inj.resolve_shot(self._sent_under[index], index)
            except DriverError as exc:
                log.warning("shot %d: %s", index, exc)

    # ----- PAUSING / PAUSED ----------------------------------------------------------------------
    def _step_pausing(self) -> None:
        self._collect()
        if self._device_fault():
            return
        if not self._inflight:  # shot boundary reached; the device retracts after every shot
            self._go(S.PAUSED)
            self._emit_progress()
            return
        self._sleep()

    def _step_paused(self) -> None:
        if self._device_fault():
            return
        if self._take("abort"):
            self._go(S.STOPPING)
        elif self._take("resume"):
            self.store.record_action(self.session, "resume", "operator resume")
            self._last_fire = None
            self._go(S.RUNNING)
        else:
            self._sleep()

    # ----- recovery -------------------------------------------------------------------------------
    _problem: Problem

    def _enter_recovery(self) -> None:
        self._alarm = f"{self._problem.kind.value}: {self._problem.detail}"
        self.store.record_alarm(self.session, self._problem.kind.value, self._problem.detail, sync=True)
        self._bus.emit(AlarmRaised(self._problem))
        self._go(S.AWAITING_RECOVERY)
        self._emit_progress()

    def _step_recovery(self) -> None:
        problem = self._problem
        answer: Answer = self.policy(problem)
        self.store.record_action(self.session, f"recovery:{answer.decision.value}",
                                 f"{problem.kind.value} at point {problem.point}: {answer.reason}")
        if answer.decision is Decision.ABORT or self._take("abort"):
            self._abort_reason = answer.reason or f"aborted after {problem.kind.value}"
            self._go(S.STOPPING)
            return
        if answer.decision is Decision.SKIP and problem.point is not None:
            self.result.skipped[problem.point] = answer.reason or problem.kind.value
            self._remove_pending(problem.point)
            self.store.record_action(self.session, "skip", f"point {problem.point}: {answer.reason}")
        self._restore_device(problem, answer)
        self._alarm = None
        self._go(S.RUNNING)

    def _restore_device(self, problem: Problem, answer: Answer) -> None:
        """Bring the device back to ARMED after the operator fixed the cause."""
        inj = self.inj
        if inj.link_lost or problem.kind in (ProblemKind.LINK_LOST, ProblemKind.DEVICE_REBOOTED):
            inj.reconnect()  # resynchronise the link and, after a reboot, the device clock
        self._settle_inflight()
        status = inj.status()
        if status.state in (DeviceState.FAULT, DeviceState.ESTOPPED):
            inj.clear_fault()
            inj.wait_state(DeviceState.IDLE, timeout=5)
        elif status.state in (DeviceState.ARMED, DeviceState.FIRING):
            inj.disarm()
            inj.wait_state(DeviceState.READY, timeout=5)
        if problem.kind in (ProblemKind.EMPTY_SYRINGE, ProblemKind.REFILL_DUE, ProblemKind.AIR):
            if problem.kind is not ProblemKind.AIR:
                volume = answer.refill_ul or self.plan.device.syringe_ul
                inj.load_syringe(volume)
                self.store.record_action(self.session, "refill", f"syringe loaded with {volume} µL")
            if problem.point is not None:
                self._refilled.add(problem.point)
        if inj.status().state != DeviceState.READY:
            inj.home()
        if problem.kind in (ProblemKind.EMPTY_SYRINGE, ProblemKind.REFILL_DUE, ProblemKind.AIR):
            inj.prime(volume_ul=10.0, flow_ul_s=50.0)  # purge air before injecting again
        self._arm()

    # ----- STOPPING ---------------------------------------------------------------------------------
    def _step_stopping(self) -> None:
        self.store.record_action(self.session, "abort", self._abort_reason or "operator abort")
        try:
            if not self.inj.link_lost and self.inj.state in (DeviceState.ARMED, DeviceState.FIRING):
                self._cancel_queued()
                self._settle_inflight()
                self.inj.disarm()
        except DriverError as exc:
            log.warning("while stopping: %s", exc)
        self._go(S.ABORTED)

    # ----- bookkeeping ----------------------------------------------------------------------------
    def _go(self, state: RunState) -> None:
        self._sm.go(state)
        self.result.state = state

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
        summary = {
            "points": len(self._points),
            "delivered": len(self.result.delivered),
            "uncertain": sorted(self.result.uncertain),
            "partial": sorted(self.result.partial),
            "skipped": {str(k): v for k, v in self.result.skipped.items()},
            "pending": list(self._pending),
            "delivered_ul": round(self._delivered_ul(), 3),
            "min_slack_s": self.result.stats.min_slack_s,
            "steady_min_slack_s": self.result.stats.steady_min_slack_s,
            "underruns": self.result.stats.underruns,
            "late_shots": self.result.stats.late_shots,
            "reason": self._abort_reason,
        }
        self.store.end_session(self.session, self.state.value, summary)
        self._emit_progress()
        self._bus.close()

    def _delivered_ul(self) -> float:
        return sum(self.result.delivered.values())

    def _on_state(self, old: RunState, new: RunState) -> None:
        self._bus.emit(RunStateChanged(old, new))

    def _emit_progress(self) -> None:
        total = len(self._points)
        done = len(self.result.delivered)
        remaining = len(self._pending)
        per_point = 1 / (self.plan.cadence_hz or self.plan.estimate.achievable_cadence_hz)
        eta = remaining * per_point if remaining and self.state is S.RUNNING else None
        planned = sum(p.volume_ul for p in self._points.values())
        self._bus.emit(Progress(done, total, len(self.result.skipped), self._delivered_ul(),
                                planned, eta, self._alarm))

    def _journal(self, shot: Shot) -> None:
        """The driver's journal: durable before a shot is sent, off the timing path after."""
        point = self._index_point.get(shot.index, -1)
        self.store.record_shot(self.session, shot_row(shot, point), sync=shot.state is ShotState.PENDING)
