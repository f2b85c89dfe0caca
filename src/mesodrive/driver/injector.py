"""The Injector: one connected device, as a façade over small parts.

- `channel.Channel` — the I/O thread, the protocol endpoint, request/reply routing;
- `device_state.DeviceTracker` — state, identity, and which boot the device is in;
- `shot_ledger.ShotLedger` — the one place a shot is recorded and settled;
- `clock_sync.ClockSync` — the device clock estimate;
- `event_bus.EventBus` — observers, on their own thread.

This module wires them together and adds the commands, the shot path (limits, journal, send),
resolution by asking the device, a watchdog for liveness, and the e-stop.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Self

from mesodrive.driver import wire
from mesodrive.driver.calibration_profile import IDENTITY, CalibrationProfile
from mesodrive.driver.capabilities import DeviceCapabilities, DeviceStatus
from mesodrive.driver.channel import QUERY_TIMEOUT, Channel
from mesodrive.driver.clock_sync import ClockSync
from mesodrive.driver.device_state import ARMED_STATES, DeviceTracker
from mesodrive.driver.errors import (
    CommandRefused,
    DeviceTimeout,
    DriverError,
    HandshakeRefused,
    ShotBlocked,
    ShotTooLate,
)
from mesodrive.driver.event_bus import EventBus
from mesodrive.driver.events import (
    Event,
    FaultRaised,
    LinkLost,
    Rebooted,
    ShotUpdated,
    StateChanged,
    TelemetrySample,
    TriggerPressed,
)
from mesodrive.driver.shot_ledger import Key, ShotLedger, verdict
from mesodrive.driver.shots import Commanded, Shot, ShotOutcome, ShotRequest, ShotState
from mesodrive.driver.timebase import REAL_TIME, Timebase
from mesodrive.driver.transport import Transport, open_transport
from mesodrive.protocol import LinkConfig, Message
from mesodrive.protocol.messages import (
    PROTOCOL_VERSION,
    SCHEMA_HASH,
    TICK_HZ,
    Arm,
    BootEvent,
    CancelQueue,
    ClearFault,
    ClockQuery,
    ClockReply,
    CommandReply,
    DeviceState,
    Disarm,
    Estop,
    FaultEvent,
    FaultNotice,
    GetShot,
    Home,
    Identify,
    Identity,
    LinkSync,
    LinkSyncReply,
    LoadSyringe,
    Prime,
    QueueShot,
    ShotAccepted,
    ShotRecord,
    ShotRejected,
    ShotResult,
    SoftTrigger,
    StateEvent,
    StatusQuery,
    StatusReply,
    Telemetry,
    TriggerEvent,
)

log = logging.getLogger(__name__)

ESTOP_RESEND = 0.02  # s (PROTOCOL.md §15)
SEND_MARGIN_US = 20_000  # a timed shot is sent only if it reaches the device this early
CLOCK_SYNC_EVERY = 1.0  # s between background clock samples and liveness checks
CLOCK_JUMP_US = 50_000  # a sample this far off the estimate (beyond its error) is a jump
OVERDUE_S = 2.0  # a timed shot not final this long after its fire time: ask the device
SESSION_ATTEMPTS = 4
Journal = Callable[[Shot], None]


class Injector:
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
        """link_sync, identify, refuse a foreign protocol or schema, first clock samples."""
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

    # ----- incoming messages (I/O thread, lock held) -------------------------------------------------
    def _handlers(self) -> dict[type[Message], Callable[[Any, float], object]]:
        return {
            ShotAccepted: lambda m, _: self.ledger.on_accepted(m.session, m.index),
            ShotRejected: lambda m, _: self.ledger.on_rejected(m.session, m.index, m.reason),
            ShotResult: lambda m, _: self.ledger.on_result(m),
            StateEvent: self._on_state_event,
            StatusReply: self._on_status_reply,
            FaultEvent: self._on_fault_event,
            FaultNotice: self._on_fault_notice,
            TriggerEvent: lambda m, _: self._bus.emit(TriggerPressed(m.tick)),
            Telemetry: lambda m, _: self._bus.emit(TelemetrySample(m)),
            BootEvent: lambda m, _: self._observe_boot(m.boot_nonce, "boot_event"),
            Identity: lambda m, _: self._observe_boot(m.boot_nonce, "identity"),
            LinkSyncReply: lambda m, _: self._observe_boot(m.boot_nonce, "link_sync_reply"),
            ClockReply: lambda m, _: self._observe_boot(m.boot_nonce, "clock_reply"),
            ShotRecord: lambda m, _: self._observe_boot(m.boot_nonce, "shot_record"),
        }

    def _observe_boot(self, nonce: int, how: str) -> bool:
        """False for a reply from a boot we already left (a stale frame): it says nothing now."""
        if nonce in self._past_boots:
            return False
        self.device.observe_boot(nonce, how)
        return True

    def _on_reboot(self, old: int, new: int, how: str) -> None:
        self._past_boots.add(old)
        self.channel.reset_link_state()  # nothing of the old link may reach the new boot
        if self.device.identity is not None:  # the device clock restarted: the old estimate is void
            self.clock = ClockSync(self.device.identity.tick_hz)
        log.warning("device rebooted (%#010x → %#010x), noticed by %s", old, new, how)
        self.ledger.on_reboot(old, new, how)
        self._bus.emit(Rebooted(old, new, how))

    def _on_state_event(self, msg: StateEvent, _: float) -> None:
        state = DeviceState(msg.state)
        self.device.on_state_event(state, msg.faults)
        self._after_state(state)
        self._bus.emit(StateChanged(state, msg.faults))

    def _on_status_reply(self, msg: StatusReply, _: float) -> None:
        if self._observe_boot(msg.boot_nonce, "status_reply"):
            state = DeviceState(msg.state)
            if self.device.set_state(state, msg.faults):
                self._after_state(state)

    def _after_state(self, state: DeviceState) -> None:
        if state not in ARMED_STATES:
            # The device empties its queue whenever it leaves ARMED/FIRING: whatever was only
            # queued is now CANCELLED there; ask, don't assume.
            self.ledger.doubt(f"device left ARMED ({state.name})",
                              only=lambda s: s.state is ShotState.ACCEPTED)

    def _on_fault_event(self, msg: FaultEvent, _: float) -> None:
        self.device.last_fault = FaultRaised(msg.code, msg.tick, msg.detail)
        self._bus.emit(self.device.last_fault)

    def _on_fault_notice(self, msg: FaultNotice, _: float) -> None:
        if not self._observe_boot(msg.boot_nonce, "fault_notice"):
            return
        fault = FaultRaised(msg.code, msg.tick, msg.detail)
        if self.device.last_fault != fault:  # the sequenced fault_event did not get through
            self.device.last_fault = fault
            self._bus.emit(fault)
        state = DeviceState(msg.state)
        if self.device.set_state(state, msg.faults):
            self._after_state(state)
            self._bus.emit(StateChanged(state, msg.faults))

    def _on_link_lost(self, reason: str) -> None:
        with self._lock:
            self.ledger.doubt("link lost")
        self._bus.emit(LinkLost(reason))

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

    def sync_clock(self, samples: int = 4) -> None:
        """Take clock samples (first-attempt exchanges only: Karn's rule). A sample from another
        boot, or one that contradicts the estimate, is never used: it is a reboot or a fault."""
        for _ in range(samples):
            clock, boot = self.clock, self.device.boot_nonce
            if clock is None:
                return
            token = self.channel.next_token()
            t0 = self._tb.now()
            waiter = self.channel.ask(ClockQuery(token), ClockReply, QUERY_TIMEOUT)
            reply: ClockReply | None = waiter.value
            if reply is None or reply.boot_nonce != boot or self.clock is not clock:
                continue  # lost, or a reboot (handled by the reply's handler): no sample
            estimate = clock.estimate
            if estimate is not None:
                predicted = estimate.to_ticks((t0 + waiter.received_at) / 2)
                slack = CLOCK_JUMP_US + 4 * estimate.error_us
                if abs(reply.ticks - predicted) > slack * clock.tick_hz / 1e6:
                    self._clock_fault(f"device clock jumped: {reply.ticks} where about "
                                      f"{predicted} was due")
                    return
            try:
                clock.add_sample(t0, waiter.received_at, reply.ticks)
            except ValueError as exc:  # went backwards
                self._clock_fault(str(exc))
                return

    def _clock_fault(self, what: str) -> None:
        """PROTOCOL.md §12.1: a clock that jumps or runs backwards is a reboot or a fault. Ask
        the device which boot it is in; either way no estimate from before is used again."""
        log.error("%s: confirming the device's boot", what)
        try:
            self.query(Identify, Identity)  # a new nonce is handled as a reboot by its handler
        except DriverError as exc:
            log.error("could not confirm the device's boot: %s", exc)
        with self._lock:
            if self.device.identity is not None:
                self.clock = ClockSync(self.device.identity.tick_hz)
            self.ledger.doubt(what)

    def device_now(self) -> float:
        """The estimated device clock now, in seconds (the time base of `ShotRequest.fire_at`)."""
        return wire.ticks_to_s(self._device_ticks(), TICK_HZ)

    def _device_ticks(self) -> int:
        estimate = self.clock.estimate if self.clock is not None else None
        if estimate is None:
            raise DeviceTimeout("the device clock is not synchronised yet (after connect or a reboot)")
        return estimate.to_ticks(self._tb.now())

    def _background(self) -> None:
        """Clock samples, and liveness: notice a device that left ARMED or faulted without a
        word reaching us, and ask about shots whose fire time is long past."""
        while not self._closing.wait(self._tb.wall(CLOCK_SYNC_EVERY)):
            if self.channel.link_lost or self.clock is None:
                continue
            try:
                if self.clock.estimate is None:
                    self.sync_clock(8)
                else:
                    self.sync_clock(1)
                if self.device.armed_session is not None or self.ledger.open_keys():
                    self.status()
                    self._chase_overdue()
            except DriverError as exc:
                log.debug("background check failed: %s", exc)

    def _chase_overdue(self) -> None:
        estimate = self.clock.estimate if self.clock is not None else None
        if estimate is None:
            return
        late = estimate.to_ticks(self._tb.now() - OVERDUE_S)
        with self._lock:
            overdue = [k for k in self.ledger.open_keys()
                       if (f := self.ledger.get(k).commanded.fire_at) is not None
                       and wire.s_to_ticks(f, TICK_HZ) < late]
        for key in overdue[:4]:
            self.resolve_shot(*key)

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
                waiter = self.channel.expect(token, StatusReply)
                self.channel.send_out_of_band(Estop(token))
                if waiter.wait(self._tb.wall(ESTOP_RESEND)) and waiter.value is not None \
                        and waiter.value.state == DeviceState.ESTOPPED:
                    with self._lock:
                        self.device.set_state(DeviceState.ESTOPPED, self.device.faults)
                        self._after_state(DeviceState.ESTOPPED)
                    return self._tb.now() - t0
        finally:
            for t in tokens:
                self.channel.forget_query(t)
        raise DeviceTimeout(f"device did not confirm e-stop within {timeout} s")

    # ----- shots ----------------------------------------------------------------------------------
    def commanded_for(self, req: ShotRequest) -> Commanded:
        """What the device will be told for a request, after the calibration profile; refuses
        what is outside the device's own capabilities (checked again on the wire values)."""
        p = self.profile
        return Commanded(depth_mm=p.commanded_depth_mm(req.depth_mm),
                         volume_ul=p.commanded_volume_ul(req.volume_ul), flow_ul_s=req.flow_ul_s,
                         speed_mm_s=req.speed_mm_s, dwell_s=req.dwell_s, fire_at=req.fire_at,
                         profile=p.name)

    def _check_capabilities(self, req: ShotRequest, msg: QueueShot) -> None:
        ident = self.device.identity
        if ident is None:
            return
        limits = {
            "depth_um": (ident.depth_min_um, ident.depth_max_um),
            "volume_nl": (ident.volume_min_nl, ident.volume_max_nl),
            "flow_nl_s": (ident.flow_min_nl_s, ident.flow_max_nl_s),
            "speed_um_s": (ident.speed_min_um_s, ident.speed_max_um_s),
            "dwell_ms": (0, ident.dwell_max_ms),
        }
        for name, (lo, hi) in limits.items():
            value = getattr(msg, name)
            if not lo <= value <= hi:
                raise ShotBlocked(
                    f"shot {req.index}: commanded {name} = {value} is outside the device's "
                    f"range [{lo}, {hi}] (requested {req}, profile {self.profile.name!r})"
                )

    def queue_shot(self, req: ShotRequest) -> Shot:
        """Journal, then send one shot. Returns the PENDING snapshot; follow it with
        `wait_shot` or observers. Never re-sends: a retry must use a new index."""
        for name in ("depth_mm", "volume_ul", "flow_ul_s", "speed_mm_s", "dwell_s"):
            value = getattr(req, name)
            if not math.isfinite(value):
                raise ShotBlocked(f"shot {req.index}: {name} = {value!r} is not a number")
        if req.fire_at is not None and not math.isfinite(req.fire_at):
            raise ShotBlocked(f"shot {req.index}: fire_at = {req.fire_at!r} is not a time")
        session, boot = self.device.armed_session, self.device.boot_nonce
        if session is None:
            raise ShotBlocked(f"shot {req.index}: the device is not armed")
        self._check_unresolved()
        commanded = self.commanded_for(req)
        msg = wire.queue_shot(commanded, boot=boot, session=session, index=req.index,
                              tick_hz=TICK_HZ)
        self._check_capabilities(req, msg)
        problems = msg.range_errors()  # every field in the protocol's range before anything is persisted
        if problems:
            raise ShotBlocked(f"shot {req.index}: outside the protocol's ranges: "
                              + "; ".join(str(p) for p in problems))
        commanded = replace(commanded, wire=wire.commanded_record(msg, commanded.profile))
        key = (session, req.index)
        with self._lock:
            try:
                self.ledger.reserve(key)
            except KeyError:
                raise ShotBlocked(f"shot {req.index} of session {session} was already sent; "
                                  "a retry needs a new index") from None
        shot = Shot(session, req.index, boot, req, commanded, history=("pending",))
        try:
            if self.ledger.journal is not None:
                # Persisted before its first byte leaves (raises → not sent). Outside the lock:
                # a durable write must not stall the I/O thread's acks and heartbeats.
                self.ledger.journal(shot)
            with self._lock:
                self.ledger.add(shot)
                if self.device.boot_nonce != boot or self.device.armed_session != session:
                    # The device rebooted or disarmed while we wrote: never send a stale shot.
                    self.ledger.settle(shot, ShotState.NOT_RECEIVED, "not sent: the device left the session")
                    raise ShotBlocked(f"shot {req.index}: the device left session {session} before it was sent")
                if req.fire_at is not None and msg.fire_tick < self._earliest_safe_tick():
                    # The durable write took so long that the shot would arrive late: the
                    # device would refuse it and fault. Never sent, so certainly not executed.
                    self.ledger.settle(shot, ShotState.NOT_RECEIVED,
                                       "not sent: recording it took until too close to its fire time")
                    raise ShotTooLate(f"shot {req.index}: fire time {req.fire_at:.6f} s is too close "
                                      "after recording it; reschedule it under a new index")
                self.channel.send_sequenced(msg)
        finally:
            with self._lock:
                self.ledger.release(key)
        self.channel.flush()
        self._bus.emit(ShotUpdated(shot))
        return shot

    def _earliest_safe_tick(self) -> int:
        """The earliest fire tick a shot sent now can still make (link latency and clock error)."""
        estimate = self.clock.estimate if self.clock is not None else None
        if estimate is None:
            return 0
        margin_us = SEND_MARGIN_US + 4 * estimate.error_us
        return estimate.to_ticks(self._tb.now()) + round(margin_us)

    def shot(self, session: int, index: int) -> Shot:
        with self._lock:
            return self.ledger.get((session, index))

    def shots(self) -> list[Shot]:
        with self._lock:
            return self.ledger.all()

    def wait_shot(self, session: int, index: int, timeout: float) -> Shot:
        """Wait until the shot is final. If it is not by then, ask the device (never re-send)."""
        end = self._tb.now() + timeout
        with self._lock:
            while True:
                shot = self.ledger.get((session, index))
                if shot.state.final:
                    return shot
                left = end - self._tb.now()
                if left <= 0 or shot.needs_resolution:
                    break
                self.ledger.changed.wait(self._tb.wall(min(left, 0.1)))
        return self.resolve_shot(session, index)

    def _check_unresolved(self) -> None:
        with self._lock:
            open_ = self.ledger.unresolved()
        if open_:
            raise ShotBlocked(f"shots {[i for _, i in open_]} have an unknown outcome: "
                              "resolve_uncertain() first")

    def resolve_uncertain(self) -> list[Shot]:
        """Ask the device about every shot whose outcome is unknown; settle each one."""
        with self._lock:
            keys = self.ledger.unresolved()
        return [self.resolve_shot(*k) for k in keys]

    def resolve_shot(self, session: int, index: int) -> Shot:
        """Settle one shot from the device's own record (`shot_ledger.verdict`). A device that
        cannot be reached leaves it UNCERTAIN: counted as delivered, never re-sent."""
        key: Key = (session, index)
        with self._lock:
            shot = self.ledger.get(key)
        if shot.state.final:
            return shot
        for _ in range(2):
            if self.channel.link_lost:
                try:
                    self.handshake()  # a verdict needs a live link and a confirmed boot
                except DriverError as exc:
                    return self._give_up(key, f"device unreachable: {exc}")
            try:
                record = self.get_shot(shot.boot_nonce, session, index)
            except DriverError as exc:
                return self._give_up(key, f"device unreachable: {exc}")
            with self._lock:
                seen = "accepted" in self.ledger.get(key).history
                v = verdict(record, shot_boot=shot.boot_nonce, seen_accepted=seen,
                            link_quiet=self.channel.link_quiet or record.boot_nonce != shot.boot_nonce)
                settled = self.ledger.apply(key, v)
            if not v.ask_again:
                return settled
            self._resync_link()  # whatever was in flight is now either there or gone for good
        return self._give_up(key, "no definite answer from the device")

    def _give_up(self, key: Key, reason: str) -> Shot:
        with self._lock:
            shot = self.ledger.get(key)
            return shot if shot.state.final else self.ledger.settle(shot, ShotState.UNCERTAIN, reason)

    def settle_recorded(self, shot_boot: int, session: int, index: int, *, seen_accepted: bool,
                        wait: float = 3.0) -> tuple[ShotState | None, str, ShotOutcome | None]:
        """Crash resume: the verdict for a shot another process sent (by the same rules).
        Waits up to `wait` s for one still queued or executing; (None, ...) if it still is."""
        end = self._tb.now() + wait
        while True:
            try:
                record = self.get_shot(shot_boot, session, index)
            except DriverError as exc:
                return ShotState.UNCERTAIN, f"device unreachable: {exc}", None
            # Another process sent it and is gone: its link is gone too, so nothing is in flight.
            v = verdict(record, shot_boot=shot_boot, seen_accepted=seen_accepted, link_quiet=True)
            if v.state is not None or self._tb.now() >= end:
                return v.state, v.reason, v.outcome
            self._tb.sleep(0.05)
