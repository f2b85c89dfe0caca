"""The rig's building blocks: an instrument that ticks, consistent reads of the injector's
truth, and the links (server or in-process port) and pyserial ports of `rig.CalibrationRig`.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Any, TypeVar

from serial.serialutil import SerialException

from mesosim.protocol_sim import Serial as _SimSerial
from mesosim.transports.device import ByteDevice, inner_device
from mesosim.transports.port import SimPort
from mesosim.transports.runner import RealtimeRunner, SimulatorError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How often (simulated s) the rig advances the instruments when nothing else happens.
INSTRUMENT_TICK_S = 0.05
#: How long an instrument waits for the injector's thread to read its truth.
TRUTH_TIMEOUT_S = 1.0


class Ticking:
    """A ByteDevice wrapper that also wakes up every `period_s` of simulated time.

    A runner sleeps until `next_wakeup()`; an instrument that samples its source only when
    advanced (the balance) would otherwise see a change only when the host next spoke to
    it. Behind `Ticking` it is advanced at least on every multiple of `period_s`. Works
    with any runner (real time or warp); `inner_device` sees through it (`.device`).
    """

    def __init__(self, device: ByteDevice, period_s: float = INSTRUMENT_TICK_S) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be positive, got {period_s!r}")
        self.device = device
        self.period_s = period_s

    @property
    def now(self) -> float:
        return self.device.now

    def write(self, data: bytes) -> None:
        self.device.write(data)

    def read(self) -> bytes:
        return self.device.read()

    def advance_to(self, t: float) -> None:
        self.device.advance_to(t)

    def next_wakeup(self) -> float | None:
        now = self.device.now
        # The next multiple of the period strictly after now (robust to 0.3/0.1 = 2.999…).
        tick = (math.floor(now / self.period_s + 1e-9) + 1) * self.period_s
        wake = self.device.next_wakeup()
        return tick if wake is None else min(wake, tick)


class _Truth:
    """A source callable for an instrument: one attribute of the injector's truth, read on
    the injector runner's thread (`RealtimeRunner.call`) while it runs, directly while it
    does not (before start, after stop: no other thread touches the device then). If the
    injector has failed, the last value read is repeated (the rig's `check()` reports it).
    """

    def __init__(self, runner: RealtimeRunner, attribute: str) -> None:
        self._runner = runner
        self._attribute = attribute
        self._last = 0.0
        self._warned = False

    def _read(self, device: ByteDevice) -> float:
        return float(getattr(inner_device(device), self._attribute))

    def __call__(self) -> float:
        runner = self._runner
        try:
            if runner.running:
                value = runner.call(self._read, timeout=TRUTH_TIMEOUT_S)
            elif runner.error is None:
                value = self._read(runner.device)
            else:
                return self._last
        except (SimulatorError, TimeoutError) as exc:
            if not self._warned:
                self._warned = True
                log.warning("cannot read the injector's %s (%r); repeating %r",
                            self._attribute, exc, self._last)  # fmt: skip
            return self._last
        self._last = value
        return value


@dataclass(frozen=True, slots=True)
class RigTruth:
    """What truly is, at one instant of the injector's simulated time."""

    time: float  # simulated s
    dispensed_nl: float  # cumulative liquid out of the needle (prime included)
    needle_um: float  # needle protrusion past the skin plane (<= 0: retracted)
    syringe_nl: float  # liquid left in the syringe


class _Link:
    """One device of the rig and how it is served."""

    def __init__(self, name: str, server: Any, sim: SimPort | None, address: str | None) -> None:
        self.name = name
        self.server = server  # PtyServer | TcpServer | RealtimePort
        self.sim = sim  # the in-process port ("memory" links only)
        self.address = address  # pty path or socket:// URL (served links only)
        self.client: RigPort | None = None  # the open in-process port ("memory" links)
        self.lock = threading.Lock()

    @property
    def runner(self) -> RealtimeRunner:
        runner: RealtimeRunner = self.server.runner
        return runner

    def check(self) -> None:
        check = getattr(self.server, "check", None)  # servers also watch their I/O thread
        if check is not None:
            check()
        else:
            self.runner.check()

    def close(self) -> None:
        self.server.close()


class RigPort(_SimSerial):
    """A pyserial port on one in-process ("memory") link of a `CalibrationRig`.

    The same class as `sim://` ports (`protocol_sim.Serial`: pyserial read/timeout
    semantics, `in_waiting`, `reset_input_buffer`, …), bound to a rig link instead of a URL.
    One port may be open on a link at a time (like a serial device). Closing it detaches
    it and leaves the simulation running (the rig owns it); it can be reopened. Bytes the
    device sent while no port was open are discarded on open, as pyserial does.
    """

    def __init__(self, link: _Link, *args: Any, **kwargs: Any) -> None:
        self._link = link
        super().__init__(f"rig:{link.name}", *args, **kwargs)

    def open(self) -> None:
        if self.is_open:
            raise SerialException("Port is already open.")
        link = self._link
        assert link.sim is not None
        with link.lock:
            if link.client is not None:
                raise SerialException(f"rig {link.name} port is busy (already open)")
            if link.sim.closed:
                raise SerialException(f"rig {link.name} is closed")
            link.client = self
        link.sim.reset_input()
        self.sim = link.sim
        self.is_open = True

    def close(self) -> None:
        if self.sim is not None:
            with self._link.lock:
                if self._link.client is self:
                    self._link.client = None
            self.sim = None
        self.is_open = False

    def from_url(self, url: str) -> Any:
        raise SerialException("a rig port is bound to its rig, not opened by URL")
