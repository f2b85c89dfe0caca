"""After the operator answered an alarm: bring the device from wherever the fault left it
back to READY, with a full and primed syringe when the problem was about product. The engine
then arms a new device session.

Order matters: reconnect first (nothing can be asked over a lost link), then settle the shots
still in flight (their outcomes are read from the device, never assumed), then clear or
disarm, refill, home (a clear un-homes), and prime last (priming needs READY).
"""

from __future__ import annotations

from collections.abc import Callable

from mesodrive.controller.device_actions.clear import clear_fault
from mesodrive.controller.device_actions.disarm import disarm
from mesodrive.controller.device_actions.home import home_unless_ready
from mesodrive.controller.device_actions.prime import reprime
from mesodrive.controller.device_actions.reconnect import needs_reconnect, reconnect
from mesodrive.controller.device_actions.refill import refill
from mesodrive.controller.recovery import Answer, Problem, ProblemKind
from mesodrive.driver.injector import Injector
from mesodrive.driver.vocabulary import DeviceState
from mesodrive.records import RecordStore

PRODUCT_PROBLEMS = (ProblemKind.EMPTY_SYRINGE, ProblemKind.REFILL_DUE, ProblemKind.AIR)


def restore_device(inj: Injector, problem: Problem, answer: Answer, *, store: RecordStore,
                   session: int, syringe_ul: float, settle: Callable[[], None]) -> bool:
    """Device back to READY (primed after a product problem). True if the syringe was refilled."""
    if needs_reconnect(inj, problem):
        reconnect(inj)
    settle()
    state = inj.status().state
    if state in (DeviceState.FAULT, DeviceState.ESTOPPED):
        clear_fault(inj)
    elif state in (DeviceState.ARMED, DeviceState.FIRING):
        disarm(inj)
    refilled = problem.kind in (ProblemKind.EMPTY_SYRINGE, ProblemKind.REFILL_DUE)
    if refilled:
        refill(inj, store, session, answer.refill_ul or syringe_ul)
    home_unless_ready(inj)
    if problem.kind in PRODUCT_PROBLEMS:
        reprime(inj)  # purge air before injecting again
    return refilled
