"""Over TCP every frame leaves at once: an e-stop written just after a heartbeat must not wait
for that heartbeat's (possibly delayed) acknowledgement (Nagle's algorithm; issue 13)."""

from __future__ import annotations

import socket

from mesodrive.driver.transports.serial import SerialTransport


def test_a_socket_url_sends_without_delay() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        transport = SerialTransport(f"socket://127.0.0.1:{port}")
        try:
            sock = transport.port._socket
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            transport.close()
