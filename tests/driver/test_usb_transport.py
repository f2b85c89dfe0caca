"""UsbTransport against the simulator's pyusb backend (no libusb, no hardware).

Most tests put a byte echo behind the backend so they test the transport, not the firmware;
one round trip talks to the simulated firmware with nothing but mesodrive.protocol.
"""

from __future__ import annotations

import array
import time
from collections.abc import Iterator
from typing import Any

import pytest
import usb.core
from mesosim.transports import usb as simusb

from mesodrive.driver.errors import TransportError
from mesodrive.driver.transports import open_transport
from mesodrive.driver.transports.usb import UsbTransport, format_usb_url, parse_usb_url

URL = "usb://1209:4D44"


class Echo:
    """A ByteDevice that sends back whatever it is sent."""

    def __init__(self) -> None:
        self._now = 0.0
        self._out = bytearray()

    @property
    def now(self) -> float:
        return self._now

    def write(self, data: bytes) -> None:
        self._out += data

    def advance_to(self, t: float) -> None:
        self._now = t

    def read(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_wakeup(self) -> float | None:
        return None


def echo_backend(serial: str = "SIM-ECHO-1", cls: type[Any] = simusb.SimUsbBackend) -> Any:
    be = cls(None, device=Echo())
    be.serial = serial  # what the device reports as iSerialNumber
    return be


class TwoDevices:
    """Two simulated devices on one bus: `usb.core.find` takes a single backend, so this one
    enumerates both and routes every call by the (backend, id) pair it handed out."""

    def __init__(self, *backends: Any) -> None:
        self.backends = backends

    def enumerate_devices(self) -> Iterator[tuple[Any, Any]]:
        for be in self.backends:
            for dev in be.enumerate_devices():
                yield be, dev

    def open_device(self, dev: tuple[Any, Any]) -> tuple[Any, Any]:
        be, inner = dev
        return be, be.open_device(inner)

    def __getattr__(self, name: str) -> Any:
        def call(target: tuple[Any, Any], *args: Any) -> Any:
            be, inner = target
            return getattr(be, name)(inner, *args)

        return call


@pytest.fixture
def backend() -> Iterator[Any]:
    be = echo_backend()
    yield be
    be.close()


def read_exactly(t: UsbTransport, n: int, deadline_s: float = 5.0) -> bytes:
    got = b""
    end = time.monotonic() + deadline_s
    while len(got) < n and time.monotonic() < end:
        got += t.read(n - len(got), 0.2)
    return got


# -- URLs ----------------------------------------------------------------------------------


def test_parse_urls() -> None:
    assert parse_usb_url("usb://1209:4D44") == (0x1209, 0x4D44, None)
    assert parse_usb_url("usb://0x1209:0x4d44/SIM-0001") == (0x1209, 0x4D44, "SIM-0001")
    assert format_usb_url(0x1209, 0x4D44, "A1") == "usb://1209:4D44/A1"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("usb://1209", "expected usb://VID:PID"),
        ("usb://zz:4D44", "VID 'zz' is not a hex number"),
        ("usb://1209:", "PID '' is not a hex number"),
        ("usb://1209:12345", "exceeds 0xFFFF"),
        ("usb://1209:4D44/", "empty serial"),
        ("usb:/1209:4D44", "expected usb://VID:PID"),
    ],
)
def test_bad_url_names_url_and_problem(url: str, why: str, backend: Any) -> None:
    with pytest.raises(TransportError) as exc:
        UsbTransport(url, backend=backend)
    assert repr(url) in str(exc.value) and why in str(exc.value)


# -- finding the device --------------------------------------------------------------------


@pytest.mark.parametrize("url", [URL, "usb://0x1209:0x4d44", "usb://1209:4d44/SIM-ECHO-1"])
def test_finds_by_vid_pid_or_serial(url: str, backend: Any) -> None:
    with UsbTransport(url, backend=backend) as t:
        assert t.url == url and t.serial_number == "SIM-ECHO-1"


def test_wrong_serial_is_a_clear_error(backend: Any) -> None:
    with pytest.raises(TransportError, match=r"with serial 'NOPE'.*found: SIM-ECHO-1"):
        UsbTransport(URL + "/NOPE", backend=backend)


def test_no_device_names_what_was_searched(backend: Any) -> None:
    with pytest.raises(TransportError, match=r"'usb://1209:1234'.*no USB device 1209:1234"):
        UsbTransport("usb://1209:1234", backend=backend)


def test_several_devices_need_a_serial() -> None:
    a, b = echo_backend("SIM-A"), echo_backend("SIM-B")
    bus = TwoDevices(a, b)
    try:
        with pytest.raises(TransportError, match=r"2 USB devices 1209:4D44.*SIM-A, SIM-B"):
            UsbTransport(URL, backend=bus)
        with UsbTransport(URL + "/SIM-B", backend=bus) as t:
            assert t.serial_number == "SIM-B"
            t.write(b"to B")
            assert read_exactly(t, 4) == b"to B"
    finally:
        a.close()
        b.close()


def test_open_transport_routes_usb_urls() -> None:
    # Without a backend argument pyusb looks for libusb; either way the URL is named.
    with pytest.raises(TransportError, match=r"'usb://1209:4D44/X'"):
        open_transport("usb://1209:4D44/X")


# -- bytes ---------------------------------------------------------------------------------


