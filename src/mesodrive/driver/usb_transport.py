"""Old import path of the USB backend; see `mesodrive.driver.transports.usb`."""

from __future__ import annotations

from mesodrive.driver.transports.usb import (
    INTERFACE,
    PACKETS_PER_WRITE,
    PID,
    VENDOR_CLASS,
    VID,
    WRITE_TIMEOUT_S,
    UsbTransport,
    find_devices,
    format_usb_url,
    parse_usb_url,
    read_serial,
    vendor_interface,
)

__all__ = [
    "INTERFACE",
    "PACKETS_PER_WRITE",
    "PID",
    "VENDOR_CLASS",
    "VID",
    "WRITE_TIMEOUT_S",
    "UsbTransport",
    "find_devices",
    "format_usb_url",
    "parse_usb_url",
    "read_serial",
    "vendor_interface",
]
