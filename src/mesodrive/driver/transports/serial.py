"""The `serial` backend: pyserial device paths and every pyserial URL handler.

Besides device paths (`/dev/ttyACM0`, `COM3`) and pyserial's own URLs (`socket://`, `loop://`,
`spy://`, ...), this backend serves the schemes of *pyserial port classes* registered in the
`mesodrive.transports` entry-point group (the simulator's `sim://` is one): the registry then
hands the class in as `port_class`, so nothing has to be added to pyserial's global
`protocol_handler_packages` first.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import socket
from typing import Any

import serial

from mesodrive.driver.transports.base import Transport, TransportError

BAUDRATE = 115200  # ignored by CDC-ACM, pty and URL handlers; 8N1 per PROTOCOL.md §2

_HANDLER_PREFIX = "protocol_"  # pyserial finds scheme X in module <package>.protocol_X


def is_port_class(obj: object) -> bool:
    """Whether `obj` is a pyserial port class (what a pyserial URL handler module calls
    `Serial`), which this backend can open directly."""
    return isinstance(obj, type) and issubclass(obj, serial.SerialBase)


def pyserial_knows(scheme: str) -> bool:
    """Whether `serial.serial_for_url` has a handler for `scheme://` (its built-in ones and
    any package a program added to `serial.protocol_handler_packages`)."""
    if not scheme.isidentifier():
        return False
    for package in serial.protocol_handler_packages:
        try:
            if importlib.util.find_spec(f"{package}.{_HANDLER_PREFIX}{scheme}") is not None:
                return True
        except (ImportError, ValueError):
            continue
    return False


def pyserial_schemes() -> set[str]:
    """Every scheme `serial.serial_for_url` can open right now (for error messages)."""
    found: set[str] = set()
    for package in serial.protocol_handler_packages:
        try:
            path = importlib.import_module(package).__path__
        except (ImportError, AttributeError):
            continue
        found.update(
            m.name.removeprefix(_HANDLER_PREFIX)
            for m in pkgutil.iter_modules(path)
            if m.name.startswith(_HANDLER_PREFIX)
        )
    return found


def _no_delay(port: Any) -> None:
    """Over TCP (pyserial's `socket://`), send each frame at once: with Nagle's algorithm a
    small write waits for the acknowledgement of the one before it, which the other end may
    delay by up to 40 ms — an e-stop frame written just after a heartbeat would wait that long.
    (pyserial keeps its socket as `_socket` and does not set this itself.)"""
    sock = getattr(port, "_socket", None)
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class SerialTransport(Transport):
    """A pyserial port as a `Transport`. `port_class`, if given, is the pyserial port class
    to open `url` with (as `serial.serial_for_url` would after finding that class)."""

    def __init__(self, url: str, *, port_class: type[Any] | None = None) -> None:
        self.url = url
        try:
            if port_class is None:
                port = serial.serial_for_url(url, baudrate=BAUDRATE, timeout=0, do_not_open=True)
            else:  # exactly what serial_for_url does with the class it looked up
                port = port_class(None, baudrate=BAUDRATE, timeout=0)
                port.port = url
            if hasattr(port, "exclusive") and not url.count("://"):
                port.exclusive = True  # a second program on the same injector is never OK
            port.open()
        except (serial.SerialException, ValueError, OSError) as exc:
            raise TransportError(f"cannot open {url!r}: {exc}") from None
        self._port = port
        _no_delay(port)
        try:  # raw: no flow control, nothing buffered from before we opened
            port.reset_input_buffer()
        except (serial.SerialException, OSError, NotImplementedError):
            pass

    @property
    def port(self) -> Any:
        """The open pyserial port object, for what only that port offers (e.g. the simulator
        port's `sim_call`). Reading or writing it directly bypasses this transport."""
        return self._port

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
