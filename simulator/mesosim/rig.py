"""A calibration rig: one simulated injector plus the bench instruments that calibrate it.

The rig runs, in real time, a simulated injector, an MT-SICS analytical balance that weighs
what truly leaves the needle (`SimDevice.true_dispensed_nl`) and a digital depth gauge that
reads the needle's true protrusion (`SimDevice.true_needle_um`) — each on its own serial
link, so a technician's calibration tool talks to all three exactly as it would on a bench:

    with CalibrationRig(SimConfig(seed=1), injector="pty", instruments="pty") as rig:
        rig.address("injector")     # /dev/pts/7   (the injector, PROTOCOL.md)
        rig.address("balance")      # /dev/pts/8   (MT-SICS: "S\\r\\n" -> "S S   10.02013 g")
        rig.address("gauge")        # /dev/pts/9   ("?\\r" -> "-1.312 mm")

    with CalibrationRig(SimConfig(seed=1)) as rig:          # everything in-process
        rig.balance_port.write(b"S\\r\\n")                    # pyserial-compatible objects
        rig.balance_port.readline()

How it is put together (nothing here is new machinery):

* each of the three devices has its own `RealtimeRunner` (inside a `PtyServer`, a
  `TcpServer` or an in-process `RealtimePort`), started in that order and stopped in the
  reverse one;
* the instruments read the injector's truth through the injector runner's `call`, i.e. on
  the injector's own thread, at its current simulated time: consistent, never torn;
* the balance only looks at its source when it is written to or advanced, so it runs
  behind `Ticking`, which makes its runner advance it at least every `tick_s` (50 ms) of
  simulated time: a drop is weighed within a tick of landing and settling starts then;
* all three clocks start at simulated 0 together, so their times agree to about a ms, and
  all runners keep the injector's pace (`SimConfig.speed`, time-warped real time).

Transports per link: the injector is served on `"memory"` (in-process), `"pty"` or `"tcp"`
(loopback, one client at a time; `tcp_address`), the instruments on `"memory"` or `"pty"`.
Whatever the transport, `rig.port(name)` is a pyserial-compatible port for in-process use
(`injector_port`, `balance_port`, `gauge_port` are cached ones with a 1 s timeout).
`rig.call(fn)` runs `fn(SimDevice)` on the injector's thread, `rig.call_balance(fn)` /
`rig.call_gauge(fn)` run `fn(instrument)` on theirs (the technician's hands: place a
vessel, put a load on the pan); `rig.truth()` is one consistent snapshot.

The rig imports nothing of mesodrive (pyserial for the port objects, like `protocol_sim`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar

from serial.serialutil import SerialBase, SerialException

from mesosim.instruments import Balance, DepthGauge
from mesosim.rig_parts import (
    INSTRUMENT_TICK_S,
    RigPort,
    RigTruth,
    Ticking,
    _Link,
    _Truth,
)
from mesosim.transports.device import ByteDevice, build_device, inner_device
from mesosim.transports.port import RealtimePort
from mesosim.transports.runner import RealtimeRunner

if TYPE_CHECKING:
    from mesosim.config import SimConfig
    from mesosim.firmware import SimDevice

log = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = [
    "INSTRUMENT_TICK_S",
    "NAMES",
    "CalibrationRig",
    "RigPort",
    "RigTruth",
    "Ticking",
]

#: The links of a rig, in start order.
NAMES = ("injector", "balance", "gauge")

InjectorLink = Literal["memory", "pty", "tcp"]
InstrumentLink = Literal["memory", "pty"]


class CalibrationRig:
    """A simulated injector with a balance and a depth gauge fed by its truth.

    It runs from construction until `close()` (or the end of a `with` block).

    * `config`: the injector's `SimConfig` (hidden errors, faults, link faults, seed).
    * `injector`: `"memory"`, `"pty"` or `"tcp"` (on `tcp_address`, loopback only).
    * `instruments`: `"memory"` or `"pty"`, for both instruments.
    * `balance`, `gauge`: True (defaults), False (no such instrument) or a mapping of
      keyword arguments for `Balance` / `DepthGauge` (their `source` is the rig's; the
      seed defaults to the injector's).
    * `after_step`: called with the injector's device after each of its runner's steps
      (e.g. `ShotLogWriter`), on the injector's thread.
    * `tick_s`: the instruments are advanced at least this often (simulated s, ≤ 0.1).
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        injector: InjectorLink = "memory",
        instruments: InstrumentLink = "memory",
        balance: bool | Mapping[str, Any] = True,
        gauge: bool | Mapping[str, Any] = True,
        tcp_address: tuple[str, int] = ("127.0.0.1", 0),
        after_step: Callable[[Any], None] | None = None,
        tick_s: float = INSTRUMENT_TICK_S,
    ) -> None:
        from mesosim.config import SimConfig

        if injector not in ("memory", "pty", "tcp"):
            raise ValueError(f"injector link must be memory, pty or tcp, not {injector!r}")
        if instruments not in ("memory", "pty"):
            raise ValueError(f"instrument links must be memory or pty, not {instruments!r}")
        if not 0 < tick_s <= 0.1:
            raise ValueError(f"tick_s must be in (0, 0.1] s, got {tick_s!r}")
        self.config = config if config is not None else SimConfig()
        self.tick_s = tick_s
        self._links: dict[str, _Link] = {}
        self._ports: dict[str, SerialBase] = {}
        self._closed = False

        device = build_device(self.config)
        #: The simulated firmware (under any link-fault wrapper). Touch it via `call`.
        self.injector: SimDevice = inner_device(device)  # type: ignore[assignment]
        self.balance: Balance | None = None
        self.gauge: DepthGauge | None = None
        try:
            self._links["injector"] = self._serve("injector", device, injector, after_step,
                                                  tcp_address)  # fmt: skip
            runner = self._links["injector"].runner
            if balance is not False:
                options = {"seed": self.config.seed, **(balance if balance is not True else {})}
                self.balance = Balance(_Truth(runner, "true_dispensed_nl"), **options)
                self._links["balance"] = self._serve(
                    "balance", Ticking(self.balance, tick_s), instruments
                )
            if gauge is not False:
                options = {"seed": self.config.seed, **(gauge if gauge is not True else {})}
                self.gauge = DepthGauge(_Truth(runner, "true_needle_um"), **options)
                # The gauge reads its source when asked; it needs no ticking.
                self._links["gauge"] = self._serve("gauge", self.gauge, instruments)
        except BaseException:
            self.close()
            raise

    def _serve(
        self,
        name: str,
        device: ByteDevice,
        how: str,
        after_step: Callable[[Any], None] | None = None,
        tcp_address: tuple[str, int] = ("127.0.0.1", 0),
    ) -> _Link:
        # Every runner of the rig keeps the injector's pace (`SimConfig.speed`, where the
        # runners support time-warped real time), so the instruments share its time base.
        speed = float(getattr(self.config, "speed", 1.0))
        if how == "memory":
            kwargs: dict[str, Any] = {"speed": speed} if speed != 1.0 else {}
            port = RealtimePort(device, after_step=after_step, **kwargs)  # starts its runner
            return _Link(name, port, port, None)
        server: Any
        if how == "pty":
            from mesosim.transports.pty_server import PtyServer

            server = PtyServer(device, after_step=after_step)
            address = server.path
        else:
            from mesosim.transports.tcp_server import TcpServer

            host, tcp_port = tcp_address
            server = TcpServer(device, host, tcp_port, after_step=after_step)
            address = server.url
        try:
            if speed != 1.0:
                server.runner.speed = speed
            server.start()
        except BaseException:
            server.close()
            raise
        return _Link(name, server, None, address)

    # -- what is there ---------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """The links this rig has, in start order (injector first)."""
        return tuple(self._links)

    def _link(self, name: str) -> _Link:
        try:
            return self._links[name]
        except KeyError:
            raise KeyError(f"this rig has no {name!r} (it has {', '.join(self._links)})") from None

    def address(self, name: str) -> str | None:
        """The pty path (`/dev/pts/N`) or `socket://` URL serving `name`; None in memory."""
        return self._link(name).address

    def runner(self, name: str = "injector") -> RealtimeRunner:
        return self._link(name).runner

    # -- in-process ports ------------------------------------------------------------------

    def port(self, name: str, **kwargs: Any) -> SerialBase:
        """A new, open pyserial-compatible port on `name` ("injector", "balance", "gauge");
        the caller closes it. kwargs go to pyserial (e.g. `timeout=0.5`). Memory links give
        a `RigPort` (one open at a time); served links a `serial.Serial` on the pty or a
        `socket://` port."""
        link = self._link(name)
        if self._closed:
            raise SerialException("the rig is closed")
        if link.sim is not None:
            return RigPort(link, **kwargs)
        import serial

        assert link.address is not None
        if link.address.startswith("socket://"):
            return serial.serial_for_url(link.address, **kwargs)
        return serial.Serial(link.address, **kwargs)

    def _cached_port(self, name: str) -> SerialBase:
        port = self._ports.get(name)
        if port is None or not port.is_open:
            port = self._ports[name] = self.port(name, timeout=1.0)
        return port

    @property
    def injector_port(self) -> SerialBase:
        """The rig's own port on the injector (opened on first use, 1 s timeout; closed
        with the rig). Do not also open `port("injector")` on a memory link."""
        return self._cached_port("injector")

    @property
    def balance_port(self) -> SerialBase:
        return self._cached_port("balance")

    @property
    def gauge_port(self) -> SerialBase:
        return self._cached_port("gauge")

    # -- truth and the technician's hands ----------------------------------------------------

    def call(self, fn: Callable[[SimDevice], T], timeout: float | None = 5.0) -> T:
        """Run `fn(SimDevice)` on the injector's thread (trigger, contact, truth logs)."""
        return self.runner("injector").call(lambda dev: fn(inner_device(dev)), timeout)  # type: ignore[arg-type]

    def call_balance(self, fn: Callable[[Balance], T], timeout: float | None = 5.0) -> T:
        """Run `fn(Balance)` on the balance's thread (`place_vessel`, `external_load_g`, …)."""
        return self.runner("balance").call(lambda dev: fn(inner_device(dev)), timeout)  # type: ignore[arg-type]

    def call_gauge(self, fn: Callable[[DepthGauge], T], timeout: float | None = 5.0) -> T:
        return self.runner("gauge").call(lambda dev: fn(inner_device(dev)), timeout)  # type: ignore[arg-type]

    def truth(self) -> RigTruth:
        """One consistent snapshot of the injector's truth (read on its thread)."""

        def snap(dev: SimDevice) -> RigTruth:
            return RigTruth(dev.now, dev.true_dispensed_nl, dev.true_needle_um,
                            dev.true_syringe_nl)  # fmt: skip

        return self.call(snap)

    # -- health and shutdown -----------------------------------------------------------------

    def check(self) -> None:
        """Raise if any device or I/O thread of the rig has failed."""
        for link in self._links.values():
            link.check()

    @property
    def alive(self) -> bool:
        return not self._closed and all(link.runner.running for link in self._links.values())

    def close(self) -> None:
        """Stop everything: ports, then the instruments, then the injector (the instruments
        read the injector until they stop). Idempotent."""
        if self._closed:
            return
        self._closed = True
        for port in self._ports.values():
            try:
                port.close()
            except (OSError, SerialException):
                pass
        self._ports.clear()
        for name in reversed(list(self._links)):
            try:
                self._links[name].close()
            except Exception:  # keep closing the others
                log.exception("closing the rig's %s failed", name)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
