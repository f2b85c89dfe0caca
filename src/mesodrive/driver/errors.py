"""Typed driver errors: every failure a caller can see, each naming what went wrong."""

from __future__ import annotations


class DriverError(Exception):
    """Base of everything the driver raises on purpose."""


class TransportError(DriverError):
    """Opening, reading or writing the link to the device failed."""


class HandshakeRefused(DriverError):
    """The device speaks another protocol version or message schema; nothing was sent to it."""


class DeviceTimeout(DriverError):
    """The device did not answer in time (after retries)."""


class LinkLostError(DriverError):
    """The reliable channel stopped getting acknowledgements."""


class DeviceRebooted(DriverError):
    """The device rebooted (new boot nonce): everything queued before is gone."""


class CommandRefused(DriverError):
    """The device answered a command with an error code."""

    def __init__(self, command: str, code: str) -> None:
        self.command, self.code = command, code
        super().__init__(f"device refused {command}: {code}")


class ShotBlocked(DriverError):
    """A shot cannot be sent now (an earlier shot is uncertain, the device is not armed...)."""


class ShotTooLate(ShotBlocked):
    """Not sent: by the time it was recorded, its fire time was too close to make safely.
    It was settled as never sent; schedule the point again (with a new index)."""
