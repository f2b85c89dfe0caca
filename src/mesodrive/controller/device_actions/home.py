"""Home the needle unless the device is already READY (homed, retracted, not armed): homing
is the only way back to a known needle position after a fault, a clear or a reboot."""

from __future__ import annotations

from mesodrive.driver.injector import Injector
from mesodrive.driver.vocabulary import DeviceState


def home_unless_ready(inj: Injector) -> None:
    if inj.status().state != DeviceState.READY:
        inj.home()
