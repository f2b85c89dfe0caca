"""`mesodrive console` as a user starts it: a real server process, its printed address with
the token, 403 without it; off loopback only with TLS (a self-signed certificate here)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, args: list[str], tmp: Path) -> None:
        # Not "under pytest" for NiceGUI (it would ignore --port and serve a test port).
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "NICEGUI_"))} | {"PYTHONUNBUFFERED": "1"}
        self.out = tmp / "console.out"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mesodrive", "console", "--db", str(tmp / "r.db"), *args],
            stdout=self.out.open("w"), stderr=subprocess.STDOUT, env=env,
            start_new_session=True)

    def address(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(r"(https?://\S+\?token=\S+)", self.out.read_text())
            if m:
                return m.group(1)
            assert self.proc.poll() is None, self.out.read_text()
            time.sleep(0.1)
        raise AssertionError(f"no address printed: {self.out.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _get(url: str, context: ssl.SSLContext | None = None, timeout: float = 20) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            opener = urllib.request.build_opener(  # straight to the server, never via a proxy
                urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
            with opener.open(url, timeout=5) as r:
                return int(r.status), r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode("utf-8", "replace")
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[Served]]:
    running: list[Served] = []
    yield running
    for s in running:
        s.stop()


def test_serves_on_loopback_with_its_token(served: list[Served], tmp_path: Path) -> None:
    port = _free_port()
    s = Served(["--port", str(port)], tmp_path)
    served.append(s)
    url = s.address()
    assert url.startswith(f"http://127.0.0.1:{port}/?token=")
    assert "SIMULATOR" in s.out.read_text()
    status, body = _get(f"http://127.0.0.1:{port}/")
    assert status == 403 and "access token" in body
    status, body = _get(url)
    assert status == 200 and "E-STOP" in body
    s.stop()
    assert "Traceback" not in s.out.read_text()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl to make a certificate")
def test_off_loopback_only_with_tls(served: list[Served], tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    port = _free_port()
    s = Served(["--host", "0.0.0.0", "--port", str(port), "--cert", str(cert), "--key", str(key)],
               tmp_path)
    served.append(s)
    url = s.address()
    assert url.startswith(f"https://0.0.0.0:{port}/?token=")
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    token = url.split("token=", 1)[1]
    status, _ = _get(f"https://127.0.0.1:{port}/", context)
    assert status == 403
    status, body = _get(f"https://127.0.0.1:{port}/?token={token}", context)
    assert status == 200 and "E-STOP" in body
