"""Transports: one small ABC, backends chosen by URL scheme (python-can style).

| module      | what                                                                        |
|-------------|-----------------------------------------------------------------------------|
| `base`      | the `Transport` ABC and the errors of choosing a backend                   |
| `registry`  | scheme → backend: built-ins, `register_transport`, the entry-point group    |
|             | `mesodrive.transports`, then anything pyserial can open                     |
| `serial`    | device paths and pyserial URLs (`socket://`, `loop://`, and port classes    |
|             | from entry points, such as the simulator's `sim://`)                        |
| `usb`       | `usb://VID:PID[/SERIAL]`, vendor-class bulk through pyusb                   |

`open_transport("sim://?seed=1")` works once mesodrive is installed (`pip install -e .`):
the simulator declares `sim` in the entry-point group, so nothing here imports it.
"""

from __future__ import annotations

from mesodrive.driver.transports.base import (
    Transport,
    TransportError,
    TransportFactory,
    UnknownSchemeError,
)
from mesodrive.driver.transports.registry import (
    BACKENDS,
    ENTRY_POINT_GROUP,
    backend_for,
    known_schemes,
    open_transport,
    register_transport,
    unregister_transport,
)

__all__ = [
    "BACKENDS",
    "ENTRY_POINT_GROUP",
    "Transport",
    "TransportError",
    "TransportFactory",
    "UnknownSchemeError",
    "backend_for",
    "known_schemes",
    "open_transport",
    "register_transport",
    "unregister_transport",
]
