"""Runners: what moves a ByteDevice's simulated clock.

- `WarpRunner` — the caller steps time (`run_until`, `step`): nothing happens between calls,
  so tests and benchmarks run as fast as the CPU allows and are exactly reproducible.
- `RealtimeRunner` — a thread keeps simulated time equal to wall time since start. It sleeps
  until the device's next wake-up or until the host writes (no polling when idle) and hands
  every device output to a sink as soon as it is produced.

The device is touched only by the runner's own thread (RealtimeRunner) or by the caller's
(WarpRunner); other threads go through `write` and `call`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from mesosim.transports.device import ByteDevice

log = logging.getLogger(__name__)

T = TypeVar("T")

# Idle safety net: even with no wake-up pending, re-check the stop flag this often.
IDLE_WAIT = 0.5
# A device reporting a wake-up it has already passed is polled at this rate, not spun on.
STALE_WAIT = 0.001


# CPython's default GIL switch interval: how long a thread may hold the GIL while another waits.
DEFAULT_SWITCH_INTERVAL = 0.005


class _SwitchInterval:
    """The interpreter's GIL switch interval scaled down while time-warped runners run.

    In one process, the simulated device, the host's I/O thread (heartbeats) and its run
    engine share the GIL. A thread that wakes up waits for it up to the switch interval —
    5 ms, which at 20× is 100 ms of device time: the device's whole "no shot starts after
    100 ms of host silence" margin (PROTOCOL.md §11). So while a runner at speed K runs, the
    interval is at most 5 ms / K: the same wait, in device time, as at real time. Restored
    when the last warped runner stops.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._speeds: list[float] = []
        self._saved = sys.getswitchinterval()

    def enter(self, speed: float) -> None:
        if speed <= 1:
            return
        with self._lock:
            if not self._speeds:
                self._saved = sys.getswitchinterval()
            self._speeds.append(speed)
            self._apply()

    def leave(self, speed: float) -> None:
        if speed <= 1:
            return
        with self._lock:
            if speed in self._speeds:
                self._speeds.remove(speed)
            if self._speeds:
                self._apply()
            else:
                sys.setswitchinterval(self._saved)

    def lower_base(self, interval: float) -> None:
        """The process's own interval, from which warped runners scale down: at most this."""
        with self._lock:
            if self._speeds:
                self._saved = min(self._saved, interval)
                self._apply()
            else:
                sys.setswitchinterval(min(sys.getswitchinterval(), interval))

    def _apply(self) -> None:
        sys.setswitchinterval(min(self._saved, DEFAULT_SWITCH_INTERVAL / max(self._speeds)))


SWITCH_INTERVAL = _SwitchInterval()

# In a process that only serves the simulated device (`mesodrive sim`, a benchmark's device
# process), a host frame's arrival is stamped by the I/O thread once it holds the interpreter
# lock, which the runner may otherwise keep for the default 5 ms while it simulates: a frame
# would look up to 5 ms late to the device (an e-stop latched late, a heartbeat missed). A
# firmware's UART interrupt does not wait for its main loop; this short interval stands for it.
DEVICE_PROCESS_SWITCH_INTERVAL = 0.0002


def dedicate_process_to_device() -> None:
    """Call in a process that serves the simulated device and nothing else (see above)."""
    SWITCH_INTERVAL.lower_base(DEVICE_PROCESS_SWITCH_INTERVAL)


class SimulatorError(RuntimeError):
    """The simulated device raised; the runner stopped. `__cause__` is the original error."""


class WarpRunner:
    """Caller-stepped time: `run_until(t)` simulates up to t at once and returns the output.

    Output is timestamped by the device, not by this runner; a caller that needs to react
    to each output as it happens steps with `step()` (to the next device event) instead.
    """

    def __init__(self, device: ByteDevice) -> None:
        self.device = device

    @property
    def now(self) -> float:
        return self.device.now

    def write(self, data: bytes) -> None:
        if data:
            self.device.write(data)

    def read(self) -> bytes:
        return self.device.read()

    def step(self, limit: float | None = None) -> bytes:
        """Advance to the next device event (at most to `limit`); return what it sent.

        Returns b"" without moving time if nothing is scheduled and no limit is given."""
        wake = self.device.next_wakeup()
        target = wake if wake is not None and wake > self.device.now else None
        if limit is not None:
            target = limit if target is None else min(target, limit)
        if target is not None and target > self.device.now:
            self.device.advance_to(target)
        return self.device.read()

    def run_until(self, t: float) -> bytes:
        """Simulate up to simulated time `t`; everything the device sent meanwhile."""
        out = bytearray()
        while self.device.now < t:
            before = self.device.now
            out += self.step(limit=t)
            if self.device.now <= before:  # nothing scheduled before t and advance stuck
                break
        out += self.device.read()
        return bytes(out)

    def run_for(self, dt: float) -> bytes:
        return self.run_until(self.device.now + dt)

    def run_until_output(self, limit: float) -> bytes:
        """Step event by event until the device sends something or time reaches `limit`."""
        out = self.device.read()
        while not out and self.device.now < limit:
            before = self.device.now
            out = self.step(limit=limit)
            if self.device.now <= before:
                break
        return out

    def call(self, fn: Callable[[Any], T]) -> T:
        return fn(self.device)


