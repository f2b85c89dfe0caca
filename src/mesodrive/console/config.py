"""What the console serves and how: the device, the records, the address, the token, TLS.

Loopback (127.0.0.1, ::1, localhost) is the default and needs no TLS: only this machine can
reach it, and the access token keeps other local users and web pages out. Any other address
needs both an explicit `--host` and a certificate and key: the token would otherwise cross
the network in clear text.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

LOOPBACK_NAMES = frozenset({"localhost"})
DEFAULT_PORT = 8765
# The environment carries the configuration to a server started by a test fixture (the main
# file runs in the fixture's process, not through `mesodrive console`).
ENV = {"device": "MESODRIVE_CONSOLE_DEVICE", "db": "MESODRIVE_CONSOLE_DB",
       "token": "MESODRIVE_CONSOLE_TOKEN", "operator": "MESODRIVE_CONSOLE_OPERATOR",
       "plans": "MESODRIVE_CONSOLE_PLANS"}


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class ConsoleConfig:
    device: str | None  # device URL; None: the built-in simulator
    db: Path | None  # records database; None: the default path
    token: str
    operator: str | None = None
    plans: Path | None = None  # the folder whose plans the Plan screen offers (default: examples)
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    cert: Path | None = None
    key: Path | None = None

    @property
    def tls(self) -> bool:
        return self.cert is not None and self.key is not None

    def address(self) -> str:
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/?token={self.token}"

    def problem(self) -> str | None:
        """Why this configuration must not be served (None: it may)."""
        if (self.cert is None) != (self.key is None):
            return "give both --cert and --key (TLS needs the certificate and its private key)"
        for what, path in (("certificate", self.cert), ("key", self.key)):
            if path is not None and not path.is_file():
                return f"the TLS {what} {path} is not a readable file"
        if not is_loopback(self.host) and not self.tls:
            return (f"refusing to listen on {self.host} without TLS: the access token would "
                    f"cross the network in clear text. Give --cert FILE --key FILE, or leave "
                    f"--host out to serve on 127.0.0.1 only")
        if self.plans is not None and not self.plans.is_dir():
            return f"--plans {self.plans} is not a folder"
        if not 0 < self.port < 65536:
            return f"--port {self.port} is not a TCP port"
        return None

    def to_env(self) -> dict[str, str]:
        env = {ENV["token"]: self.token}
        if self.device:
            env[ENV["device"]] = self.device
        if self.db is not None:
            env[ENV["db"]] = str(self.db)
        if self.operator:
            env[ENV["operator"]] = self.operator
        if self.plans is not None:
            env[ENV["plans"]] = str(self.plans)
        return env

    @classmethod
    def from_env(cls) -> ConsoleConfig:
        """For a server a test fixture starts: everything from the environment (a token is
        required there: a console never serves without one)."""
        token = os.environ.get(ENV["token"], "")
        if not token:
            raise RuntimeError(f"{ENV['token']} is not set: no console without a token")
        db, plans = os.environ.get(ENV["db"]), os.environ.get(ENV["plans"])
        return cls(device=os.environ.get(ENV["device"]) or None, db=Path(db) if db else None,
                   token=token, operator=os.environ.get(ENV["operator"]) or None,
                   plans=Path(plans) if plans else None)
