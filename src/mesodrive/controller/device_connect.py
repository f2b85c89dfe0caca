"""Connecting to the injector for a treatment, and saying in words what failed (issue 14)."""

from __future__ import annotations

from mesodrive.controller.treatment_errors import Failure, TreatmentError
from mesodrive.driver.errors import DeviceTimeout, DriverError, TransportError
from mesodrive.driver.injector import Injector


def connect_device(url: str) -> Injector:
    """Connect (handshake, schema check, clock sync); TreatmentError(DEVICE) if it fails."""
    try:
        return Injector.connect(url)
    except DriverError as exc:
        raise TreatmentError(Failure.DEVICE, connect_problem(url, exc)) from exc


def connect_problem(url: str, exc: DriverError) -> str:
    """What went wrong connecting, in words an operator can act on (issue 14)."""
    if isinstance(exc, DeviceTimeout):
        return (f"cannot connect to {url}: the port opened, but no injector answered (the link "
                f"handshake was tried several times over about a second; {exc}).\n"
                "likely: the wrong port, the device switched off or still starting, another "
                "program (or another mesodrive) holding the port, or a wrong baud rate on a "
                "serial adapter.\n`mesodrive devices` lists the serial ports and USB injectors "
                "this computer sees.")
    if isinstance(exc, TransportError):
        return (f"cannot connect to {url}: the port could not be opened ({exc}).\n"
                "likely: a mistyped path or URL, the cable unplugged, or no permission on the "
                "port.\n`mesodrive devices` lists the serial ports and USB injectors this "
                "computer sees.")
    return f"cannot connect to {url}: {exc}"  # e.g. a refused handshake: its own words are clear
