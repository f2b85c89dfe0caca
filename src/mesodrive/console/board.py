"""The run as the page shows it: every point's state, progress, the alarm and an event log.

Live, the states come from the engine's events (delivered, cut short, uncertain, skipped, the
next point) and the service's failed-shot reports (`ShotFailed`: a shot sent and certainly not
given — refused, never received, stopped before the needle moved — shows its point "failed"
until a later shot settles it); once the run has ended, from the records (`reconcile` with
`point_outcomes`, the same words `mesodrive records show` uses). A point an alarm stopped
before stays "next" (the alarm says what happened; the point itself was not tried). The last
shot's measured depth and peak pressure against its target are kept for the run screen.

Fed by the engine's events on the engine's event thread (`on_event`), read by the pages'
timers (`snapshot`); a lock keeps the two apart and `version` tells a page whether anything
changed. A page never reads the engine's own dictionaries while the engine writes them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from mesodrive.controller.engine import (
    AlarmRaised,
    PointFinished,
    Progress,
    RunEvent,
    RunResult,
    RunStateChanged,
)
from mesodrive.controller.shot_failures import ShotFailed
from mesodrive.controller.states import RunState
from mesodrive.plan import PlannedPoint
from mesodrive.records import PointOutcome
from mesodrive.records import outcomes as recorded

PENDING, NEXT, DELIVERED, CUT_SHORT, SKIPPED, UNCERTAIN, FAILED = (
    "pending", "next", "delivered", "cut short", "skipped", "uncertain", "failed")
STATUSES = (PENDING, NEXT, DELIVERED, CUT_SHORT, SKIPPED, UNCERTAIN, FAILED)
LOG_LINES = 200
_FROM_RECORDS = {recorded.DELIVERED: DELIVERED, recorded.CUT_SHORT: CUT_SHORT,
                 recorded.SKIPPED: SKIPPED, recorded.UNCERTAIN: UNCERTAIN,
                 recorded.NOT_SETTLED: UNCERTAIN, recorded.NOT_DONE: PENDING}


@dataclass(frozen=True)
class LogLine:
    at: float  # wall clock (time.time())
    text: str
    level: str = "info"  # info | warning | alarm


@dataclass(frozen=True)
class LastShot:
    """The last point's shot as measured, against what the plan asked."""

    point: int
    target_depth_mm: float
    reached_depth_mm: float | None
    planned_ul: float
    delivered_ul: float | None
    peak_pressure_kpa: float | None


@dataclass
class Snapshot:
    version: int
    state: RunState | None
    statuses: dict[int, str]
    done: int
    total: int
    skipped: int
    delivered_ul: float
    planned_ul: float
    eta_s: float | None
    alarm: str | None
    next_point: int | None
    log: list[LogLine] = field(default_factory=list)
    last_result_at: float | None = None  # when the last point result reached the board
    last_shot: LastShot | None = None


