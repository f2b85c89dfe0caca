"""Prepare for a run: refuse a latched fault or e-stop (the operator clears it knowingly),
end a session some earlier host left armed, and home the needle unless it is known."""

from __future__ import annotations

from mesodrive.controller.device_actions.disarm import disarm
from mesodrive.driver.errors import DriverError
from mesodrive.driver.injector import Injector
from mesodrive.driver.vocabulary import DeviceState


def prepare_device(inj: Injector) -> None:
    """Device to READY and homed, or DriverError if it is faulted or e-stopped."""
    status = inj.status()
    if status.state in (DeviceState.FAULT, DeviceState.ESTOPPED):
        raise DriverError(f"device is in {DeviceState(status.state).name}: clear it first")
    if status.state in (DeviceState.ARMED, DeviceState.FIRING):
        disarm(inj)
    elif status.state != DeviceState.READY or not status.homed:
        inj.home()
