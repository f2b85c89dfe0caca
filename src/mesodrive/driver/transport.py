"""Old import path of the transport ABC and `open_transport`; see `mesodrive.driver.transports`.

Kept because the injector and channel (and programs outside this repository) import from
here; new code imports `mesodrive.driver.transports`.
"""

from __future__ import annotations

from mesodrive.driver.transports.base import Transport, TransportFactory
from mesodrive.driver.transports.registry import open_transport
from mesodrive.driver.transports.registry import register_transport as register_scheme

__all__ = ["Transport", "TransportFactory", "open_transport", "register_scheme"]
