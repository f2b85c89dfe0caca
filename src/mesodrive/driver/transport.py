"""One small abstract transport, chosen by URL (python-can style: one ABC, backends by name).

`open_transport(url)`:
- `usb://VID:PID[/SERIAL]` → USB bulk via pyusb (`usb_transport.UsbTransport`);
- anything else → pyserial (`serial_transport.SerialTransport`): a device path (`/dev/ttyACM0`,
  `COM3`) or any pyserial URL (`socket://`, `loop://`, `spy://`, and `sim://` for the built-in
  simulator).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Self


class Transport(abc.ABC):
    """A byte pipe to one device. `write` sends all bytes; `read` returns what arrived within
    `timeout` seconds (possibly b""). Thread-safety: one reader thread, writers serialised by
    the caller."""

    url: str

    @abc.abstractmethod
    def write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def read(self, max_bytes: int, timeout: float) -> bytes: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


TransportFactory = Callable[[str], Transport]
_SCHEMES: dict[str, TransportFactory] = {}


def register_scheme(scheme: str, factory: TransportFactory) -> None:
    """Add a backend for URLs starting with `scheme://`."""
    _SCHEMES[scheme] = factory


def open_transport(url: str) -> Transport:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "usb":
        from mesodrive.driver.usb_transport import UsbTransport

        return UsbTransport(url)
    if scheme in _SCHEMES:
        return _SCHEMES[scheme](url)
    from mesodrive.driver.serial_transport import SerialTransport

    return SerialTransport(url)
