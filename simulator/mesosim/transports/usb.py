"""A pyusb backend presenting the simulated injector as a USB vendor-class device.

    import usb.core
    from mesosim.transports import usb as simusb

    be = simusb.backend(config)                        # one simulated device "plugged in"
    dev = usb.core.find(idVendor=0x1209, idProduct=0x4D44, backend=be)
    dev.set_configuration()
    dev.serial_number                                  # iSerialNumber -> config.serial
    dev.write(0x01, frame_bytes)                       # bulk OUT
    dev.read(0x81, 64, timeout=500)                    # bulk IN; USBTimeoutError if nothing
    be.close()                                         # stops the simulated device

What it presents (PROTOCOL.md §2): VID 0x1209, PID 0x4D44, full speed, one configuration,
interface 0 of class 0xFF with bulk OUT 0x01 and bulk IN 0x81, 64-byte max packet; string
descriptors 1 manufacturer, 2 product, 3 serial (US English). Standard GET_DESCRIPTOR,
GET_CONFIGURATION, SET_CONFIGURATION and GET_STATUS control requests are answered, anything
else stalls (USBError, like a real device).

The bulk pipes carry the same byte stream as a serial link. A bulk read returns as soon as
any byte is available (up to the buffer size) — a real device would end the transfer with a
short packet in the same situation — and raises `usb.core.USBTimeoutError` when nothing
arrives within the timeout (0 = wait for ever, as in libusb). Writes never block.

The simulated device starts when the backend first opens it and runs until `close()` (or
until the backend is garbage-collected); closing a pyusb handle does not stop it, just as
releasing a real device does not power it off.
"""

from __future__ import annotations

import array
import errno
import struct
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import usb.backend
import usb.core

from mesosim.transports.device import ByteDevice
from mesosim.transports.port import SimPort, open_pipe
from mesosim.transports.usb_descriptors import (
    CONFIG_VALUE,
    DT_CONFIG,
    DT_DEVICE,
    DT_STRING,
    ENDPOINTS,
    EP_IN,
    EP_OUT,
    GET_CONFIGURATION,
    GET_DESCRIPTOR,
    GET_STATUS,
    INTERFACE,
    LANGID_EN_US,
    LIBUSB_ERROR_IO,
    LIBUSB_ERROR_NOT_FOUND,
    LIBUSB_ERROR_PIPE,
    LIBUSB_ERROR_TIMEOUT,
    MANUFACTURER,
    PRODUCT,
    SET_CONFIGURATION,
    ConfigurationDescriptor,
    DeviceDescriptor,
    EndpointDescriptor,
    InterfaceDescriptor,
    SimUsbDeviceId,
)

if TYPE_CHECKING:
    from mesosim.config import SimConfig


class _Handle:
    def __init__(self) -> None:
        self.open = True
        self.claimed: set[int] = set()


def _usb_error(message: str, code: int, err: int | None) -> usb.core.USBError:
    return usb.core.USBError(message, code, err)


