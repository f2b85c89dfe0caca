"""The `usb` backend: vendor-class USB through pyusb, `usb://VID:PID[/SERIAL]` (PROTOCOL.md §2).

The bulk pipes of interface 0 carry the same byte stream as a serial link, so this is only a
byte pipe: frames may span transfers and a transfer may carry several frames.
"""

from __future__ import annotations

import array
import math
import re
from typing import Any

import usb.backend
import usb.core
import usb.util

from mesodrive.driver.transports.base import Transport, TransportError

VID, PID = 0x1209, 0x4D44  # pid.codes test VID, "MD"
INTERFACE = 0
VENDOR_CLASS = 0xFF
WRITE_TIMEOUT_S = 1.0  # a healthy device drains 64-byte packets in microseconds
PACKETS_PER_WRITE = 64  # chunk writes so one timeout never covers an unbounded transfer

_URL_RE = re.compile(r"^usb://(?P<vid>[^:/]*):(?P<pid>[^/]*)(?:/(?P<serial>.*))?$", re.IGNORECASE)


def parse_usb_url(url: str) -> tuple[int, int, str | None]:
    """(VID, PID, serial or None) of `usb://VID:PID[/SERIAL]`; TransportError naming the flaw."""
    m = _URL_RE.match(url)
    if m is None:
        raise TransportError(f"bad USB URL {url!r}: expected usb://VID:PID[/SERIAL]")
    ids = []
    for name in ("vid", "pid"):
        text = m[name]
        try:
            value = int(text, 16)  # int(…, 16) accepts an optional 0x prefix
        except ValueError:
            raise TransportError(
                f"bad USB URL {url!r}: {name.upper()} {text!r} is not a hex number"
            ) from None
        if not 0 <= value <= 0xFFFF:
            raise TransportError(f"bad USB URL {url!r}: {name.upper()} {text!r} exceeds 0xFFFF")
        ids.append(value)
    serial = m["serial"]
    if serial is not None and not serial:
        raise TransportError(f"bad USB URL {url!r}: empty serial after '/'")
    return ids[0], ids[1], serial


def format_usb_url(vid: int, pid: int, serial: str | None = None) -> str:
    base = f"usb://{vid:04X}:{pid:04X}"
    return f"{base}/{serial}" if serial else base


def read_serial(dev: usb.core.Device) -> str | None:
    """The device's iSerialNumber string; None when it has none or it cannot be read (on
    Linux, reading strings needs write access to the device node)."""
    try:
        serial = dev.serial_number
    except (usb.core.USBError, ValueError, NotImplementedError):
        return None
    return str(serial) if serial else None


def vendor_interface(dev: usb.core.Device) -> Any | None:
    """Interface 0 of the first configuration if it is vendor class (0xFF), else None.

    A same-VID:PID firmware that enumerates as CDC-ACM is reached as a serial port instead;
    taking it over here would detach the kernel's serial driver.
    """
    try:
        intf = usb.util.find_descriptor(dev[0], bInterfaceNumber=INTERFACE, bAlternateSetting=0)
    except (usb.core.USBError, IndexError, ValueError):
        return None
    return intf if intf is not None and intf.bInterfaceClass == VENDOR_CLASS else None


def find_devices(
    vid: int, pid: int, backend: usb.backend.IBackend | None = None
) -> list[usb.core.Device]:
    """Every attached VID:PID device; NoBackendError when pyusb finds no libusb."""
    return list(usb.core.find(find_all=True, idVendor=vid, idProduct=pid, backend=backend))


