"""The transport registry: scheme → backend, extended through the `mesodrive.transports`
entry-point group; the simulator's sim:// reaches the driver only through that group."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint

import pytest
import serial
from serial.urlhandler import protocol_loop

from mesodrive.driver import transports
from mesodrive.driver.errors import TransportError
from mesodrive.driver.transports import (
    ENTRY_POINT_GROUP,
    Transport,
    UnknownSchemeError,
    backend_for,
    known_schemes,
    open_transport,
    register_transport,
    registry,
    unregister_transport,
)
from mesodrive.driver.transports.serial import SerialTransport
from mesodrive.driver.transports.usb import UsbTransport


class LoopbackTransport(Transport):
    """A backend of the kind a third-party package would register: bytes written come back."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.buffer = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.buffer += data

    def read(self, max_bytes: int, timeout: float) -> bytes:
        out = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        return out

    def close(self) -> None:
        self.closed = True


class EchoPort(protocol_loop.Serial):  # type: ignore[misc]
    """A pyserial port class under its own scheme (how the simulator registers sim://)."""

    def from_url(self, url: str) -> None:
        assert url.startswith("echo://")


NOT_A_TRANSPORT = object()


def install_entry_points(monkeypatch: pytest.MonkeyPatch, **names: str) -> None:
    """Make the registry see exactly these entry points in its group (name → value)."""
    eps = [EntryPoint(name=n, value=v, group=ENTRY_POINT_GROUP) for n, v in names.items()]

    def fake(*, group: str) -> list[EntryPoint]:
        return eps if group == ENTRY_POINT_GROUP else []

    monkeypatch.setattr(registry, "entry_points", fake)


def test_a_backend_registered_through_the_entry_point_group_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_entry_points(monkeypatch, loopy=f"{__name__}:LoopbackTransport")
    assert "loopy" in known_schemes()
    with open_transport("loopy://anything") as t:
        assert isinstance(t, LoopbackTransport) and t.url == "loopy://anything"
        t.write(b"\x00frame\x00")
        assert t.read(64, 0.1) == b"\x00frame\x00"
    assert t.closed
    assert backend_for("LOOPY://x") is LoopbackTransport  # schemes are case-insensitive


def test_an_entry_point_may_name_a_pyserial_port_class(monkeypatch: pytest.MonkeyPatch) -> None:
    install_entry_points(monkeypatch, echo=f"{__name__}:EchoPort")
    before = list(serial.protocol_handler_packages)
    with open_transport("echo://") as t:
        assert isinstance(t, SerialTransport) and isinstance(t.port, EchoPort)
        t.write(b"abc")
        assert t.read(16, 1.0) == b"abc"
    assert serial.protocol_handler_packages == before  # nothing registered globally


def test_an_unknown_scheme_names_it_and_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    install_entry_points(monkeypatch, loopy=f"{__name__}:LoopbackTransport")
    with pytest.raises(UnknownSchemeError) as exc:
        open_transport("nosuch://device")
    assert isinstance(exc.value, TransportError)  # callers catching TransportError still do
    message = str(exc.value)
    assert "'nosuch'" in message and "'nosuch://device'" in message
    for known in ("usb://", "socket://", "loop://", "loopy://"):
        assert known in message
    assert exc.value.scheme == "nosuch" and "usb" in exc.value.known


def test_a_broken_entry_point_is_a_transport_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_entry_points(
        monkeypatch,
        wrong=f"{__name__}:NOT_A_TRANSPORT",
        gone="no_such_module_for_mesodrive:Thing",
    )
    with pytest.raises(TransportError, match=r"entry point wrong = .*expected a Transport"):
        open_transport("wrong://x")
    with pytest.raises(TransportError, match=r"entry point gone = .*failed to load"):
        open_transport("gone://x")


def test_built_in_schemes_win_over_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    install_entry_points(monkeypatch, usb=f"{__name__}:LoopbackTransport")
    assert backend_for("usb://1209:4D44") is UsbTransport
    with pytest.raises(ValueError, match="built-in"):
        register_transport("usb", LoopbackTransport)


def test_run_time_registration() -> None:
    register_transport("mem", LoopbackTransport)
    try:
        with open_transport("mem://") as t:
            assert isinstance(t, LoopbackTransport)
    finally:
        unregister_transport("mem")
    with pytest.raises(UnknownSchemeError):
        open_transport("mem://")


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("/dev/ttyACM0", SerialTransport),
        ("COM3", SerialTransport),
        ("socket://127.0.0.1:1", SerialTransport),
        ("loop://", SerialTransport),
        ("usb://1209:4D44/X", UsbTransport),
    ],
)
def test_routing(url: str, backend: type[Transport]) -> None:
    assert backend_for(url) is backend


def test_pyserial_urls_still_open_through_the_serial_backend() -> None:
    with open_transport("loop://") as t:
        assert isinstance(t, SerialTransport)
        t.write(b"ping")
        assert t.read(16, 1.0) == b"ping"


def test_a_missing_device_path_is_a_transport_error_not_an_unknown_scheme() -> None:
    with pytest.raises(TransportError, match="cannot open") as exc:
        open_transport("/dev/no-such-injector-xyz")
    assert not isinstance(exc.value, UnknownSchemeError)


def test_the_simulator_is_declared_in_the_entry_point_group() -> None:
    """Needs `pip install -e .` after pyproject.toml changes (entry points live in metadata)."""
    eps = {ep.name: ep for ep in registry.entry_points(group=ENTRY_POINT_GROUP)}
    assert "sim" in eps, "reinstall mesodrive (pip install -e .) to refresh its entry points"
    assert eps["sim"].value == "mesosim.protocol_sim:Serial"


def test_sim_connects_without_the_caller_or_the_driver_importing_mesosim() -> None:
    code = textwrap.dedent(
        """
        import sys
        from mesodrive.driver.injector import Injector
        assert "mesosim" not in sys.modules, "the driver imported the simulator"
        with Injector.connect("sim://?seed=1&realtime=1") as inj:
            assert inj.identity is not None
            print(inj.identity.serial)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_old_import_paths_name_the_same_objects() -> None:
    from mesodrive.driver import serial_transport, transport, usb_transport
    from mesodrive.driver.transports import usb

    assert transport.Transport is transports.Transport
    assert transport.open_transport is transports.open_transport
    assert serial_transport.SerialTransport is SerialTransport
    assert usb_transport.UsbTransport is UsbTransport
    for name in usb_transport.__all__:
        assert getattr(usb_transport, name) is getattr(usb, name)
