"""Old import path of the serial backend; see `mesodrive.driver.transports.serial`."""

from __future__ import annotations

from mesodrive.driver.transports.serial import BAUDRATE, SerialTransport

__all__ = ["BAUDRATE", "SerialTransport"]
