"""Device discovery: serial ports via pyserial, USB injectors via pyusb (the simulator's
backend here), and the `mesodrive devices` command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import serial.tools.list_ports
import usb.core
from mesosim.transports import usb as simusb
from serial.tools.list_ports_common import ListPortInfo

from mesodrive.cli import main
from mesodrive.driver import discovery
from mesodrive.driver.discovery import DeviceInfo, list_devices

SIM_USB_URL = "usb://1209:4D44/"


@pytest.fixture
def no_serial_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serial.tools.list_ports, "comports", list)


@pytest.fixture
def backend() -> Iterator[Any]:
    from mesosim.config import SimConfig

    be = simusb.backend(SimConfig(serial="SIM-DISC-1"))
    yield be
    be.close()


def test_sim_usb_injector_is_listed(no_serial_ports: None, backend: Any) -> None:
    devices = list_devices(usb_backend=backend)
    assert devices == [
        DeviceInfo(
            url=f"usb://1209:4D44/{backend.serial}",
            kind="usb",
            description=devices[0].description,
            serial_number=backend.serial,
            is_injector=True,
        )
    ]
    assert "mesodrive injector" in devices[0].description


def test_listed_url_opens(no_serial_ports: None, backend: Any) -> None:
    from mesodrive.driver.transports.usb import UsbTransport

    (dev,) = list_devices(usb_backend=backend)
    with UsbTransport(dev.url, backend=backend) as t:
        assert t.serial_number == dev.serial_number


def test_serial_ports_marked_by_vid_pid(monkeypatch: pytest.MonkeyPatch) -> None:
    injector, other = ListPortInfo("/dev/ttyACM0"), ListPortInfo("/dev/ttyS0")
    injector.vid, injector.pid, injector.serial_number = 0x1209, 0x4D44, "MD-0042"
    injector.description = "mesodrive injector"
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: [other, injector])
    monkeypatch.setattr(discovery, "find_devices", lambda *a, **k: [])
    devices = list_devices()
    assert [(d.url, d.kind, d.is_injector, d.serial_number) for d in devices] == [
        ("/dev/ttyACM0", "serial", True, "MD-0042"),
        ("/dev/ttyS0", "serial", False, None),
    ]


def test_no_usb_backend_still_lists_serial_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_backend(*args: Any, **kwargs: Any) -> Any:
        raise usb.core.NoBackendError("No backend available")

    monkeypatch.setattr(discovery, "find_devices", no_backend)
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: [ListPortInfo("/dev/ttyS9")])
    notes: list[str] = []
    devices = list_devices(notes=notes)
    assert [d.url for d in devices] == ["/dev/ttyS9"]
    assert notes and "no backend" in notes[0]


def test_devices_json_lists_sim_usb(
    no_serial_ports: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["devices", "--json", "--sim-usb"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["url"].startswith(SIM_USB_URL) and record["kind"] == "usb"
    assert record["is_injector"] is True and record["serial_number"]


def test_devices_table(no_serial_ports: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "--sim-usb"]) == 0
    out = capsys.readouterr().out
    assert SIM_USB_URL in out and "injector" in out


def test_devices_empty(
    monkeypatch: pytest.MonkeyPatch, no_serial_ports: None, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(discovery, "find_devices", lambda *a, **k: [])
    assert main(["devices"]) == 0
    assert "no devices found" in capsys.readouterr().out
