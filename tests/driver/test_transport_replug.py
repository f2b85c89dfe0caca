"""A transport that disappears and comes back (issue 13): a TCP connection to the simulated
device is cut (a cable pulled) and allowed again; the driver reopens it, settles what was in
flight from the device's own record, and never re-sends a shot."""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from mesosim.config import SimConfig
from mesosim.transports import build_device, inner_device
from mesosim.transports.tcp_server import TcpServer

from mesodrive.driver.errors import DriverError
from mesodrive.driver.injector import Injector
from mesodrive.driver.shots import ShotState
from mesodrive.protocol.messages import DeviceState
from tests.driver.conftest import fast_shot


class Cable:
    """A TCP proxy on loopback whose connection can be pulled and plugged back in."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
        self.plugged = threading.Event()
        self.plugged.set()
        self._pair: tuple[socket.socket, socket.socket] | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def pull(self) -> None:
        self.plugged.clear()
        if self._pair is not None:
            for s in self._pair:
                s.close()
            self._pair = None

    def plug(self) -> None:
        self.plugged.set()

    def close(self) -> None:
        self._stop = True
        self.pull()
        self.listener.close()

    def _serve(self) -> None:
        self.listener.settimeout(0.05)
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            if not self.plugged.is_set():
                client.close()  # nothing at the other end of the cable
                continue
            upstream = socket.create_connection(self.target)
            self._pair = (client, upstream)
            self._pump(client, upstream)

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        try:
            while not self._stop and self._pair is not None:
                for key, _ in sel.select(0.05):
                    data = key.fileobj.recv(4096)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            sel.close()
            for s in (a, b):
                s.close()
            self._pair = None


@pytest.fixture
def cable() -> Iterator[tuple[Cable, TcpServer]]:
    server = TcpServer(build_device(SimConfig(seed=9, realtime=True))).start()
    c = Cable((server.host, server.port))
    yield c, server
    c.close()
    server.close()


def test_a_pulled_cable_is_reopened_and_the_shot_settled_never_resent(
    cable: tuple[Cable, TcpServer],
) -> None:
    c, server = cable
    with Injector.connect(c.url) as inj:
        inj.home()
        inj.prime(volume_ul=10.0, flow_ul_s=100.0)
        session = inj.arm()
        inj.queue_shot(fast_shot(0, inj.device_now() + 0.3))
        time.sleep(0.15)
        c.pull()  # the device's dead-man trips: it goes safe, its queue empties
        deadline = time.monotonic() + 5
        while not inj.link_lost and time.monotonic() < deadline:
            time.sleep(0.02)
        assert inj.link_lost
        with pytest.raises(DriverError):
            inj.reconnect()  # still unplugged: a clear error, nothing resent
        c.plug()
        inj.reconnect()  # reopens the transport, resynchronises, settles from the device
        shot = inj.shot(session, 0)
        assert shot.state.final and shot.state in (ShotState.CANCELLED, ShotState.DONE)
        assert inj.status().state is DeviceState.FAULT  # LINK_LOST, latched until cleared
    log = server.runner.call(lambda dev: list(inner_device(dev).executed_log))
    assert len(log) <= 1 and (not log or shot.state is ShotState.DONE)
