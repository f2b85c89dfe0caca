"""The Injector: one connected device, as a façade over small parts.

- `channel.Channel` — the I/O thread, the protocol endpoint, request/reply routing;
- `device_state.DeviceTracker` — state, identity, and which boot the device is in;
- `shot_ledger.ShotLedger` — the one place a shot is recorded and settled;
- `clock_sync.ClockSync` — the device clock estimate;
- `event_bus.EventBus` — observers, on their own thread;
and three mixins, each a concept of its own: `device_reports.DeviceReports` (what the device
reports: handlers, boot tracking), `clock_keeper.ClockKeeper` (clock samples, jumps, liveness
polling) and `shot_path.ShotPath` (limits, journal, send, resolve, settle).

This module wires them together and adds the lifecycle (connect, handshake, close), queries,
the commands and the e-stop.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from typing import Any, Self

from mesodrive.driver import wire
from mesodrive.driver.calibration_profile import IDENTITY, CalibrationProfile
from mesodrive.driver.capabilities import DeviceCapabilities, DeviceStatus
from mesodrive.driver.channel import Channel
from mesodrive.driver.clock_keeper import ClockKeeper
from mesodrive.driver.clock_sync import ClockSync
from mesodrive.driver.device_reports import DeviceReports
from mesodrive.driver.device_state import DeviceTracker
from mesodrive.driver.errors import (
    CommandRefused,
    DeviceTimeout,
    HandshakeRefused,
)
from mesodrive.driver.event_bus import EventBus
from mesodrive.driver.events import (
    Event,
    FaultRaised,
    ShotUpdated,
)
from mesodrive.driver.shot_ledger import ShotLedger
from mesodrive.driver.shot_path import ShotPath
from mesodrive.driver.shots import Shot
from mesodrive.driver.timebase import REAL_TIME, Timebase
from mesodrive.driver.transport import Transport, open_transport
from mesodrive.protocol import LinkConfig, Message
from mesodrive.protocol.messages import (
    PROTOCOL_VERSION,
    SCHEMA_HASH,
    Arm,
    CancelQueue,
    ClearFault,
    CommandReply,
    DeviceState,
    Disarm,
    Estop,
    GetShot,
    Home,
    Identify,
    Identity,
    LinkSync,
    LinkSyncReply,
    LoadSyringe,
    Prime,
    ShotRecord,
    SoftTrigger,
    StatusQuery,
    StatusReply,
)

log = logging.getLogger(__name__)

ESTOP_RESEND = 0.02  # s (PROTOCOL.md §15)
SESSION_ATTEMPTS = 4
Journal = Callable[[Shot], None]


class Injector(ShotPath, DeviceReports, ClockKeeper):
    """A connected injector. Use `Injector.connect(url)`; close it (or use `with`)."""

    def __init__(self, transport: Transport, *, journal: Journal | None = None,
                 profile: CalibrationProfile = IDENTITY, link_config: LinkConfig | None = None,
                 timebase: Timebase = REAL_TIME) -> None:
        self.timebase = self._tb = timebase
        self.profile = profile
        self.clock: ClockSync | None = None
        self._bus: EventBus[Event] = EventBus("mesodrive-events")
        self._closing = threading.Event()
        self._past_boots: set[int] = set()
        self._sampling = threading.RLock()  # clock exchanges, one at a time (ClockKeeper)
        self._refaulting = False
        self.channel = Channel(transport, timebase, link_config=link_config,
                               on_link_lost=self._on_link_lost,
                               heartbeat_due=lambda: self.device.armed_session is not None)
        self._lock = self.channel.lock
        self.device = DeviceTracker(self._lock, timebase, self._on_reboot)
        self.ledger = ShotLedger(self._lock, lambda s: self._bus.emit(ShotUpdated(s)))
        self.ledger.journal = journal
        for kind, handler in self._handlers().items():
            self.channel.on(kind, handler)
        self.channel.start()
        self._clock_thread: threading.Thread | None = None

    # ----- plain views ----------------------------------------------------------------------------
    @property
    def transport(self) -> Transport:
        return self.channel.transport

    @property
    def state(self) -> DeviceState | None:
        return self.device.state

    @property
    def faults(self) -> int:
        return self.device.faults

    @property
    def identity(self) -> Identity | None:
        """The raw identity message (tools and tests); callers use `capabilities`."""
        return self.device.identity

    @property
    def capabilities(self) -> DeviceCapabilities:
        ident = self.device.identity
        if ident is None:
            raise DeviceTimeout("not connected: no identity from the device yet")
        return DeviceCapabilities(**wire.capabilities(ident))

    @property
    def boot_nonce(self) -> int:
        return self.device.boot_nonce

    @property
    def last_fault(self) -> FaultRaised | None:
        return self.device.last_fault

    @property
    def link_lost(self) -> bool:
        return self.channel.link_lost

    @property
    def rebooted(self) -> bool:
        return self.device.rebooted

    @rebooted.setter
    def rebooted(self, value: bool) -> None:
        self.device.rebooted = value

    @property
    def journal(self) -> Journal | None:
        return self.ledger.journal

    @journal.setter
    def journal(self, value: Journal | None) -> None:
        self.ledger.journal = value

    @property
    def armed_session(self) -> int | None:
        return self.device.armed_session

    # ----- lifecycle ------------------------------------------------------------------------------
    @classmethod
    def connect(cls, target: str | Transport, **kwargs: Any) -> Injector:
        """Open the link, resynchronise it and check the device speaks our protocol."""
        transport = open_transport(target) if isinstance(target, str) else target
        inj = cls(transport, **kwargs)
        try:
            inj.handshake()
        except BaseException:
            inj.close()
            raise
        return inj

    def handshake(self) -> Identity:
        """link_sync, identify, refuse a foreign protocol or schema, first clock samples. A
        transport that failed (unplugged, connection dropped) is opened again first."""
        if self.channel.transport_failed:
            self.channel.reopen()
        self.channel.write(b"\0")  # flush whatever partial frame the device had buffered
        self._resync_link()
        ident: Identity = self.query(Identify, Identity)
        if ident.protocol_version != PROTOCOL_VERSION or ident.schema_hash != SCHEMA_HASH:
            raise HandshakeRefused(
                f"device {ident.serial!r} speaks protocol {ident.protocol_version} with schema "
                f"{ident.schema_hash:#018x}; this host speaks protocol {PROTOCOL_VERSION} with "
                f"schema {SCHEMA_HASH:#018x}"
            )
        with self._lock:
            self.device.identity = ident
        self.clock = ClockSync(ident.tick_hz)
        self.sync_clock(8)
        if self._clock_thread is None:
            self._clock_thread = threading.Thread(target=self._background, name="mesodrive-clock",
                                                  daemon=True)
            self._clock_thread.start()
        self.status()
        return ident

    def _resync_link(self) -> None:
        self.channel.reset_link()
        self.query(LinkSync, LinkSyncReply)
        self.channel.reset_link()  # the device reset too: both directions restart at 0

    def reconnect(self) -> Identity:
        """After link loss: resynchronise, notice a reboot, and resolve what was in flight."""
        ident = self.handshake()
        self.resolve_uncertain()
        return ident

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        if self._clock_thread is not None:
            self._clock_thread.join(timeout=2)
        self.channel.close()
        self._bus.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call `callback(event)` for every event (on the event thread). Returns unsubscribe."""
        return self._bus.subscribe(callback)

    # ----- queries --------------------------------------------------------------------------------
    def query(self, make: Callable[[int], Message], reply: type[Any], **kwargs: Any) -> Any:
        return self.channel.query(make, reply, **kwargs)

    def status(self) -> DeviceStatus:
        """Ask the device how it is (its state, needle, plunger, pressure), in public units."""
        reply: StatusReply = self.query(StatusQuery, StatusReply)
        return DeviceStatus(**wire.status(reply))

    def get_shot(self, shot_boot: int, session: int, index: int) -> ShotRecord:
        """The device's record of (session, index) as sent in boot `shot_boot`."""
        record: ShotRecord = self.query(lambda t: GetShot(t, shot_boot, session, index), ShotRecord)
        return record

    # ----- commands -------------------------------------------------------------------------------
    def command(self, msg: Message, timeout: float = 3.0) -> CommandReply:
        return self.channel.command(msg, timeout)

    def wait_state(self, *states: DeviceState, timeout: float = 10.0) -> DeviceState:
        with self._lock:
            got = self.device.wait_state(states, timeout, lambda: self.channel.link_lost)
            if got is None:
                raise DeviceTimeout(f"device is {self.device.describe()}, expected "
                                    f"{' or '.join(s.name for s in states)} within {timeout} s")
            return got

    def _run_to(self, msg: Message, state: DeviceState, timeout: float) -> None:
        """Send a command and wait for its state_event; a fault or e-stop meanwhile ends the
        wait at once (it is not going to get there)."""
        with self._lock:
            before = self.device.state_events
        self.command(msg)
        stops = (DeviceState.FAULT, DeviceState.ESTOPPED)

        def gave_up() -> bool:
            return self.channel.link_lost or (self.device.state in stops and state not in stops)

        with self._lock:
            if not self.device.wait_state_event(state, before, timeout, gave_up):
                raise DeviceTimeout(f"device did not reach {state.name} within {timeout} s "
                                    f"(it is {self.device.describe()})")

    def home(self, timeout: float = 15.0) -> None:
        self._run_to(Home(), DeviceState.READY, timeout)

    def prime(self, volume_ul: float, flow_ul_s: float, timeout: float = 60.0) -> None:
        self._run_to(Prime(wire.ul_to_nl(volume_ul), wire.ul_to_nl(flow_ul_s)), DeviceState.READY, timeout)

    def load_syringe(self, volume_ul: float) -> None:
        self.command(LoadSyringe(wire.ul_to_nl(volume_ul)))

    def arm(self, session: int | None = None, telemetry_ms: int = 0) -> int:
        """Arm a session and return its id. Without `session`, a random id that this device has
        never armed (it refuses a used one: SESSION_USED), so two hosts or two records
        databases can never answer each other's shots."""
        self._check_unresolved()
        for attempt in range(SESSION_ATTEMPTS):
            sid = session if session is not None else 1 + secrets.randbelow(2**32 - 1)
            with self._lock:
                before = self.device.state_events
            try:
                self.command(Arm(self.device.boot_nonce, sid, telemetry_ms))
            except CommandRefused as exc:
                if exc.code != "SESSION_USED" or session is not None or attempt + 1 == SESSION_ATTEMPTS:
                    raise
                continue
            with self._lock:
                self.device.armed_session = sid
                if not self.device.wait_state_event(DeviceState.ARMED, before, 2.0,
                                                    lambda: self.channel.link_lost):
                    raise DeviceTimeout(f"device did not reach ARMED within 2.0 s "
                                        f"(it is {self.device.describe()})")
            return sid
        raise AssertionError("unreachable")  # pragma: no cover

    def disarm(self) -> None:
        self.command(Disarm())

    def cancel_queue(self) -> None:
        self.command(CancelQueue())

    def clear_fault(self) -> None:
        self.command(ClearFault())

    def soft_trigger(self) -> None:
        self.command(SoftTrigger())

    # ----- e-stop ---------------------------------------------------------------------------------
    def estop(self, timeout: float = 1.0) -> float:
        """Emergency stop, callable from any thread at any time: the out-of-band frame goes out
        every 20 ms, ahead of anything queued, until the device reports ESTOPPED. Returns the
        latency in seconds."""
        t0 = self._tb.now()
        tokens: list[int] = []
        try:
            while self._tb.now() - t0 < timeout:
                token = self.channel.next_token()
                tokens.append(token)
                waiter = self.channel.expect(token, StatusReply, urgent=True)
                self.channel.send_out_of_band(Estop(token))
                if waiter.wait(self._tb.wall(ESTOP_RESEND)) and waiter.value is not None \
                        and waiter.value.state == DeviceState.ESTOPPED:
                    latency = self._tb.now() - t0  # latched: the rest is bookkeeping
                    with self._lock:
                        self.device.set_state(DeviceState.ESTOPPED, self.device.faults)
                        self._after_state(DeviceState.ESTOPPED)
                    return latency
        finally:
            for t in tokens:
                self.channel.forget_query(t)
        raise DeviceTimeout(f"device did not confirm e-stop within {timeout} s")

