"""Noticing that the device left the session on its own — e-stop latched, reboot, link lost,
fault latched — and saying what the run must do about it.

The engine asks at the top of every step. A fault becomes a `Problem` naming the point the
fault struck (`fault_alarms`), which is why the shots in flight are settled first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mesodrive.controller.fault_alarms import fault_problem, struck_point
from mesodrive.controller.point_book import PointBook
from mesodrive.controller.recovery import Problem, ProblemKind
from mesodrive.driver.injector import Injector
from mesodrive.driver.vocabulary import DeviceState, RejectReason


@dataclass(frozen=True)
class Estopped:
    """The device latched an emergency stop: the run ends, nothing is asked."""


DeviceTurn = Problem | Estopped


def device_turn(inj: Injector, book: PointBook, settle: Callable[[], None]) -> DeviceTurn | None:
    """What the device did on its own since the last look, or None if it is still armed."""
    if inj.state == DeviceState.ESTOPPED:
        settle()
        return Estopped()
    if inj.rebooted:
        inj.rebooted = False
        settle()
        struck = struck_point(book.recent)
        return Problem(ProblemKind.DEVICE_REBOOTED,
                       struck if struck is not None else book.next_point(), "the device rebooted")
    if inj.link_lost:  # nothing can be settled over a lost link: recovery reconnects first
        return Problem(ProblemKind.LINK_LOST, book.next_point(), "link lost")
    if inj.state == DeviceState.FAULT:
        settle()  # the struck shot becomes final, so the book can name its point
        return fault_problem(inj.last_fault, list(book.recent), book.next_point())
    return None


def refusal_problem(point: int, reason: str) -> Problem:
    """The device refused a shot (never executed): re-sending would only be refused again, so
    it is asked about like a fault. Too little product left is a refill."""
    kind = (ProblemKind.REFILL_DUE if reason == RejectReason.INSUFFICIENT_VOLUME.name
            else ProblemKind.OTHER_FAULT)
    return Problem(kind, point, f"the device refused point {point}: {reason}")


def in_trouble(inj: Injector) -> bool:
    """The device is not (or may not be) in the armed session any more."""
    return inj.rebooted or inj.link_lost or inj.state not in (DeviceState.ARMED, DeviceState.FIRING)