class SimUsbBackend(usb.backend.IBackend):  # type: ignore[misc]  # pyusb is untyped
    """One simulated injector on a private USB bus."""

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        device: ByteDevice | None = None,
        realtime: bool = True,
    ) -> None:
        self.config = config
        self.realtime = realtime
        self._device = device
        self.serial = str(getattr(config, "serial", "") or "SIM-00000000")
        self._dev_id = SimUsbDeviceId()
        self._descriptor = DeviceDescriptor()
        self._port: SimPort | None = None
        self._lock = threading.Lock()
        self._configuration = CONFIG_VALUE
        self._closed = False

    # -- the simulated device ----------------------------------------------------------------

    @property
    def port(self) -> SimPort:
        """The link to the simulated device (started on first use)."""
        with self._lock:
            if self._closed:
                raise _usb_error(
                    "No such device (it may have been disconnected)",
                    LIBUSB_ERROR_NOT_FOUND,
                    errno.ENODEV,
                )
            if self._port is None:
                self._port = open_pipe(self.config, device=self._device, realtime=self.realtime)
            return self._port

    def close(self) -> None:
        """Unplug: stop the simulated device. Later I/O fails with USBError."""
        with self._lock:
            self._closed = True
            port, self._port = self._port, None
        if port is not None:
            port.close()

    def _finalize_object(self) -> None:
        self.close()

    # -- enumeration and descriptors ---------------------------------------------------------

    def enumerate_devices(self) -> Iterator[SimUsbDeviceId]:
        if not self._closed:
            yield self._dev_id

    def get_parent(self, dev: Any) -> None:
        return None

    def get_device_descriptor(self, dev: Any) -> DeviceDescriptor:
        return self._descriptor

    def get_configuration_descriptor(self, dev: Any, config: int) -> ConfigurationDescriptor:
        if config != 0:
            raise IndexError(f"configuration index {config} out of range")
        return ConfigurationDescriptor()

    def get_interface_descriptor(
        self, dev: Any, intf: int, alt: int, config: int
    ) -> InterfaceDescriptor:
        if config != 0 or intf != 0 or alt != 0:
            raise IndexError(f"interface ({intf}, {alt}) of configuration {config}")
        return InterfaceDescriptor()

    def get_endpoint_descriptor(
        self, dev: Any, ep: int, intf: int, alt: int, config: int
    ) -> EndpointDescriptor:
        if config != 0 or intf != 0 or alt != 0 or not 0 <= ep < len(ENDPOINTS):
            raise IndexError(f"endpoint {ep} of interface ({intf}, {alt})")
        return ENDPOINTS[ep]

    def _config_bytes(self) -> bytes:
        return (
            ConfigurationDescriptor().pack()
            + InterfaceDescriptor().pack()
            + b"".join(ep.pack() for ep in ENDPOINTS)
        )

    def _string(self, index: int, langid: int) -> bytes:
        if index == 0:
            body = struct.pack("<H", LANGID_EN_US)
        else:
            strings = {1: MANUFACTURER, 2: PRODUCT, 3: self.serial}
            if index not in strings:
                raise _usb_error("Pipe error", LIBUSB_ERROR_PIPE, errno.EPIPE)
            body = strings[index].encode("utf-16-le")
        return bytes([2 + len(body), DT_STRING]) + body

    # -- handles -----------------------------------------------------------------------------

    def open_device(self, dev: Any) -> _Handle:
        if self._closed:
            raise _usb_error("No such device", LIBUSB_ERROR_NOT_FOUND, errno.ENODEV)
        self.port  # noqa: B018 - power the device up on first open
        return _Handle()

    def close_device(self, dev_handle: _Handle) -> None:
        dev_handle.open = False

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        if config_value not in (0, CONFIG_VALUE):
            raise _usb_error("Pipe error", LIBUSB_ERROR_PIPE, errno.EPIPE)
        self._configuration = config_value

    def get_configuration(self, dev_handle: _Handle) -> int:
        return self._configuration

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        if intf != INTERFACE or altsetting != 0:
            raise _usb_error("Pipe error", LIBUSB_ERROR_PIPE, errno.EPIPE)

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        if intf != INTERFACE:
            raise _usb_error("Entity not found", LIBUSB_ERROR_NOT_FOUND, errno.ENOENT)
        dev_handle.claimed.add(intf)

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.claimed.discard(intf)

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        return False

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        pass

    def attach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        pass

    def clear_halt(self, dev_handle: _Handle, ep: int) -> None:
        pass

    def reset_device(self, dev_handle: _Handle) -> None:
        pass

    # -- transfers ---------------------------------------------------------------------------

    def _check(self, dev_handle: _Handle) -> SimPort:
        if not dev_handle.open:
            raise _usb_error("Input/Output Error", LIBUSB_ERROR_IO, errno.EIO)
        if self._configuration != CONFIG_VALUE:
            raise _usb_error("Pipe error", LIBUSB_ERROR_PIPE, errno.EPIPE)
        return self.port

    def bulk_write(
        self, dev_handle: _Handle, ep: int, intf: int, data: array.array[int], timeout: int
    ) -> int:
        port = self._check(dev_handle)
        if ep != EP_OUT:
            raise _usb_error("Pipe error", LIBUSB_ERROR_PIPE, errno.EPIPE)
        payload = data.tobytes()
        return port.write(payload)

    def bulk_read(
        self, dev_handle: _Handle, ep: int, intf: int, buff: array.array[int], timeout: int
    ) -> int:
        port = self._check(dev_handle)
        if ep != EP_IN:
            raise _usb_error("Pipe error", LIBUSB_ERROR_PIPE, errno.EPIPE)
        size = len(buff) * buff.itemsize
        data = port.read(size, None if timeout == 0 else timeout / 1000.0)
        if not data:
            raise usb.core.USBTimeoutError(
                "Operation timed out", LIBUSB_ERROR_TIMEOUT, errno.ETIMEDOUT
            )
        memoryview(buff).cast("B")[: len(data)] = data
        return len(data)

    def ctrl_transfer(
        self,
        dev_handle: _Handle,
        bmRequestType: int,
        bRequest: int,
        wValue: int,
        wIndex: int,
        data: array.array[int],
        timeout: int,
    ) -> int:
        if not dev_handle.open:
            raise _usb_error("Input/Output Error", LIBUSB_ERROR_IO, errno.EIO)
        standard_in = bmRequestType & 0xE0 == 0x80  # IN, standard type
        answer: bytes | None = None
        if standard_in and bRequest == GET_DESCRIPTOR:
            dtype, index = wValue >> 8, wValue & 0xFF
            if dtype == DT_DEVICE:
                answer = self._descriptor.pack()
            elif dtype == DT_CONFIG and index == 0:
                answer = self._config_bytes()
            elif dtype == DT_STRING:
                answer = self._string(index, wIndex)
        elif standard_in and bRequest == GET_CONFIGURATION:
            answer = bytes([self._configuration])
        elif standard_in and bRequest == GET_STATUS:
            answer = b"\x00\x00"
        elif bmRequestType == 0x00 and bRequest == SET_CONFIGURATION:
            self.set_configuration(dev_handle, wValue & 0xFF)
            return 0
        if answer is None:
            raise _usb_error("Pipe error", LIBUSB_ERROR_PIPE, errno.EPIPE)  # a STALL
        size = len(data) * data.itemsize
        n = min(size, len(answer))
        memoryview(data).cast("B")[:n] = answer[:n]
        return n


def backend(
    config: SimConfig | None = None, *, device: ByteDevice | None = None, realtime: bool = True
) -> SimUsbBackend:
    """A pyusb backend with one simulated injector built from `config` (or serving `device`).

    Real time by default (USB timeouts are wall-clock); `realtime=False`: see `WarpPort`."""
    return SimUsbBackend(config, device=device, realtime=realtime)


get_backend = backend  # the name pyusb's own backend modules export