class RealtimeRunner:
    """Drives a ByteDevice in real time on a daemon thread.

    Simulated time = the device's time at `start()` + wall seconds since. Each turn of the
    loop advances the device to now, feeds it the bytes written since the last turn, passes
    its output to `sink`, runs `after_step` (e.g. a shot-log writer), then sleeps until the
    device's next wake-up or the next `write`/`call`, whichever comes first. Python's timed
    waits are good to well under 1 ms on Linux, so device events fire within about a
    millisecond of their simulated time; with nothing scheduled it blocks and uses no CPU.
    """

    def __init__(
        self,
        device: ByteDevice,
        sink: Callable[[bytes], None],
        *,
        after_step: Callable[[Any], None] | None = None,
        name: str = "mesosim-runner",
        speed: float = 1.0,
    ) -> None:
        if not 0 < speed <= 1000:
            raise ValueError(f"runner speed {speed} is outside (0, 1000]")
        self.device = device
        self.speed = speed  # simulated seconds per wall second (time-warped real time when > 1)
        self._sink = sink
        self._after_step = after_step
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._input: list[tuple[float, bytes]] = []  # (wall arrival time, bytes)
        self._calls: deque[tuple[Callable[[ByteDevice], Any], Future[Any]]] = deque()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._t0 = 0.0
        self._sim0 = 0.0
        self.error: BaseException | None = None
        self.max_lag = 0.0  # worst lateness of a wake-up seen so far (s), for benchmarks

    # -- control, from any thread ------------------------------------------------------------

    def start(self) -> RealtimeRunner:
        self._sim0 = self.device.now
        self._t0 = time.monotonic()
        SWITCH_INTERVAL.enter(self.speed)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        if not self._stop and self._t0:
            SWITCH_INTERVAL.leave(self.speed)
        self._stop = True
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def sim_time(self) -> float:
        """The simulated time the device is being driven towards now."""
        return self.sim_time_at(time.monotonic())

    def sim_time_at(self, host: float) -> float:
        """The simulated time that corresponds to `host` (a `time.monotonic()` reading)."""
        return self._sim0 + (host - self._t0) * self.speed

    def write(self, data: bytes) -> None:
        self.check()
        if data:
            with self._lock:  # stamped under the lock: see `_take_input`
                self._input.append((time.monotonic(), bytes(data)))
            self._wake.set()

    def call(self, fn: Callable[[Any], T], timeout: float | None = 5.0) -> T:
        """Run `fn(device)` on the runner thread (at the current simulated time)."""
        self.check()
        future: Future[T] = Future()
        with self._lock:
            self._calls.append((fn, future))
        self._wake.set()
        return future.result(timeout)

    def check(self) -> None:
        """Raise SimulatorError if the device has crashed the runner."""
        if self.error is not None:
            raise SimulatorError(f"simulated device failed: {self.error!r}") from self.error

    # -- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            self.error = exc
            log.exception("simulated device failed; runner stopped")
            with self._lock:
                calls = list(self._calls)
                self._calls.clear()
            for _, future in calls:
                future.set_exception(SimulatorError(f"simulated device failed: {exc!r}"))

    def _take_input(self) -> tuple[list[tuple[float, bytes]], float]:
        """The bytes written so far, and the wall time up to which they are all the input.

        Bytes are stamped with their arrival time under the same lock, so whatever is written
        after this returns is stamped at or after `cut`. The device may be advanced to `cut`
        and no further before the next look: advancing it to a later "now" could run a shot
        start or the dead-man past a host frame that had already arrived (the runner thread
        held up between taking the input and reading the clock), and the device would see a
        silence the host never made.
        """
        with self._lock:
            chunks = self._input
            self._input = []
            return chunks, time.monotonic()

    def _feed(self, chunks: list[tuple[float, bytes]], cut: float) -> None:
        """Bytes are fed at the simulated time they arrived, not after the device has been
        advanced to "now": when this thread was held up (a GC pause, a busy core), the host's
        heartbeats written meanwhile must not look late to the dead-man. Then the device
        runs on to `cut` (see `_take_input`)."""
        dev = self.device
        for arrived, chunk in chunks:
            at = self.sim_time_at(arrived)
            if at > dev.now:
                dev.advance_to(at)
            dev.write(chunk)
        end = self.sim_time_at(cut)
        if end > dev.now:
            dev.advance_to(end)

    def _loop(self) -> None:
        dev = self.device
        while not self._stop:
            self._wake.clear()
            with self._lock:
                calls = list(self._calls)
                self._calls.clear()
            chunks, cut = self._take_input()
            self._feed(chunks, cut)
            data = bool(chunks)
            for fn, future in calls:
                try:
                    future.set_result(fn(dev))
                except Exception as exc:  # noqa: BLE001 - belongs to the caller
                    future.set_exception(exc)
            if data or calls:
                # What came in while the calls ran, at its own time too; and let the device
                # react to the input at (almost) the same instant.
                self._feed(*self._take_input())
            out = dev.read()
            if out:
                self._sink(out)
            if self._after_step is not None:
                self._after_step(dev)
            wake = dev.next_wakeup()
            if wake is None:
                self._wake.wait(IDLE_WAIT)
                continue
            if wake <= dev.now:
                # A wake-up the device has already reached: do not spin on it.
                self._wake.wait(STALE_WAIT)
                continue
            delay = wake - self.sim_time()
            if delay > 0 and self._wake.wait(delay / self.speed):
                continue  # woken by input: do not count lateness
            lag = self.sim_time() - wake
            self.max_lag = max(self.max_lag, lag)