def test_write_then_read_back_across_packets(backend: Any) -> None:
    data = bytes(range(256)) * 3  # 768 bytes: many 64-byte packets
    with UsbTransport(URL, backend=backend) as t:
        t.write(data)
        assert read_exactly(t, len(data)) == data


def test_read_never_returns_more_than_asked(backend: Any) -> None:
    with UsbTransport(URL, backend=backend) as t:
        t.write(b"0123456789" * 10)
        time.sleep(0.05)
        first = t.read(7, 1.0)
        assert first == b"0123456"
        assert first + read_exactly(t, 93) == b"0123456789" * 10


class ShortWrites(simusb.SimUsbBackend):  # type: ignore[misc]
    """Accepts at most 5 bytes per bulk write; records what each call was offered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offered: list[int] = []

    def bulk_write(self, h: Any, ep: int, intf: int, data: array.array[int], timeout: int) -> int:
        self.offered.append(len(data))
        return int(super().bulk_write(h, ep, intf, data[:5], timeout))


def test_short_writes_are_completed() -> None:
    be = echo_backend(cls=ShortWrites)
    data = bytes(range(200)) * 30  # 6000 bytes: more than one write chunk
    try:
        with UsbTransport(URL, backend=be) as t:
            t.write(data)
            assert read_exactly(t, len(data)) == data
        assert len(be.offered) == len(data) // 5
        assert max(be.offered) <= 64 * 64 and max(be.offered) % 64 == 0
    finally:
        be.close()


class Refuses(simusb.SimUsbBackend):  # type: ignore[misc]
    def __init__(self, *args: Any, error: BaseException | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.error = error

    def bulk_write(self, h: Any, ep: int, intf: int, data: array.array[int], timeout: int) -> int:
        if self.error is not None:
            raise self.error
        return 0

    def bulk_read(self, h: Any, ep: int, intf: int, buff: array.array[int], timeout: int) -> int:
        raise usb.core.USBError("Input/Output Error", -1, 5)


@pytest.mark.parametrize(
    ("error", "match"),
    [
        (None, "accepted 0 bytes"),
        (usb.core.USBTimeoutError("Operation timed out", -7, 110), "timed out"),
        (usb.core.USBError("No such device", -4, 19), "No such device"),
    ],
)
def test_write_failures_raise_transport_error(error: BaseException | None, match: str) -> None:
    be = Refuses(None, device=Echo(), error=error)
    try:
        with UsbTransport(URL, backend=be) as t, pytest.raises(TransportError) as exc:
            t.write(b"hello")
        assert repr(URL) in str(exc.value) and match in str(exc.value)
    finally:
        be.close()


def test_read_failure_raises_transport_error() -> None:
    be = Refuses(None, device=Echo())
    try:
        with UsbTransport(URL, backend=be) as t, pytest.raises(TransportError, match="read from"):
            t.read(64, 0.1)
    finally:
        be.close()


@pytest.mark.parametrize("timeout", [0.0, 0.05])
def test_read_timeout_returns_empty_in_bounded_time(timeout: float, backend: Any) -> None:
    with UsbTransport(URL, backend=backend) as t:
        start = time.monotonic()
        assert t.read(64, timeout) == b""  # 0 must not become libusb's "wait for ever"
        assert time.monotonic() - start < timeout + 0.5


def test_close_twice_and_use_after_close(backend: Any) -> None:
    t = UsbTransport(URL, backend=backend)
    t.close()
    t.close()
    with pytest.raises(TransportError, match="closed"):
        t.write(b"x")
    with pytest.raises(TransportError, match="closed"):
        t.read(1, 0.01)
    with UsbTransport(URL, backend=backend) as again:  # the interface was released
        again.write(b"ok")
        assert read_exactly(again, 2) == b"ok"


def test_unplugged_device_raises_transport_error(backend: Any) -> None:
    with UsbTransport(URL, backend=backend) as t:
        backend.close()
        with pytest.raises(TransportError, match=repr(URL)):
            t.write(b"x")


# -- the simulated firmware ------------------------------------------------------------------


def test_link_sync_and_identify_round_trip() -> None:
    """Talk to the firmware through the bulk pipes with only mesodrive.protocol; the identity
    spans several 64-byte packets and names the same serial as the USB descriptor."""
    from mesosim.config import SimConfig

    from mesodrive.protocol.endpoint import Endpoint
    from mesodrive.protocol.messages import Identify, Identity, LinkSync, LinkSyncReply

    be = simusb.backend(SimConfig(serial="SIM-USB-7"))
    host = Endpoint()

    def ask(t: UsbTransport, msg: Any, answer: type[Any]) -> Any:
        t.write(host.send(msg))
        end = time.monotonic() + 5.0
        while time.monotonic() < end:
            for got in host.receive(t.read(256, 0.2), time.monotonic()):
                if isinstance(got, answer) and got.token == msg.token:
                    return got
        raise AssertionError(f"no {answer.__name__} for {msg}")

    try:
        with UsbTransport(URL + "/SIM-USB-7", backend=be) as t:
            reply = ask(t, LinkSync(token=0x5A5A), LinkSyncReply)
            host.reset()
            identity = ask(t, Identify(token=0x1234), Identity)
            assert identity.serial == t.serial_number == "SIM-USB-7"
            assert identity.boot_nonce == reply.boot_nonce
    finally:
        be.close()
