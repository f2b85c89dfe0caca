"""Line-oriented request/reply over a pyserial port, bounded in time and size.

Both bench instruments speak text lines: a command line out, reply lines back, ended by CR,
LF or CR LF. This class owns the deadline (never a hang), the line splitting and the
"this is not text from our instrument" detection; each instrument client names its own
error types, so a message says which instrument failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from mesodrive.calibration.errors import CalibrationError

__all__ = ["LineChannel", "LineErrors", "SerialPort", "open_port"]

POLL_S = 0.05  # how long one port.read may block; the overall deadline is ours
MAX_LINE = 256  # longer is never a reply (and a wrong baud rate never ends a line)


class SerialPort(Protocol):
    """What we need of a pyserial port (`serial.Serial`, `serial_for_url(...)`)."""

    timeout: float | None

    def write(self, data: bytes) -> int | None: ...
    def read(self, size: int = 1) -> bytes: ...
    def reset_input_buffer(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LineErrors:
    """The error types an instrument raises for link, timeout and garbage failures."""

    link: type[CalibrationError]
    timeout: type[CalibrationError]
    garbled: type[CalibrationError]
    name: str  # "balance", "depth gauge": used in messages


def open_port(url: str, baudrate: int, errors: LineErrors) -> SerialPort:
    """Open any pyserial URL (8N1)."""
    import serial

    try:
        port: SerialPort = serial.serial_for_url(url, baudrate=baudrate, timeout=POLL_S)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise errors.link(f"cannot open {url!r}: {exc}") from None
    return port


class LineChannel:
    def __init__(self, port: SerialPort, errors: LineErrors,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.port = port
        self.errors = errors
        self._clock = clock
        self._pending = bytearray()
        port.timeout = POLL_S

    def send(self, line: str, terminator: bytes = b"\r\n") -> None:
        """Forget anything unread (a late reply to an earlier command), then send `line`."""
        self._pending.clear()
        try:
            self.port.reset_input_buffer()
            self.port.write(line.encode("ascii") + terminator)
        except Exception as exc:  # noqa: BLE001 - SerialException, OSError, a closed socket
            raise self.errors.link(f"{self.errors.name}: serial port: {exc}") from None

    def deadline(self, timeout: float) -> float:
        return self._clock() + timeout

    def read_line(self, timeout: float, command: str, deadline: float | None = None) -> bytes:
        """The next non-empty line, within `timeout` seconds (or by `deadline`, a time from
        `self.deadline(timeout)`, when several lines share one budget)."""
        deadline = self.deadline(timeout) if deadline is None else deadline
        while True:
            line = self._take_line()
            if line is not None:
                return line
            if len(self._pending) > MAX_LINE:
                raise self.errors.garbled(
                    f"{command}: {len(self._pending)} bytes without a line end: "
                    f"{bytes(self._pending[:24])!r}… (wrong baud rate?)")
            if self._clock() >= deadline:
                if self._pending:
                    raise self.errors.garbled(
                        f"{command}: an incomplete reply {bytes(self._pending[:40])!r} "
                        "(wrong baud rate or line end?)")
                raise self.errors.timeout(
                    f"{command}: no answer within {timeout:g} s (is the {self.errors.name} on, "
                    "the cable connected, the port and baud rate right?)")
            self._pending += self._read_some()

    def _read_some(self) -> bytes:
        try:
            chunk = bytes(self.port.read(1))
            waiting: Any = getattr(self.port, "in_waiting", 0)
            if chunk and waiting:
                chunk += bytes(self.port.read(int(waiting)))
            return chunk
        except Exception as exc:  # noqa: BLE001 - SerialException, OSError
            raise self.errors.link(f"cannot read from the {self.errors.name}: {exc}") from None

    def _take_line(self) -> bytes | None:
        while True:
            ends = [i for i in (self._pending.find(b"\r"), self._pending.find(b"\n")) if i >= 0]
            if not ends:
                return None
            end = min(ends)
            line = bytes(self._pending[:end])
            del self._pending[: end + 1]
            if line.strip():
                return line

    def close(self) -> None:
        try:
            self.port.close()
        except Exception:  # noqa: BLE001, S110 - closing a port whose device vanished
            pass
