"""What the run engine tells its observers (console, CLI, records, progress bars). Observers
are called from the event bus, never from the run loop, so they can never break control flow."""

from __future__ import annotations

from dataclasses import dataclass

from mesodrive.controller.recovery import Problem
from mesodrive.controller.states import RunState
from mesodrive.driver.shots import Shot


@dataclass(frozen=True)
class Progress:
    done: int  # points fully delivered (uncertain ones included: assumed given)
    total: int
    skipped: int
    delivered_ul: float  # all product given, cut-short shots' volumes included
    planned_ul: float
    eta_s: float | None
    alarm: str | None
    cut_short: int = 0  # points whose shot was cut short: finished, but not `done`
    next_point: int | None = None  # the point the run goes to next (its zone and depth: the plan)


RunProgress = Progress  # the name front ends use


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
