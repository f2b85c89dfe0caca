"""Serial transport through pyserial: device paths and every pyserial URL handler."""

from __future__ import annotations

import serial

from mesodrive.driver.errors import TransportError
from mesodrive.driver.transport import Transport

BAUDRATE = 115200  # ignored by CDC-ACM, pty and URL handlers; 8N1 per PROTOCOL.md §2


def _load_sim_handler(url: str) -> None:
    """`sim://` is served by the bundled simulator's pyserial handler (mesosim)."""
    if url.startswith("sim://"):
        import mesosim.transports  # noqa: F401  (registers its URL handler with pyserial)


class SerialTransport(Transport):
    def __init__(self, url: str) -> None:
        self.url = url
        _load_sim_handler(url)
        try:
            port = serial.serial_for_url(url, baudrate=BAUDRATE, timeout=0, do_not_open=True)
            if hasattr(port, "exclusive") and not url.count("://"):
                port.exclusive = True  # a second program on the same injector is never OK
            port.open()
        except (serial.SerialException, ValueError, OSError) as exc:
            raise TransportError(f"cannot open {url!r}: {exc}") from None
        self._port = port
        try:  # raw: no flow control, nothing buffered from before we opened
            port.reset_input_buffer()
        except (serial.SerialException, OSError, NotImplementedError):
            pass

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"write to {self.url!r} failed: {exc}") from None

    def read(self, max_bytes: int, timeout: float) -> bytes:
        try:
            self._port.timeout = timeout
            first: bytes = self._port.read(1)
            if not first:
                return b""
            self._port.timeout = 0
            waiting = self._port.in_waiting
            rest: bytes = self._port.read(min(waiting, max_bytes - 1)) if waiting else b""
            return first + rest
        except (serial.SerialException, OSError, TypeError) as exc:
            raise TransportError(f"read from {self.url!r} failed: {exc}") from None

    def close(self) -> None:
        try:
            self._port.close()
        except (serial.SerialException, OSError):
            pass
