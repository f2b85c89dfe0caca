"""The host's end of an in-process link to a simulated device: `SimPort`.

`open_pipe()` gives one. It is the in-process pipe for host-driver unit tests and the engine
under the `sim://` URL handler and the USB backend.

`read(n, timeout)` waits up to `timeout` seconds (None: for ever, 0: not at all) for at
least one byte and returns up to `n` bytes — socket-like, not pyserial's "wait for all n".

Two time bases:

- `RealtimePort` — a `RealtimeRunner` thread; simulated time is wall time.
- `WarpPort` — no thread. Simulated time moves only while the host waits in `read`: the
  device is stepped event by event, up to `timeout` simulated seconds, and the read returns
  as soon as the device sends something. A host that waits only by reading runs as fast as
  the CPU allows, deterministically. `read(timeout=None)` with nothing scheduled on the
  device returns b"" at once rather than hang.
"""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self, TypeVar

from mesosim.transports.device import ByteDevice, build_device
from mesosim.transports.runner import RealtimeRunner, WarpRunner

if TYPE_CHECKING:
    from mesosim.config import SimConfig

T = TypeVar("T")


class PortClosed(OSError):
    """The port was closed (or closed while a read was waiting)."""


class SimPort(abc.ABC):
    """Host side of a byte link to a ByteDevice."""

    def __init__(self, device: ByteDevice) -> None:
        self.device = device
        self.closed = False

    @abc.abstractmethod
    def write(self, data: bytes) -> int:
        """Send bytes to the device at the current simulated time; returns len(data)."""

    @abc.abstractmethod
    def read(self, n: int = 4096, timeout: float | None = None) -> bytes:
        """Up to n bytes, waiting at most `timeout` s for the first one (b"" on timeout)."""

    @property
    @abc.abstractmethod
    def in_waiting(self) -> int:
        """Bytes received and not yet read."""

    @abc.abstractmethod
    def clock(self) -> float:
        """Seconds on the clock `read` timeouts are measured by (wall or simulated)."""

    @abc.abstractmethod
    def call(self, fn: Callable[[Any], T]) -> T:
        """Run `fn(device)` where the device lives (for trigger, contact, truth logs)."""

    @abc.abstractmethod
    def reset_input(self) -> None:
        """Discard received, unread bytes."""

    @abc.abstractmethod
    def cancel_read(self) -> None:
        """Make a waiting `read` return what it has now."""

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self.closed:
            raise PortClosed("simulated port is closed")


class RealtimePort(SimPort):
    def __init__(
        self, device: ByteDevice, *, after_step: Callable[[Any], None] | None = None,
        speed: float = 1.0,
    ) -> None:
        super().__init__(device)
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._cancel = False
        self.runner = RealtimeRunner(device, self._on_output, after_step=after_step, speed=speed)
        self.runner.start()

    def _on_output(self, data: bytes) -> None:
        with self._cond:
            self._buf += data
            self._cond.notify_all()

    def write(self, data: bytes) -> int:
        self._check_open()
        self.runner.write(bytes(data))
        return len(data)

    def read(self, n: int = 4096, timeout: float | None = None) -> bytes:
        self._check_open()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._buf and not self._cancel and not self.closed:
                self.runner.check()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                # Bounded waits so a crashed runner is noticed even if nobody notifies.
                self._cond.wait(0.5 if left is None else min(left, 0.5))
            self._cancel = False
            if self.closed and not self._buf:
                raise PortClosed("simulated port closed during read")
            out = bytes(self._buf[:n])
            del self._buf[:n]
            return out

    @property
    def in_waiting(self) -> int:
        self._check_open()
        self.runner.check()
        with self._cond:
            return len(self._buf)

    def clock(self) -> float:
        return time.monotonic()

    def call(self, fn: Callable[[Any], T]) -> T:
        self._check_open()
        return self.runner.call(fn)

    def reset_input(self) -> None:
        with self._cond:
            self._buf.clear()

    def cancel_read(self) -> None:
        with self._cond:
            self._cancel = True
            self._cond.notify_all()

    def close(self) -> None:
        if self.closed:
            return
        self.runner.stop()
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class WarpPort(SimPort):
    def __init__(
        self, device: ByteDevice, *, after_step: Callable[[Any], None] | None = None
    ) -> None:
        super().__init__(device)
        self._buf = bytearray()
        self._after_step = after_step
        self.runner = WarpRunner(device)

    def write(self, data: bytes) -> int:
        self._check_open()
        self.runner.write(bytes(data))
        self._collect(self.runner.read())
        return len(data)

    def read(self, n: int = 4096, timeout: float | None = None) -> bytes:
        self._check_open()
        if not self._buf and timeout != 0:
            if timeout is None:
                # Until the device sends something or has nothing left to do.
                while not self._buf:
                    before = self.runner.now
                    self._collect(self.runner.step())
                    if self.runner.now <= before and not self._buf:
                        break
            else:
                limit = self.runner.now + timeout
                while not self._buf and self.runner.now < limit:
                    before = self.runner.now
                    self._collect(self.runner.step(limit=limit))
                    if self.runner.now <= before:
                        break
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def _collect(self, data: bytes) -> None:
        self._buf += data
        if self._after_step is not None:
            self._after_step(self.device)

    @property
    def in_waiting(self) -> int:
        self._check_open()
        self._collect(self.runner.read())
        return len(self._buf)

    def clock(self) -> float:
        return self.runner.now

    def call(self, fn: Callable[[Any], T]) -> T:
        self._check_open()
        return fn(self.device)

    def reset_input(self) -> None:
        self._buf.clear()

    def cancel_read(self) -> None:
        pass  # a warp read never blocks on another thread

    def run_until(self, t: float) -> None:
        """Advance simulated time to `t` (output is kept for `read`)."""
        self._collect(self.runner.run_until(t))


def open_pipe(
    config: SimConfig | None = None,
    *,
    device: ByteDevice | None = None,
    realtime: bool = True,
    after_step: Callable[[Any], None] | None = None,
) -> SimPort:
    """An in-process link to a simulated injector.

    `device` defaults to `build_device(config)` (the firmware plus the config's link faults).
    Real time by default, since whoever holds the host end waits in wall-clock time;
    `realtime=False` gives a `WarpPort`. (`SimConfig.realtime` is not consulted here: its
    default is False, which suits caller-stepped runners, not a host with wall-clock timers.)
    """
    if device is None:
        device = build_device(config)
    if not realtime:
        return WarpPort(device, after_step=after_step)
    speed = config.speed if config is not None else 1.0
    return RealtimePort(device, after_step=after_step, speed=speed)
