"""Shared fixtures: the simulator's MT-SICS balance served on a real pty and on loopback TCP
(the simulator's own `PtyServer` / `TcpServer` around a `Balance`), and a scripted port."""

from __future__ import annotations

import os
import threading
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from mesosim.instruments import Balance
from mesosim.rig import Ticking
from mesosim.transports.pty_server import PtyServer
from mesosim.transports.tcp_server import TcpServer


@dataclass
class ServedBalance:
    url: str
    server: Any  # PtyServer | TcpServer

    def hands(self, fn: Callable[[Balance], Any]) -> Any:
        """The technician's hands: run `fn(balance)` on the balance's own thread."""
        return self.server.runner.call(lambda dev: fn(dev.device), timeout=5.0)


def serve_balance(kind: str, **options: Any) -> ServedBalance:
    options.setdefault("seed", 1)
    options.setdefault("vessel_g", None)
    device = Ticking(Balance(options.pop("source", None), **options))
    server: Any = PtyServer(device) if kind == "pty" else TcpServer(device)
    server.runner.speed = 4.0  # time-warped: settling in a quarter of the wall time
    server.start()
    return ServedBalance(server.path if kind == "pty" else server.url, server)


@pytest.fixture(params=["pty", "tcp"])
def served_balance(request: pytest.FixtureRequest) -> Iterator[ServedBalance]:
    served = serve_balance(request.param)
    try:
        yield served
    finally:
        served.server.close()


@pytest.fixture
def pty_balance() -> Iterator[ServedBalance]:
    served = serve_balance("pty")
    try:
        yield served
    finally:
        served.server.close()


class FakeBalanceDevice:
    """A pty whose far end answers each command line with `answer(command) -> bytes`
    (garbage, silence, scripted replies): what the simulator cannot be made to do."""

    def __init__(self, answer: Callable[[bytes], bytes]) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self.answer = answer
        self.commands: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import select

        buffer = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                buffer += os.read(self.master, 1024)
            except OSError:
                time.sleep(0.02)
                continue
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                command = line.rstrip(b"\r")
                self.commands.append(command)
                reply = self.answer(command)
                if reply:
                    os.write(self.master, reply)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self._slave)


@pytest.fixture
def fake_balance() -> Iterator[Callable[[Callable[[bytes], bytes]], FakeBalanceDevice]]:
    made: list[FakeBalanceDevice] = []

    def make(answer: Callable[[bytes], bytes]) -> FakeBalanceDevice:
        made.append(FakeBalanceDevice(answer))
        return made[-1]

    yield make
    for device in made:
        device.close()


class ScriptedPort:
    """An in-memory pyserial-like port: each written line is answered by `answer(line)`."""

    def __init__(self, answer: Callable[[bytes], bytes]) -> None:
        self.answer = answer
        self.timeout: float | None = 0.05
        self.written: list[bytes] = []
        self._in = bytearray()
        self.closed = False

    def write(self, data: bytes) -> int:
        self.written.append(bytes(data))
        self._in += self.answer(bytes(data).rstrip(b"\r\n"))
        return len(data)

    def read(self, size: int = 1) -> bytes:
        if not self._in:
            time.sleep(0.001)
            return b""
        out = bytes(self._in[:size])
        del self._in[:size]
        return out

    @property
    def in_waiting(self) -> int:
        return len(self._in)

    def reset_input_buffer(self) -> None:
        pass  # scripted replies are queued before the read: keep them

    def close(self) -> None:
        self.closed = True
