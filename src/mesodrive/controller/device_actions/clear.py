"""Clear a latched fault or e-stop: the device goes to IDLE and forgets it was homed, so a
home must follow before anything moves (the restore sequence does that)."""

from __future__ import annotations

from mesodrive.driver.injector import Injector
from mesodrive.driver.vocabulary import DeviceState


def clear_fault(inj: Injector, timeout_s: float = 5.0) -> None:
    inj.clear_fault()
    inj.wait_state(DeviceState.IDLE, timeout=timeout_s)
