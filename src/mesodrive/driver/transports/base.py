"""The one transport ABC every backend implements, and the errors of choosing a backend.

`TransportError` itself stays in `mesodrive.driver.errors` (it is one of the driver's typed
errors, raised by the channel and the injector too); it is re-exported here so a backend
needs only this module.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from typing import Self

from mesodrive.driver.errors import TransportError


class Transport(abc.ABC):
    """A byte pipe to one device. `write` sends all bytes; `read` returns what arrived within
    `timeout` seconds (possibly b""). Thread-safety: one reader thread, writers serialised by
    the caller. Failures raise `TransportError`."""

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
"""What a backend is to the registry: something that opens a URL (a `Transport` subclass)."""


class UnknownSchemeError(TransportError):
    """No backend serves the URL's scheme: not built in, not registered, not pyserial's."""

    def __init__(self, url: str, scheme: str, known: Iterable[str], hint: str = "") -> None:
        self.url, self.scheme, self.known = url, scheme, sorted(set(known))
        super().__init__(
            f"cannot open {url!r}: no transport for scheme {scheme!r}"
            f" (known: {', '.join(s + '://' for s in self.known)};"
            " or a serial device path such as /dev/ttyACM0 or COM3)" + (f"; {hint}" if hint else "")
        )


__all__ = ["Transport", "TransportError", "TransportFactory", "UnknownSchemeError"]