def _is_bulk(direction: int) -> Any:
    def match(ep: Any) -> bool:
        return bool(
            usb.util.endpoint_direction(ep.bEndpointAddress) == direction
            and usb.util.endpoint_type(ep.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK
        )

    return match


class UsbTransport(Transport):
    def __init__(self, url: str, *, backend: usb.backend.IBackend | None = None) -> None:
        self.url = url
        vid, pid, wanted = parse_usb_url(url)
        dev = self._find(vid, pid, wanted, backend)
        self._dev: usb.core.Device | None = dev
        self.serial_number: str | None = read_serial(dev)
        self._rx = bytearray()  # surplus of a packet-rounded read, served by the next read
        self._reattach = False
        try:
            self._ep_out, self._ep_in = self._claim(dev)
        except BaseException:
            self._release()
            raise
        self._chunk = self._ep_out.wMaxPacketSize * PACKETS_PER_WRITE

    def _find(
        self, vid: int, pid: int, wanted: str | None, backend: usb.backend.IBackend | None
    ) -> usb.core.Device:
        try:
            devices = find_devices(vid, pid, backend)
        except usb.core.NoBackendError:
            raise TransportError(
                f"cannot open {self.url!r}: pyusb found no USB backend (install libusb-1.0)"
            ) from None
        except (usb.core.USBError, OSError) as exc:
            raise TransportError(
                f"cannot open {self.url!r}: USB enumeration failed: {exc}"
            ) from None
        searched = f"{vid:04X}:{pid:04X}"
        if not devices:
            raise TransportError(f"cannot open {self.url!r}: no USB device {searched} found")
        serials = [read_serial(d) for d in devices]
        chosen: usb.core.Device | None = None
        if wanted is not None:
            chosen = next((d for d, s in zip(devices, serials, strict=True) if s == wanted), None)
        elif len(devices) == 1:
            chosen = devices[0]
        for dev in devices:  # reading serials opened handles; keep only the chosen one's
            if dev is not chosen:
                usb.util.dispose_resources(dev)
        if chosen is not None:
            return chosen
        if wanted is not None:
            raise TransportError(
                f"cannot open {self.url!r}: no USB device {searched} with serial {wanted!r}"
                f" (found: {', '.join(s or '<unreadable>' for s in serials)})"
            )
        raise TransportError(
            f"cannot open {self.url!r}: {len(devices)} USB devices {searched} found"
            f" ({', '.join(s or '<unreadable>' for s in serials)}); add /SERIAL to the URL"
        )

    def _claim(self, dev: usb.core.Device) -> tuple[Any, Any]:
        """Configure the device, claim interface 0 and return its bulk (OUT, IN) endpoints."""
        try:
            if vendor_interface(dev) is None:
                raise TransportError(
                    f"cannot open {self.url!r}: interface {INTERFACE} is not vendor class"
                    f" 0x{VENDOR_CLASS:02X} (a CDC-ACM injector is opened as a serial port)"
                )
            try:
                if dev.is_kernel_driver_active(INTERFACE):
                    dev.detach_kernel_driver(INTERFACE)
                    self._reattach = True
            except NotImplementedError:
                pass  # Windows / macOS backends have no kernel-driver notion
            try:
                cfg = dev.get_active_configuration()
            except usb.core.USBError:
                cfg = None  # unconfigured (bConfigurationValue 0)
            if cfg is None:
                dev.set_configuration()
                cfg = dev.get_active_configuration()
            intf = usb.util.find_descriptor(cfg, bInterfaceNumber=INTERFACE)
            usb.util.claim_interface(dev, INTERFACE)
        except usb.core.USBError as exc:
            raise TransportError(f"cannot open {self.url!r}: {exc}") from None
        ep_out = usb.util.find_descriptor(intf, custom_match=_is_bulk(usb.util.ENDPOINT_OUT))
        ep_in = usb.util.find_descriptor(intf, custom_match=_is_bulk(usb.util.ENDPOINT_IN))
        if ep_out is None or ep_in is None:
            raise TransportError(
                f"cannot open {self.url!r}: interface {INTERFACE} lacks a bulk OUT/IN pair"
            )
        return ep_out, ep_in

    def _closed_error(self, what: str) -> TransportError:
        return TransportError(f"{what} {self.url!r} failed: transport is closed")

    def write(self, data: bytes) -> None:
        if self._dev is None:
            raise self._closed_error("write to")
        view = bytes(data)
        timeout_ms = math.ceil(WRITE_TIMEOUT_S * 1000)
        sent = 0
        while sent < len(view):
            try:
                chunk = array.array("B", view[sent : sent + self._chunk])
                n = self._ep_out.write(chunk, timeout=timeout_ms)
            except usb.core.USBTimeoutError:
                raise TransportError(
                    f"write to {self.url!r} timed out after {WRITE_TIMEOUT_S:g} s"
                    f" ({sent} of {len(view)} bytes sent)"
                ) from None
            except (usb.core.USBError, OSError, ValueError) as exc:
                raise TransportError(f"write to {self.url!r} failed: {exc}") from None
            if n <= 0:  # a stuck pipe would otherwise spin here for ever
                raise TransportError(
                    f"write to {self.url!r} failed: device accepted 0 bytes"
                    f" ({sent} of {len(view)} bytes sent)"
                )
            sent += n

    def read(self, max_bytes: int, timeout: float) -> bytes:
        if self._dev is None:
            raise self._closed_error("read from")
        if self._rx:
            out = bytes(self._rx[:max_bytes])
            del self._rx[:max_bytes]
            return out
        # Ask for whole packets: a buffer shorter than the packet the device sends is a
        # libusb overflow error. pyusb's timeout 0 means "for ever", hence at least 1 ms.
        mps = self._ep_in.wMaxPacketSize
        size = max(1, math.ceil(max_bytes / mps)) * mps
        timeout_ms = max(1, math.ceil(timeout * 1000))
        try:
            data = bytes(self._ep_in.read(size, timeout=timeout_ms))
        except usb.core.USBTimeoutError:
            return b""
        except (usb.core.USBError, OSError, ValueError) as exc:
            raise TransportError(f"read from {self.url!r} failed: {exc}") from None
        if len(data) > max_bytes:
            self._rx += data[max_bytes:]
            data = data[:max_bytes]
        return data

    def _release(self) -> None:
        dev, self._dev = self._dev, None
        if dev is None:
            return
        try:
            usb.util.release_interface(dev, INTERFACE)
        except (usb.core.USBError, OSError, ValueError):
            pass  # unplugged: nothing to release
        if self._reattach:
            try:
                dev.attach_kernel_driver(INTERFACE)
            except (usb.core.USBError, OSError, NotImplementedError):
                pass
        try:
            usb.util.dispose_resources(dev)
        except (usb.core.USBError, OSError, ValueError):
            pass

    def close(self) -> None:
        self._release()