class RunBoard:
    def __init__(self, points: tuple[PlannedPoint, ...], session: int | None = None) -> None:
        self.points = {p.point: p for p in points}
        self.session = session
        self._lock = threading.Lock()
        self._version = 0
        self._state: RunState | None = None
        self._statuses = {p: PENDING for p in self.points}
        self._final: dict[int, str] | None = None  # from the records, once the run ended
        self._progress = Progress(0, len(points), 0, 0.0,
                                  sum(p.volume_ul for p in points), None, None)
        self._log: deque[LogLine] = deque(maxlen=LOG_LINES)
        self._last_result_at: float | None = None
        self._result_at: dict[int, float] = {}  # point -> when its result reached the board
        self._failed: dict[int, str] = {}  # point -> why its last shot gave nothing (live)
        self._last_shot: LastShot | None = None

    # ----- writers (any thread) ----------------------------------------------------------------
    def note(self, text: str, level: str = "info") -> None:
        with self._lock:
            self._log.append(LogLine(time.time(), text, level))
            self._version += 1

    def on_event(self, event: RunEvent, result: RunResult) -> None:
        """One engine event; `result` is the engine's (read here, on the engine's event
        thread, which is where the engine's own bookkeeping is published from)."""
        with self._lock:
            if isinstance(event, Progress):
                self._progress = event
            elif isinstance(event, PointFinished):
                self._last_result_at = self._result_at[event.point] = time.time()
                self._failed.pop(event.point, None)
                self._last_shot = _last_shot(event, self.points.get(event.point))
                self._log.append(LogLine(time.time(), f"point {event.point}: "
                                         f"{self._status_of(event.point, result)}"))
            elif isinstance(event, AlarmRaised):
                p = event.problem
                self._log.append(LogLine(time.time(), f"ALARM {p.kind.value}"
                                         + (f" at point {p.point}" if p.point else "")
                                         + f": {p.detail}", "alarm"))
            elif isinstance(event, RunStateChanged):
                self._state = event.new
                self._log.append(LogLine(time.time(), f"run {event.new.value}"))
            self._refresh(result)
            self._version += 1

    def on_failure(self, failed: ShotFailed) -> None:
        """A shot that certainly gave nothing (the driver's event thread)."""
        with self._lock:
            self._failed[failed.point] = failed.reason or failed.state
            self._log.append(LogLine(time.time(), failed.describe(), "warning"))
            if self._final is None:
                self._statuses[failed.point] = FAILED
            self._version += 1

    def prime(self, result: RunResult) -> None:
        """The states a resumed run starts from (what earlier runs of the session did)."""
        with self._lock:
            self._refresh(result)
            self._version += 1

    def _status_of(self, point: int, result: RunResult) -> str:
        if point in result.uncertain:
            return UNCERTAIN
        if point in result.partial:
            return CUT_SHORT
        if point in result.delivered:
            return DELIVERED
        if point in result.skipped:
            return SKIPPED
        if point in self._failed:
            return FAILED
        return PENDING

    def _refresh(self, result: RunResult) -> None:
        if self._final is not None:
            self._statuses = dict(self._final)
            return
        for point in self.points:
            self._statuses[point] = self._status_of(point, result)
        nxt = self._next(result)
        if nxt is not None and not (self._state is not None and self._state.terminal) \
                and nxt not in self._failed:  # a failed point, tried again next, shows "failed"
            self._statuses[nxt] = NEXT

    def reconcile(self, outcomes: Iterable[PointOutcome]) -> None:
        """The ended run's states, from its records."""
        final = {p: PENDING for p in self.points}
        for o in outcomes:
            if o.point in final:
                final[o.point] = _FROM_RECORDS.get(o.outcome, PENDING)
                if o.outcome == recorded.NOT_DONE and o.shots:
                    final[o.point] = FAILED
        with self._lock:
            self._final = final
            self._statuses = dict(final)
            self._version += 1

    def _next(self, result: RunResult) -> int | None:
        """The first open point (the engine's pending list is refreshed only at state changes:
        a point skipped while paused is still in it)."""
        for point in list(result.pending):  # a copy: the engine replaces it, never edits it
            if self._statuses.get(point) in (PENDING, FAILED):
                return point
        return None

    # ----- readers -----------------------------------------------------------------------------
    def result_times(self) -> dict[int, float]:
        """point -> when its delivery reached the board (time.time()): the start of the
        result → page lag."""
        with self._lock:
            return dict(self._result_at)

    @property
    def version(self) -> int:
        return self._version

    def snapshot(self) -> Snapshot:
        with self._lock:
            p = self._progress
            nxt = next((k for k, v in self._statuses.items() if v in (NEXT, FAILED)), None)
            return Snapshot(self._version, self._state, dict(self._statuses), p.done, p.total,
                            p.skipped, p.delivered_ul, p.planned_ul, p.eta_s, p.alarm, nxt,
                            list(self._log), self._last_result_at, self._last_shot)


def _last_shot(event: PointFinished, planned: PlannedPoint | None) -> LastShot:
    out = event.shot.outcome
    return LastShot(event.point,
                    planned.depth_mm if planned is not None else event.shot.request.depth_mm,
                    out.reached_depth_mm if out is not None else None,
                    planned.volume_ul if planned is not None else event.shot.request.volume_ul,
                    out.delivered_ul if out is not None else None,
                    out.peak_pressure_kpa if out is not None else None)
