"""A shot of the run that certainly did not deliver, as it happens: for a front end's map.

The engine's events name a point once it is final (delivered, cut short, uncertain); a shot
that the device refused (`rejected`), never received, or stopped before the needle moved
(the contact check) leaves its point pending, to be tried again under a new index, and the
engine says nothing about it. An operator watching the map should see that the point was
tried and failed (and why) before the alarm, or the retry, says more. Shots the host itself
cancelled (pause, abort: dropped from the device's queue before they started) are not
failures and are not reported.

Observed from the driver's shot updates (its event thread), for this run's device sessions
only; a watcher can never break the run (the driver's event bus guards its observers).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from mesodrive.controller.delivery import Delivery, delivery
from mesodrive.controller.engine import RunEngine
from mesodrive.driver.events import Event, ShotUpdated
from mesodrive.driver.shots import Shot, ShotState


@dataclass(frozen=True)
class ShotFailed:
    point: int
    index: int  # the shot's index in the records session
    state: str  # the shot's final state: rejected, not_received, done (not started)
    reason: str  # in the device's or the driver's words

    def describe(self) -> str:
        why = self.reason or self.state
        return f"point {self.point}: shot {self.index} not given ({why}); the point stays open"


def failure_of(shot: Shot, sessions: Collection[int],
               point_of: Callable[[int], int | None]) -> ShotFailed | None:
    """The rule: a final shot of one of `sessions` that certainly gave nothing, and that the
    host did not cancel itself; None for every other shot."""
    if not shot.state.final or shot.state is ShotState.CANCELLED or shot.session not in sessions:
        return None
    if delivery(shot.state, shot.outcome) is not Delivery.NOT_GIVEN:
        return None
    point = point_of(shot.index)
    if point is None:
        return None
    reason = shot.reason
    if not reason and shot.outcome is not None and shot.outcome.not_started:
        reason = "stopped before the needle moved"
    return ShotFailed(point, shot.index, shot.state.value, reason)


def watch_failures(engine: RunEngine, callback: Callable[[ShotFailed], None]) -> Callable[[], None]:
    """Call `callback` for every failed shot of `engine`'s run; returns the unsubscribe."""

    def on_event(event: Event) -> None:
        if isinstance(event, ShotUpdated):
            failed = failure_of(event.shot, engine.device_sessions, engine.book.point_of)
            if failed is not None:
                callback(failed)

    return engine.inj.subscribe(on_event)
