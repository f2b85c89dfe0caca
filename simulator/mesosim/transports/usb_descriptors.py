"""The simulated injector's USB identity: ids, endpoints and standard descriptors (PROTOCOL.md §2).

Kept apart from the backend (`usb.py`) so the descriptor tables read as the datasheet would
print them; the backend only packs and serves them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

VID, PID = 0x1209, 0x4D44
EP_OUT, EP_IN = 0x01, 0x81
MAX_PACKET = 64
INTERFACE = 0
CONFIG_VALUE = 1
LANGID_EN_US = 0x0409
MANUFACTURER = "mesodrive"
PRODUCT = "mesodrive injector (simulated)"
SPEED_FULL = 2

# libusb error codes, as the libusb1 backend reports them in USBError.backend_error_code.
LIBUSB_ERROR_IO, LIBUSB_ERROR_NOT_FOUND = -1, -5
LIBUSB_ERROR_TIMEOUT, LIBUSB_ERROR_PIPE = -7, -9

GET_STATUS, GET_DESCRIPTOR, GET_CONFIGURATION, SET_CONFIGURATION = 0x00, 0x06, 0x08, 0x09
DT_DEVICE, DT_CONFIG, DT_STRING, DT_INTERFACE, DT_ENDPOINT = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class DeviceDescriptor:
    iSerialNumber: int = 3
    bLength: int = 18
    bDescriptorType: int = DT_DEVICE
    bcdUSB: int = 0x0200
    bDeviceClass: int = 0x00  # class defined per interface
    bDeviceSubClass: int = 0
    bDeviceProtocol: int = 0
    bMaxPacketSize0: int = 64
    idVendor: int = VID
    idProduct: int = PID
    bcdDevice: int = 0x0100
    iManufacturer: int = 1
    iProduct: int = 2
    bNumConfigurations: int = 1
    bus: int = 1
    address: int = 1
    port_number: int = 1
    port_numbers: tuple[int, ...] = (1,)
    speed: int = SPEED_FULL

    def pack(self) -> bytes:
        return struct.pack(
            "<BBHBBBBHHHBBBB",
            self.bLength, self.bDescriptorType, self.bcdUSB, self.bDeviceClass,
            self.bDeviceSubClass, self.bDeviceProtocol, self.bMaxPacketSize0, self.idVendor,
            self.idProduct, self.bcdDevice, self.iManufacturer, self.iProduct,
            self.iSerialNumber, self.bNumConfigurations,
        )  # fmt: skip


@dataclass(frozen=True)
class ConfigurationDescriptor:
    bLength: int = 9
    bDescriptorType: int = DT_CONFIG
    wTotalLength: int = 9 + 9 + 7 + 7
    bNumInterfaces: int = 1
    bConfigurationValue: int = CONFIG_VALUE
    iConfiguration: int = 0
    bmAttributes: int = 0x80  # bus powered
    bMaxPower: int = 50  # 100 mA
    extra_descriptors: list[int] = field(default_factory=list)

    def pack(self) -> bytes:
        return struct.pack(
            "<BBHBBBBB",
            self.bLength, self.bDescriptorType, self.wTotalLength, self.bNumInterfaces,
            self.bConfigurationValue, self.iConfiguration, self.bmAttributes, self.bMaxPower,
        )  # fmt: skip


@dataclass(frozen=True)
class InterfaceDescriptor:
    bLength: int = 9
    bDescriptorType: int = DT_INTERFACE
    bInterfaceNumber: int = INTERFACE
    bAlternateSetting: int = 0
    bNumEndpoints: int = 2
    bInterfaceClass: int = 0xFF  # vendor specific
    bInterfaceSubClass: int = 0
    bInterfaceProtocol: int = 0
    iInterface: int = 0
    extra_descriptors: list[int] = field(default_factory=list)

    def pack(self) -> bytes:
        return struct.pack(
            "<BBBBBBBBB",
            self.bLength, self.bDescriptorType, self.bInterfaceNumber, self.bAlternateSetting,
            self.bNumEndpoints, self.bInterfaceClass, self.bInterfaceSubClass,
            self.bInterfaceProtocol, self.iInterface,
        )  # fmt: skip


@dataclass(frozen=True)
class EndpointDescriptor:
    bEndpointAddress: int
    bLength: int = 7
    bDescriptorType: int = DT_ENDPOINT
    bmAttributes: int = 0x02  # bulk
    wMaxPacketSize: int = MAX_PACKET
    bInterval: int = 0
    bRefresh: int = 0
    bSynchAddress: int = 0
    extra_descriptors: list[int] = field(default_factory=list)

    def pack(self) -> bytes:
        return struct.pack(
            "<BBBBHB",
            self.bLength, self.bDescriptorType, self.bEndpointAddress, self.bmAttributes,
            self.wMaxPacketSize, self.bInterval,
        )  # fmt: skip


ENDPOINTS = (EndpointDescriptor(EP_OUT), EndpointDescriptor(EP_IN))


@dataclass(frozen=True)
class SimUsbDeviceId:
    """What `enumerate_devices` yields: the backend's name for its one device."""

    bus: int = 1
    address: int = 1
