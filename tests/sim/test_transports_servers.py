"""The pty and TCP servers, in-process, against the scripted echo device: a real OS serial path
and a real socket, reached through plain pyserial."""

from __future__ import annotations

import socket
import time

import pytest
import serial
from mesosim.transports.pty_server import PtyServer
from mesosim.transports.runner import RealtimeRunner
from mesosim.transports.tcp_server import TcpServer, check_loopback

from tests.sim.test_transports import EchoDevice


def read_exactly(port: serial.SerialBase, n: int, timeout: float = 5.0) -> bytes:
    deadline = time.monotonic() + timeout
    out = b""
    while len(out) < n and time.monotonic() < deadline:
        out += port.read(n - len(out))
    return out


def settle(runner: RealtimeRunner) -> None:
    """Return once the device has nothing scheduled and its last output has been passed on."""
    deadline = time.monotonic() + 5
    while runner.call(lambda d: d.next_wakeup()) is not None:
        assert time.monotonic() < deadline
    runner.call(lambda d: None)  # a full loop turn later: the sink has run


def test_pty_serves_a_pyserial_client_across_reopen() -> None:
    with PtyServer(EchoDevice(latency=0.001)) as server:
        assert server.path.startswith("/dev/")
        for round_ in range(3):  # the client closes and reopens the port
            with serial.Serial(server.path, 115200, timeout=0.2) as client:
                msg = f"hello {round_}".encode() + b"\0"
                client.write(msg)
                assert read_exactly(client, len(msg)) == msg
        server.check()
        # Output with no client open is not an error either.
        server.runner.write(b"unheard\0")
        settle(server.runner)
        with serial.Serial(server.path, 115200, timeout=0.2) as client:
            client.write(b"again\0")
            assert read_exactly(client, 6) == b"again\0"  # opening flushed the stale echo
        assert server.alive
    assert not server.alive


def test_pty_is_raw_and_8_bit_clean() -> None:
    every_byte = bytes(range(256))
    with PtyServer(EchoDevice(latency=0.0)) as server:
        with serial.Serial(server.path, timeout=0.2) as client:
            client.write(every_byte)
            assert read_exactly(client, 256) == every_byte
        received = server.runner.call(lambda d: bytes(d.received))
    assert received == every_byte  # no echo, no CR/LF mapping, no ^C, ^S, ^D handling


def test_tcp_serves_one_client_at_a_time() -> None:
    with TcpServer(EchoDevice(latency=0.001), "127.0.0.1", 0) as server:
        assert server.url == f"socket://127.0.0.1:{server.port}"
        assert server.port > 0
        with serial.serial_for_url(server.url, timeout=0.2) as client:
            client.write(b"one\0")
            assert read_exactly(client, 4) == b"one\0"
            # A second client is turned away at once (EOF), not left hanging.
            other = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            other.settimeout(5)
            assert other.recv(10) == b""
            other.close()
            client.write(b"still\0")
            assert read_exactly(client, 6) == b"still\0"
        # After a disconnect the next client is served.
        with serial.serial_for_url(server.url, timeout=0.2) as client:
            client.write(b"two\0")
            assert read_exactly(client, 4) == b"two\0"
        assert server.clients_served == 2
        server.check()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org"])
def test_tcp_refuses_non_loopback_addresses(host: str) -> None:
    with pytest.raises(ValueError):
        check_loopback(host)
    with pytest.raises(ValueError):
        TcpServer(EchoDevice(), host, 0)


def test_tcp_accepts_loopback_spellings() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "[::1]"):
        check_loopback(host)
