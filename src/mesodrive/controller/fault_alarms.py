"""A device fault as the operator's alarm: its kind, the point it concerns, and its detail in
units a person reads.

Which point: the one whose shot the fault struck — not the next pending one. For the faults
whose `detail` is the shot index (PROTOCOL.md §12.3: contact lost, air, empty syringe, stall)
the index names the shot, and the book names its point. For the others (occlusion and
overpressure carry the line pressure, the dead-man its silence, a late shot its lateness) the
book's last final shots tell: the one the device aborted after the needle moved, or for a late
shot the one that was refused or cancelled for being late. Only when no shot was struck (the
fault came between shots) is the next pending point named. Naming the wrong point made "skip
point" skip a healthy point and left the operator looking at the wrong place on the skin.

Units: the driver's `wire.fault_raised` gives the fault's detail in public units (`text`) and
the shot index it names (`shot_index`); nothing here converts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mesodrive.controller.delivery import Delivery
from mesodrive.controller.point_book import FinishedShot
from mesodrive.controller.recovery import Problem, ProblemKind
from mesodrive.driver.events import FaultRaised
from mesodrive.driver.shots import ShotState
from mesodrive.driver.vocabulary import Fault, RejectReason

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
def _fault(code: int) -> Fault | None:
    try:
        return Fault(code)
    except ValueError:
        return None


def struck_point(recent: Iterable[FinishedShot]) -> int | None:
    """The point of the last shot the device cut after the needle moved, or left uncertain."""
    found = None
    for f in recent:
        if f.delivery is Delivery.UNCERTAIN or (
                f.delivery is Delivery.CUT_SHORT and f.shot.outcome is not None
                and f.shot.outcome.aborted):
            found = f.point
    return found


def _late_point(recent: Iterable[FinishedShot]) -> int | None:
    """The shot refused as too late, else the first one the fault cancelled (the queue's head)."""
    cancelled = None
    for f in recent:
        if f.shot.state is ShotState.REJECTED and f.shot.reason == RejectReason.TOO_LATE.name:
            return f.point
        if f.shot.state is ShotState.CANCELLED and (cancelled is None or f.index < cancelled[0]):
            cancelled = (f.index, f.point)
    return cancelled[1] if cancelled else None


def fault_problem(fault: FaultRaised | None, recent: Sequence[FinishedShot],
                  next_point: int | None) -> Problem:
    """The problem for a latched device fault, given the shots that became final since the
    device was armed (`recent`, oldest first; the struck one is among them once the shots in
    flight are settled) and the next pending point (named when no shot was struck)."""
    if fault is None:
        return Problem(ProblemKind.OTHER_FAULT, next_point, "device fault")
    code = _fault(fault.code)
    kind = FAULT_PROBLEMS.get(code, ProblemKind.OTHER_FAULT) if code else ProblemKind.OTHER_FAULT
    point: int | None = None
    if fault.shot_index is not None:
        point = next((f.point for f in recent if f.index == fault.shot_index), None)
    if point is None and code is Fault.LATE_SHOT:
        point = _late_point(recent)
    if point is None:
        point = struck_point(recent)
    where = "" if point is None else f" at point {point}"
    if point is None:
        point = next_point
    name = code.name if code else f"fault {fault.code}"
    return Problem(kind, point, f"{name}{where}" + (f": {fault.text}" if fault.text else ""))
