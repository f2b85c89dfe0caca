"""Which backend opens a URL: a scheme → backend table, extended through entry points.

Modelled on python-can's `can.interfaces.BACKENDS`: built-in backends are named by
"module:attribute" strings and imported on first use, and other distributions add backends
through the entry-point group `mesodrive.transports` — the entry point's *name* is the URL
scheme, its *value* (same "module:attribute" syntax) names either

- a `Transport` subclass, called with the URL; or
- a pyserial port class (a `serial.SerialBase` subclass, what a pyserial URL handler module
  calls `Serial`): the `serial` backend opens the URL with that class.

The simulator uses the second form (`sim = "mesosim.protocol_sim:Serial"` in pyproject.toml),
so the driver never imports mesosim and pyserial's global handler list is left alone.

`open_transport(url)` looks for the URL's scheme (case-insensitive), in this order:
1. no scheme (a device path such as /dev/ttyACM0 or COM3) → `serial`;
2. the built-in table `BACKENDS` (`usb`);
3. schemes registered at run time with `register_transport`;
4. the entry-point group `mesodrive.transports` (read on each call: it costs ~ms, and an
   install or a test sees its change at once);
5. any scheme pyserial itself can open (`socket`, `loop`, `spy`, `rfc2217`, ...) → `serial`;
otherwise `UnknownSchemeError` names the scheme and every known one.
"""

from __future__ import annotations

import importlib
import logging
from functools import partial
from importlib.metadata import EntryPoint, entry_points

import mesodrive.driver.transports.serial as serial_backend
from mesodrive.driver.transports.base import (
    Transport,
    TransportError,
    TransportFactory,
    UnknownSchemeError,
)

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "mesodrive.transports"

#: Built-in backends by URL scheme, written like entry-point values and imported on first use.
BACKENDS: dict[str, str] = {
    "usb": "mesodrive.driver.transports.usb:UsbTransport",
}

#: Device paths and every scheme pyserial knows.
SERIAL_BACKEND = "mesodrive.driver.transports.serial:SerialTransport"

_registered: dict[str, TransportFactory] = {}


def register_transport(scheme: str, factory: TransportFactory) -> None:
    """Serve `scheme://` URLs with `factory(url)` in this process (tests, embedding programs).
    A built-in scheme cannot be replaced; installed packages use the entry-point group."""
    scheme = scheme.lower()
    if scheme in BACKENDS:
        raise ValueError(f"{scheme!r} is a built-in transport scheme")
    _registered[scheme] = factory


def unregister_transport(scheme: str) -> None:
    _registered.pop(scheme.lower(), None)


def url_scheme(url: str) -> str:
    """The lower-cased scheme of `url`, or "" for a device path."""
    return url.split("://", 1)[0].lower() if "://" in url else ""


def known_schemes() -> list[str]:
    """Every scheme `open_transport` can serve right now, sorted."""
    names = set(BACKENDS) | set(_registered) | set(_entry_points())
    return sorted(names | serial_backend.pyserial_schemes())


def open_transport(url: str) -> Transport:
    """Open `url` with the backend its scheme selects (see the module docstring)."""
    return backend_for(url)(url)


def backend_for(url: str) -> TransportFactory:
    """The backend that `open_transport(url)` would use, without opening anything."""
    scheme = url_scheme(url)
    if not scheme:
        return _load_builtin(SERIAL_BACKEND)
    if scheme in BACKENDS:
        return _load_builtin(BACKENDS[scheme])
    if scheme in _registered:
        return _registered[scheme]
    entry_point = _entry_points().get(scheme)
    if entry_point is not None:
        return _load_entry_point(entry_point)
    if serial_backend.pyserial_knows(scheme):
        return _load_builtin(SERIAL_BACKEND)
    raise UnknownSchemeError(
        url,
        scheme,
        known_schemes(),
        hint=f"packages add schemes through the entry-point group {ENTRY_POINT_GROUP!r},"
        " seen only once installed (pip install -e . for this checkout)",
    )


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        name = ep.name.lower()
        if name in BACKENDS:
            log.warning("ignoring entry point %s = %s: %r is a built-in transport scheme",
                        ep.name, ep.value, name)
        elif name in found and found[name].value != ep.value:
            log.warning("entry points %s = %s and %s = %s name the same scheme; using the first",
                        found[name].name, found[name].value, ep.name, ep.value)
        else:
            found.setdefault(name, ep)
    return found


def _load_builtin(spec: str) -> TransportFactory:
    module, _, attr = spec.partition(":")
    backend: type[Transport] = getattr(importlib.import_module(module), attr)
    return backend


def _load_entry_point(ep: EntryPoint) -> TransportFactory:
    where = f"entry point {ep.name} = {ep.value!r} (group {ENTRY_POINT_GROUP})"
    try:
        obj = ep.load()
    except Exception as exc:  # a broken plug-in must not look like a missing device
        raise TransportError(f"transport backend {where} failed to load: {exc!r}") from exc
    if isinstance(obj, type) and issubclass(obj, Transport):
        return obj
    if serial_backend.is_port_class(obj):
        return partial(serial_backend.SerialTransport, port_class=obj)
    raise TransportError(
        f"transport backend {where} is {obj!r}: expected a Transport subclass"
        " or a pyserial port class (serial.SerialBase subclass)"
    )
