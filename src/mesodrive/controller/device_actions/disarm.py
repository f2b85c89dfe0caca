"""Disarm: end the device session (the device cancels its queue and lets the current shot
finish), then wait for READY so the next step starts from a known state."""

from __future__ import annotations

from mesodrive.driver.injector import Injector
from mesodrive.driver.vocabulary import DeviceState


def disarm(inj: Injector, timeout_s: float = 5.0) -> None:
    inj.disarm()
    inj.wait_state(DeviceState.READY, timeout=timeout_s)
