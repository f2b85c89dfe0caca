"""The simulated injector on a loopback TCP port, reachable as pyserial `socket://HOST:PORT`.

One client at a time: while one is connected, further connections are accepted and closed
at once (the client sees EOF) so they fail fast instead of hanging. A disconnect frees the
port for the next client; the device keeps running throughout, like a real one whose cable
was pulled. Only loopback addresses are served: the simulator has no authentication.
Output with no client connected, or beyond what the socket buffer takes, is dropped.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import selectors
import socket
import threading
from collections.abc import Callable
from typing import Any, Self

from mesosim.transports.device import ByteDevice
from mesosim.transports.runner import RealtimeRunner

log = logging.getLogger(__name__)


def check_loopback(host: str) -> None:
    """ValueError unless `host` is a loopback address (or "localhost")."""
    if host == "localhost":
        return
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address (use 127.0.0.1 or ::1)") from None
    if not addr.is_loopback:
        raise ValueError(f"{host} is not a loopback address; the simulator serves loopback only")


class TcpServer:
    def __init__(
        self,
        device: ByteDevice,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        after_step: Callable[[Any], None] | None = None,
    ) -> None:
        check_loopback(host)
        if host == "localhost":
            host = "127.0.0.1"
        host = host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, port), family=family, backlog=1)
        self._listener.setblocking(False)
        self.host, self.port = self._listener.getsockname()[:2]
        self._client: socket.socket | None = None
        self._lock = threading.Lock()
        self.runner = RealtimeRunner(device, self._to_client, after_step=after_step)
        self._stop_r, self._stop_w = os.pipe()
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="mesosim-tcp", daemon=True)
        self.dropped = 0
        self.clients_served = 0
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"socket://{host}:{self.port}"

    def start(self) -> Self:
        self.runner.start()
        self._thread.start()
        return self

    def _to_client(self, data: bytes) -> None:
        with self._lock:
            client = self._client
            if client is None:
                self.dropped += len(data)
                return
            view = memoryview(data)
            while view:
                try:
                    n = client.send(view)
                except BlockingIOError:
                    self.dropped += len(view)
                    return
                except OSError:
                    self.dropped += len(view)
                    return  # the I/O thread notices the disconnect and cleans up
                view = view[n:]

    def _drop_client(self, sel: selectors.BaseSelector) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            sel.unregister(client)
            client.close()
            log.info("client disconnected")

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ, "listen")
        sel.register(self._stop_r, selectors.EVENT_READ, "stop")
        try:
            while not self._stopping:
                for key, _ in sel.select(0.5):
                    if key.data == "stop":
                        return
                    if key.data == "listen":
                        self._accept(sel)
                    elif key.data == "client":
                        self._from_client(sel)
        except BaseException as exc:
            self.error = exc
            log.exception("tcp server failed")
        finally:
            self._drop_client(sel)
            sel.close()

    def _accept(self, sel: selectors.BaseSelector) -> None:
        try:
            conn, peer = self._listener.accept()
        except BlockingIOError:
            return
        if self._client is not None:
            log.warning("refusing %s: a client is already connected", peer)
            conn.close()
            return
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._client = conn
        self.clients_served += 1
        sel.register(conn, selectors.EVENT_READ, "client")
        log.info("client connected from %s", peer)

    def _from_client(self, sel: selectors.BaseSelector) -> None:
        assert self._client is not None
        try:
            data = self._client.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop_client(sel)
            return
        self.runner.write(data)

    def check(self) -> None:
        self.runner.check()
        if self.error is not None:
            raise RuntimeError(f"tcp server failed: {self.error!r}") from self.error

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and self.runner.running

    def close(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        os.write(self._stop_w, b"x")
        if self._thread.is_alive():
            self._thread.join(2.0)
        self.runner.stop()
        self._listener.close()
        for fd in (self._stop_r, self._stop_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
