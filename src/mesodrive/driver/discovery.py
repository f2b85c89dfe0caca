"""What can be opened: serial ports (pyserial) and vendor-class USB injectors (pyusb).

`list_devices()` never fails because one bus cannot be scanned: a machine without libusb
still lists its serial ports, and the reason USB was skipped goes into `notes`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import serial.tools.list_ports
import usb.backend
import usb.core
import usb.util

from mesodrive.driver.transports.usb import (
    PID,
    VID,
    find_devices,
    format_usb_url,
    read_serial,
    vendor_interface,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceInfo:
    url: str  # what `open_transport` takes
    kind: Literal["serial", "usb"]
    description: str
    serial_number: str | None
    is_injector: bool


def list_devices(
    *, usb_backend: usb.backend.IBackend | None = None, notes: list[str] | None = None
) -> list[DeviceInfo]:
    """Serial ports first (sorted by URL), then USB injectors. `usb_backend` replaces pyusb's
    libusb lookup (the simulator's backend, in tests); `notes`, if given, receives one line
    per bus that could not be scanned."""
    notes = notes if notes is not None else []
    return _serial_devices() + _usb_devices(usb_backend, notes)


def _serial_devices() -> list[DeviceInfo]:
    found = []
    for port in serial.tools.list_ports.comports():
        found.append(
            DeviceInfo(
                url=port.device,
                kind="serial",
                description=port.description if port.description != "n/a" else "",
                serial_number=port.serial_number or None,
                is_injector=(port.vid, port.pid) == (VID, PID),  # CDC-ACM firmware
            )
        )
    return sorted(found, key=lambda d: d.url)


def _usb_devices(backend: usb.backend.IBackend | None, notes: list[str]) -> list[DeviceInfo]:
    try:
        devices = find_devices(VID, PID, backend)
    except usb.core.NoBackendError:
        note = "USB not scanned: pyusb found no backend (install libusb-1.0)"
        log.info(note)
        notes.append(note)
        return []
    except (usb.core.USBError, OSError) as exc:
        note = f"USB not scanned: {exc}"
        log.warning(note)
        notes.append(note)
        return []
    found = []
    for dev in devices:
        # A same-VID:PID CDC-ACM injector shows up as a serial port instead.
        if vendor_interface(dev) is None:
            continue
        serial_number = read_serial(dev)
        found.append(
            DeviceInfo(
                url=format_usb_url(VID, PID, serial_number),
                kind="usb",
                description=_describe(dev, serial_number),
                serial_number=serial_number,
                is_injector=True,
            )
        )
        usb.util.dispose_resources(dev)  # reading strings opened a handle
    return sorted(found, key=lambda d: d.url)


def _describe(dev: usb.core.Device, serial_number: str | None) -> str:
    try:
        text = dev.product or dev.manufacturer or ""
    except (usb.core.USBError, ValueError, NotImplementedError):
        text = ""
    where = f"bus {dev.bus} address {dev.address}" if dev.bus is not None else ""
    if serial_number is None:
        where += " (serial unreadable: check device permissions)"
    return ", ".join(p for p in (text or "mesodrive injector", where.strip()) if p)
