"""The session with one injector: handshake, clock sync, commands, shots, telemetry, e-stop.

One I/O thread owns the link: it reads the transport, feeds the protocol endpoint, sends
retransmissions, acks and heartbeats, and routes replies to waiting callers. Callers on any
thread send through short locked sections and wait on their own events. Observers are called
from a separate dispatch thread, so a slow or failing observer can never stall the link or
break control flow.

No double doses (DOMAIN.md, insulin pump lessons): a shot goes to the journal before its
first byte is sent; it settles as DONE, certainly-not-executed, or UNCERTAIN (counted as
delivered); while any shot needs resolution no new shot is sent; the driver never re-sends
a shot — only the link layer retransmits frames, which the device deduplicates.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from mesodrive.driver.calibration_profile import IDENTITY, CalibrationProfile
from mesodrive.driver.clock_sync import ClockSync
from mesodrive.driver.errors import (
    CommandRefused,
    DeviceTimeout,
    DriverError,
    HandshakeRefused,
    LinkLostError,
    ShotBlocked,
    ShotTooLate,
)
from mesodrive.driver.event_bus import EventBus
from mesodrive.driver.shots import Commanded, Shot, ShotRequest, ShotState
from mesodrive.driver.timebase import REAL_TIME, Timebase
from mesodrive.driver.transport import Transport, open_transport
from mesodrive.driver.units import mm_to_um, s_to_ms, ul_to_nl
from mesodrive.protocol import Endpoint, LinkConfig, Message
from mesodrive.protocol.codec import encode_message
from mesodrive.protocol.endpoint import Undecodable
from mesodrive.protocol.messages import (
    PROTOCOL_VERSION,
    SCHEMA_HASH,
    Arm,
    BootEvent,
    CancelQueue,
    ClearFault,
    ClockQuery,
    ClockReply,
    CommandReply,
    DeviceState,
    Disarm,
    ErrorReply,
    Estop,
    FaultEvent,
    GetShot,
    Heartbeat,
    Home,
    Identify,
    Identity,
    LinkSync,
    LinkSyncReply,
    LoadSyringe,
    Prime,
    QueueShot,
    RejectReason,
    Result,
    ShotAccepted,
    ShotRecord,
    ShotRejected,
    ShotResult,
    ShotStatus,
    SoftTrigger,
    StateEvent,
    StatusQuery,
    StatusReply,
    Telemetry,
    TriggerEvent,
    TriggerMode,
)

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Message)

HEARTBEAT_EVERY = 0.05  # s; PROTOCOL.md requires ≤ 100 ms, we keep a 2× margin
ESTOP_RESEND = 0.02  # s (PROTOCOL.md §15)
QUERY_TIMEOUT = 0.25  # s per attempt
SEND_MARGIN_US = 20_000  # a timed shot is sent only if it reaches the device this early
REBOOT_MARGIN_US = 20_000  # clock-estimate slack when deciding a shot was due after a reboot
CLOCK_SYNC_EVERY = 1.0  # s between background clock samples (64 kept: a ~1 min drift baseline)
QUERY_ATTEMPTS = 4
ARMED_STATES = (DeviceState.ARMED, DeviceState.FIRING)


# ----- events for observers -------------------------------------------------------------------
@dataclass(frozen=True)
class StateChanged:
    state: DeviceState
    faults: int


@dataclass(frozen=True)
class FaultRaised:
    code: int
    tick: int
    detail: int


@dataclass(frozen=True)
class TriggerPressed:
    tick: int


@dataclass(frozen=True)
class TelemetrySample:
    sample: Telemetry


@dataclass(frozen=True)
class ShotUpdated:
    shot: Shot


@dataclass(frozen=True)
class LinkLost:
    reason: str


@dataclass(frozen=True)
class Rebooted:
    old_nonce: int
    new_nonce: int


Event = StateChanged | FaultRaised | TriggerPressed | TelemetrySample | ShotUpdated | LinkLost | Rebooted
Journal = Callable[[Shot], None]


class _Waiter:
    """One pending answer: set once from the I/O thread, waited on by a caller."""

    __slots__ = ("_event", "error", "received_at", "sent_at", "value")

    def __init__(self) -> None:
        self._event = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.sent_at = 0.0
        self.received_at = 0.0

    def set(self, value: Any, at: float) -> None:
        self.value, self.received_at = value, at
        self._event.set()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self._event.set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


class Injector:
    """A connected injector. Use `Injector.connect(url)`; close it (or use `with`)."""

    def __init__(
        self,
        transport: Transport,
        *,
        journal: Journal | None = None,
        profile: CalibrationProfile = IDENTITY,
        link_config: LinkConfig | None = None,
        timebase: Timebase = REAL_TIME,
    ) -> None:
        self.transport = transport
        self.timebase = self._tb = timebase
        self.journal = journal
        self.profile = profile
        self._endpoint = Endpoint(link_config)
        self._lock = threading.RLock()  # endpoint, shots, waiters
        self._write_lock = threading.Lock()
        self._running = True
        self._token = 0
        self._query_waiters: dict[int, tuple[type[Message], _Waiter]] = {}
        self._command_waiters: dict[int, deque[_Waiter]] = {}
        self._shots: dict[tuple[int, int], Shot] = {}
        self._reserved: set[tuple[int, int]] = set()  # being journalled, not yet sent
        self._shot_changed = threading.Condition(self._lock)
        self._state_changed = threading.Condition(self._lock)
        self._last_tx = 0.0
        self._armed_session: int | None = None
        self.state: DeviceState | None = None
        self.faults = 0
        self._state_events = 0  # count of state_event messages, to wait for a *new* one
        self._state_log: deque[tuple[int, DeviceState]] = deque(maxlen=64)
        self.last_fault: FaultRaised | None = None
        self.identity: Identity | None = None
        self.boot_nonce = 0
        self.rebooted = False
        self.link_lost = False
        self.clock: ClockSync | None = None
        self._bus: EventBus[Event] = EventBus("mesodrive-events")
        self._io = threading.Thread(target=self._io_loop, name="mesodrive-io", daemon=True)
        self._io.start()
        self._clock_thread: threading.Thread | None = None
        self._closing = threading.Event()

    # ----- lifecycle ---------------------------------------------------------------------------
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
        self._write(b"\0")  # flush whatever partial frame the device had buffered
        self._resync_link()
        ident = self.query(Identify, Identity)
        if ident.protocol_version != PROTOCOL_VERSION or ident.schema_hash != SCHEMA_HASH:
            raise HandshakeRefused(
                f"device {ident.serial!r} speaks protocol {ident.protocol_version} with schema "
                f"{ident.schema_hash:#018x}; this host speaks protocol {PROTOCOL_VERSION} with "
                f"schema {SCHEMA_HASH:#018x}"
            )
        with self._lock:
            if self.boot_nonce and ident.boot_nonce != self.boot_nonce:
                self._on_reboot(ident.boot_nonce)
            self.identity, self.boot_nonce = ident, ident.boot_nonce
        self.clock = ClockSync(ident.tick_hz)
        self.sync_clock(8)
        if self._clock_thread is None:
            self._clock_thread = threading.Thread(target=self._clock_loop, name="mesodrive-clock",
                                                  daemon=True)
            self._clock_thread.start()
        status = self.status()
        with self._lock:
            self.state, self.faults = DeviceState(status.state), status.faults
        return ident

    def _resync_link(self) -> None:
        with self._lock:
            self._endpoint.reset()
            self.link_lost = False
        reply = self.query(LinkSync, LinkSyncReply)
        with self._lock:
            self._endpoint.reset()  # the device reset too: both directions restart at 0
            if self.boot_nonce and reply.boot_nonce != self.boot_nonce:
                self._on_reboot(reply.boot_nonce)

    def reconnect(self) -> Identity:
        """After link loss: resynchronise, notice a reboot, and resolve what was in flight."""
        ident = self.handshake()
        self.resolve_uncertain()
        return ident

    def close(self) -> None:
        if not self._running:
            return
        self._running = False
        self._closing.set()
        if self._clock_thread is not None:
            self._clock_thread.join(timeout=2)
        self._io.join(timeout=2)
        self._bus.close()
        self.transport.close()
        with self._lock:
            for _, w in self._query_waiters.values():
                w.fail(DriverError("session closed"))
            for ws in self._command_waiters.values():
                for w in ws:
                    w.fail(DriverError("session closed"))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- observers ---------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call `callback(event)` for every event (on the event thread). Returns unsubscribe."""
        return self._bus.subscribe(callback)

    def _emit(self, event: Event) -> None:
        self._bus.emit(event)

    # ----- I/O thread ---------------------------------------------------------------------------
    def _io_loop(self) -> None:
        while self._running:
            try:
                deadline = self._endpoint.link.next_deadline()
                wait = 0.005 if deadline is None else max(0.0, min(0.005, deadline - self._tb.now()))
                data = self.transport.read(4096, self._tb.wall(wait))
            except DriverError as exc:
                if self._running:
                    log.error("transport failed: %s", exc)
                    self._declare_link_lost(f"transport failed: {exc}")
                    self._tb.sleep(0.05)
                continue
            now = self._tb.now()
            with self._lock:
                received = self._endpoint.receive(data, now) if data else []
                for msg in received:
                    self._handle(msg, now)
                out = self._endpoint.poll(now)
                if self._armed_session is not None and now - self._last_tx >= HEARTBEAT_EVERY and not out:
                    out = self._endpoint.send(Heartbeat())
                lost = self._endpoint.link.lost and not self.link_lost
            if out:
                self._write(out)
            if lost:
                self._declare_link_lost("no acknowledgements from the device")

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            self.transport.write(data)
            self._last_tx = self._tb.now()

    def _flush(self) -> None:
        with self._lock:
            out = self._endpoint.poll(self._tb.now())
        if out:
            self._write(out)

    def _declare_link_lost(self, reason: str) -> None:
        with self._lock:
            if self.link_lost:
                return
            self.link_lost = True
            err = LinkLostError(f"link to {self.transport.url!r} lost: {reason}")
            for ws in self._command_waiters.values():
                for w in ws:
                    w.fail(err)
            self._command_waiters.clear()
            for key, shot in list(self._shots.items()):
                if not shot.state.final:
                    self._shots[key] = shot  # state unchanged, but its outcome is now unknown
                    self._update(shot, shot.state, "link lost", needs_resolution=True)
        self._emit(LinkLost(reason))

    # ----- incoming messages (I/O thread, lock held) ----------------------------------------------
    def _handle(self, msg: Message | Undecodable, now: float) -> None:
        if isinstance(msg, Undecodable):
            log.warning("undecodable frame from device: %s", msg.error)
            return
        token = getattr(msg, "token", None)
        if token is not None and token in self._query_waiters:
            expected, waiter = self._query_waiters[token]
            if isinstance(msg, expected):
                del self._query_waiters[token]
                waiter.set(msg, now)
        if isinstance(msg, CommandReply):
            waiters = self._command_waiters.get(msg.command)
            if waiters:
                waiters.popleft().set(msg, now)
        elif isinstance(msg, ShotAccepted):
            self._on_shot_accepted(msg)
        elif isinstance(msg, ShotRejected):
            self._on_shot_rejected(msg)
        elif isinstance(msg, ShotResult):
            self._on_shot_result(msg)
        elif isinstance(msg, StateEvent):
            self._state_events += 1
            self._state_log.append((self._state_events, DeviceState(msg.state)))
            self._set_state(DeviceState(msg.state), msg.faults)
        elif isinstance(msg, StatusReply):
            self._set_state(DeviceState(msg.state), msg.faults, quiet=True)
        elif isinstance(msg, FaultEvent):
            self.last_fault = FaultRaised(msg.code, msg.tick, msg.detail)
            self._emit(self.last_fault)
        elif isinstance(msg, TriggerEvent):
            self._emit(TriggerPressed(msg.tick))
        elif isinstance(msg, Telemetry):
            self._emit(TelemetrySample(msg))
        elif isinstance(msg, BootEvent):
            if self.boot_nonce and msg.boot_nonce != self.boot_nonce:
                self._on_reboot(msg.boot_nonce)
        elif isinstance(msg, ErrorReply):
            log.warning("device could not act on message %#04x: %s", msg.msg_id, Result(msg.code).name)

    def _set_state(self, state: DeviceState, faults: int, *, quiet: bool = False) -> None:
        changed = state != self.state or faults != self.faults
        self.state, self.faults = state, faults
        if state not in ARMED_STATES:
            self._armed_session = None
            # The device empties its queue whenever it leaves ARMED/FIRING: whatever was only
            # queued is now CANCELLED there; ask, don't assume.
            for shot in self._shots.values():
                if shot.state is ShotState.ACCEPTED:
                    self._update(shot, shot.state, f"device left ARMED ({state.name})", needs_resolution=True)
        if changed or not quiet:
            self._state_changed.notify_all()
            if not quiet:
                self._emit(StateChanged(state, faults))

    def _on_reboot(self, new_nonce: int) -> None:
        old = self.boot_nonce
        self.rebooted = True
        self.boot_nonce = new_nonce
        self._armed_session = None
        self._endpoint.reset()  # nothing of the old link may reach the new boot
        # The reboot happened before we heard of it, so the old boot's clock had not passed
        # `cutoff` when it died: a timed shot due later cannot have started (a reboot empties the
        # queue, and the new boot refuses the old nonce). Everything else may have run.
        old_estimate = self.clock.estimate if self.clock is not None else None
        cutoff = None
        if old_estimate is not None:
            margin_us = max(REBOOT_MARGIN_US, 4 * old_estimate.error_us)
            cutoff = old_estimate.to_ticks(self._tb.now()) + round(margin_us)
        if self.identity is not None:  # the device clock restarted: the old estimate is void
            self.clock = ClockSync(self.identity.tick_hz)
        why = f"device rebooted ({old:#010x} → {new_nonce:#010x})"
        for shot in self._shots.values():
            if shot.state.final:
                continue
            fire = shot.commanded.fire_tick
            if cutoff is not None and fire is not None and fire > cutoff:
                self._settle(shot, ShotState.CANCELLED, f"{why} before its fire time: it never ran")
            else:
                # A rebooted device has no record of these: they may have executed.
                self._settle(shot, ShotState.UNCERTAIN, why)
        self._emit(Rebooted(old, new_nonce))

    # ----- queries ----------------------------------------------------------------------------------
    @property
    def _next_token(self) -> int:
        with self._lock:
            self._token = self._token % 0xFFFF + 1
            return self._token

    def query(self, make: Callable[[int], Message], reply: type[M], *,
              attempts: int = QUERY_ATTEMPTS, timeout: float = QUERY_TIMEOUT) -> M:
        """Send an unsequenced query and wait for its answer, re-asking with a fresh token
        (queries are idempotent: re-asked, never retransmitted)."""
        name = "query"
        for _ in range(attempts):
            token = self._next_token
            msg = make(token)
            name = msg.NAME
            waiter = _Waiter()
            with self._lock:
                self._query_waiters[token] = (reply, waiter)
                wire = self._endpoint.send(msg)
            self._write(wire)
            if waiter.wait(self._tb.wall(timeout)):
                if waiter.error:
                    raise waiter.error
                value: M = waiter.value
                return value
            with self._lock:
                self._query_waiters.pop(token, None)
        raise DeviceTimeout(f"no answer to {name} after {attempts} attempts of {timeout} s")

    def status(self) -> StatusReply:
        return self.query(StatusQuery, StatusReply)

    def get_shot(self, session: int, index: int) -> ShotRecord:
        return self.query(lambda t: GetShot(t, session, index), ShotRecord)

    def sync_clock(self, samples: int = 4) -> None:
        """Take clock samples (first-attempt exchanges only: Karn's rule)."""
        assert self.clock is not None
        for _ in range(samples):
            waiter = _Waiter()
            token = self._next_token
            with self._lock:
                self._query_waiters[token] = (ClockReply, waiter)
                wire = self._endpoint.send(ClockQuery(token))
            t0 = self._tb.now()
            self._write(wire)
            if waiter.wait(self._tb.wall(QUERY_TIMEOUT)):
                self.clock.add_sample(t0, waiter.received_at, waiter.value.ticks)
            else:
                with self._lock:
                    self._query_waiters.pop(token, None)

    def _clock_loop(self) -> None:
        """Keep the device-clock estimate fresh (offset and drift) for as long as we are open."""
        while not self._closing.wait(self._tb.wall(CLOCK_SYNC_EVERY)):
            if self.link_lost or self.clock is None:
                continue
            try:
                self.sync_clock(1)
            except (DriverError, ValueError) as exc:  # a reboot resets the clock: re-handshake fixes it
                log.debug("clock sample failed: %s", exc)

    def device_now(self) -> int:
        """The estimated device clock now (ticks)."""
        estimate = self.clock.estimate if self.clock is not None else None
        if estimate is None:
            raise DeviceTimeout("the device clock is not synchronised yet (after connect or a reboot)")
        return estimate.to_ticks(self._tb.now())

    # ----- commands ---------------------------------------------------------------------------------
    def command(self, msg: Message, timeout: float = 3.0) -> CommandReply:
        """Send a sequenced command; wait for its command_reply; raise CommandRefused on error."""
        if self.link_lost:
            raise LinkLostError("link lost: reconnect() first")
        waiter = _Waiter()
        with self._lock:
            self._command_waiters.setdefault(msg.MSG_ID, deque()).append(waiter)
            self._endpoint.send(msg)
        self._flush()
        if not waiter.wait(self._tb.wall(timeout)):
            with self._lock:
                ws = self._command_waiters.get(msg.MSG_ID)
                if ws and waiter in ws:
                    ws.remove(waiter)
            raise DeviceTimeout(f"no reply to {msg.NAME} within {timeout} s")
        if waiter.error:
            raise waiter.error
        reply: CommandReply = waiter.value
        if reply.code != Result.OK:
            raise CommandRefused(msg.NAME, Result(reply.code).name)
        return reply

    def wait_state(self, *states: DeviceState, timeout: float = 10.0) -> DeviceState:
        end = self._tb.now() + timeout
        with self._lock:
            while self.state not in states:
                left = end - self._tb.now()
                if left <= 0 or self.link_lost:
                    raise DeviceTimeout(
                        f"device is {self.state.name if self.state else '?'}, expected "
                        f"{' or '.join(s.name for s in states)} within {timeout} s"
                    )
                self._state_changed.wait(self._tb.wall(min(left, 0.1)))
            assert self.state is not None
            return self.state

    def _wait_state_event(self, state: DeviceState, after: int, timeout: float) -> None:
        """Wait for a state_event to `state` numbered after `after` (not a stale state)."""
        end = self._tb.now() + timeout
        with self._lock:
            while not any(n > after and s == state for n, s in self._state_log):
                left = end - self._tb.now()
                if left <= 0 or self.link_lost:
                    raise DeviceTimeout(f"device did not reach {state.name} within {timeout} s "
                                        f"(it is {self.state.name if self.state else '?'})")
                self._state_changed.wait(self._tb.wall(min(left, 0.1)))

    def _run_to(self, msg: Message, state: DeviceState, timeout: float) -> None:
        with self._lock:
            before = self._state_events
        self.command(msg)
        self._wait_state_event(state, before, timeout)

    def home(self, timeout: float = 15.0) -> None:
        self._run_to(Home(), DeviceState.READY, timeout)

    def prime(self, volume_ul: float, flow_ul_s: float, timeout: float = 60.0) -> None:
        self._run_to(Prime(ul_to_nl(volume_ul), ul_to_nl(flow_ul_s)), DeviceState.READY, timeout)

    def load_syringe(self, volume_ul: float) -> None:
        self.command(LoadSyringe(ul_to_nl(volume_ul)))

    def arm(self, session: int, telemetry_ms: int = 0) -> None:
        self._check_unresolved()
        with self._lock:
            before = self._state_events
        self.command(Arm(self.boot_nonce, session, telemetry_ms))
        with self._lock:
            self._armed_session = session
        self._wait_state_event(DeviceState.ARMED, before, 2.0)

    def disarm(self) -> None:
        self.command(Disarm())

    def cancel_queue(self) -> None:
        self.command(CancelQueue())

    def clear_fault(self) -> None:
        self.command(ClearFault())

    def soft_trigger(self) -> None:
        self.command(SoftTrigger())

    # ----- e-stop -----------------------------------------------------------------------------------
    def estop(self, timeout: float = 1.0) -> float:
        """Emergency stop, callable from any thread at any time. Sends the out-of-band frame
        every 20 ms until the device reports ESTOPPED; returns the latency in seconds."""
        t0 = self._tb.now()
        latched = threading.Event()
        tokens: set[int] = set()

        def on_status(_: object) -> None:
            latched.set()

        while self._tb.now() - t0 < timeout:
            token = self._next_token
            tokens.add(token)
            waiter = _Waiter()
            with self._lock:
                self._query_waiters[token] = (StatusReply, waiter)
                ack = self._endpoint.link._expected
            self._write(encode_message(Estop(token), 0, ack))
            if waiter.wait(self._tb.wall(ESTOP_RESEND)) and waiter.value.state == DeviceState.ESTOPPED:
                latched.set()
            if latched.is_set():
                with self._lock:
                    for t in tokens:
                        self._query_waiters.pop(t, None)
                    self._set_state(DeviceState.ESTOPPED, self.faults)
                return self._tb.now() - t0
        with self._lock:
            for t in tokens:
                self._query_waiters.pop(t, None)
        raise DeviceTimeout(f"device did not confirm e-stop within {timeout} s")

    # ----- shots ------------------------------------------------------------------------------------
    def commanded_for(self, req: ShotRequest) -> Commanded:
        """The wire values for a request after the calibration profile; checks device limits."""
        p = self.profile
        c = Commanded(
            depth_um=mm_to_um(p.commanded_depth_mm(req.depth_mm)),
            volume_nl=ul_to_nl(p.commanded_volume_ul(req.volume_ul)),
            flow_nl_s=ul_to_nl(req.flow_ul_s),
            speed_um_s=mm_to_um(req.speed_mm_s),
            dwell_ms=s_to_ms(req.dwell_s),
            fire_tick=req.fire_tick,
            profile=p.name,
        )
        ident = self.identity
        if ident is not None:
            limits = {
                "depth_um": (ident.depth_min_um, ident.depth_max_um),
                "volume_nl": (ident.volume_min_nl, ident.volume_max_nl),
                "flow_nl_s": (ident.flow_min_nl_s, ident.flow_max_nl_s),
                "speed_um_s": (ident.speed_min_um_s, ident.speed_max_um_s),
                "dwell_ms": (0, ident.dwell_max_ms),
            }
            for name, (lo, hi) in limits.items():
                value = getattr(c, name)
                if not lo <= value <= hi:
                    raise ShotBlocked(
                        f"shot {req.index}: commanded {name} = {value} is outside the device's "
                        f"range [{lo}, {hi}] (requested {req}, profile {p.name!r})"
                    )
        return c

    def queue_shot(self, req: ShotRequest) -> Shot:
        """Journal, then send one shot. Returns the PENDING snapshot; follow it with
        `wait_shot` or observers. Never re-sends: a retry must use a new index."""
        session = self._armed_session
        if session is None:
            raise ShotBlocked(f"shot {req.index}: the device is not armed")
        self._check_unresolved()
        commanded = self.commanded_for(req)
        msg = QueueShot(
            boot_nonce=self.boot_nonce, session=session, index=req.index,
            trigger=TriggerMode.ON_TRIGGER if req.fire_tick is None else TriggerMode.AT_TICK,
            fire_tick=req.fire_tick or 0, depth_um=commanded.depth_um, volume_nl=commanded.volume_nl,
            flow_nl_s=commanded.flow_nl_s, speed_um_s=commanded.speed_um_s, dwell_ms=commanded.dwell_ms,
        )
        msg.check()  # every field in the protocol's range before anything is persisted
        key = (session, req.index)
        with self._lock:
            if key in self._shots or key in self._reserved:
                raise ShotBlocked(f"shot {req.index} of session {session} was already sent; "
                                  "a retry needs a new index")
            self._reserved.add(key)
        shot = Shot(session, req.index, self.boot_nonce, req, commanded, history=("pending",))
        try:
            if self.journal is not None:
                # Persisted before its first byte leaves (raises → not sent). Outside the lock:
                # a durable write must not stall the I/O thread's acks and heartbeats.
                self.journal(shot)
            with self._lock:
                if self.boot_nonce != shot.boot_nonce or self._armed_session != session:
                    # The device rebooted or disarmed while we wrote: never send a stale shot.
                    self._shots[key] = shot
                    self._settle(shot, ShotState.NOT_RECEIVED, "not sent: the device left the session")
                    raise ShotBlocked(f"shot {req.index}: the device left session {session} before it was sent")
                if req.fire_tick is not None and req.fire_tick < self._earliest_safe_tick():
                    # The durable write took so long that the shot would arrive late: the
                    # device would refuse it and fault. Never sent, so certainly not executed.
                    self._shots[key] = shot
                    self._settle(shot, ShotState.NOT_RECEIVED,
                                 "not sent: recording it took until too close to its fire time")
                    raise ShotTooLate(f"shot {req.index}: fire tick {req.fire_tick} is too close "
                                      "after recording it; reschedule it under a new index")
                self._shots[key] = shot
                self._endpoint.send(msg)
        finally:
            with self._lock:
                self._reserved.discard(key)
        self._flush()
        self._emit(ShotUpdated(shot))
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
            return self._shots[(session, index)]

    def shots(self) -> list[Shot]:
        with self._lock:
            return list(self._shots.values())

    def wait_shot(self, session: int, index: int, timeout: float) -> Shot:
        """Wait until the shot is final. If it is not by then, ask the device (never re-send)."""
        end = self._tb.now() + timeout
        with self._lock:
            while True:
                shot = self._shots[(session, index)]
                if shot.state.final:
                    return shot
                left = end - self._tb.now()
                if left <= 0 or shot.needs_resolution:
                    break
                self._shot_changed.wait(self._tb.wall(min(left, 0.1)))
        return self.resolve_shot(session, index)

    def _check_unresolved(self) -> None:
        with self._lock:
            open_ = [s.index for s in self._shots.values() if s.needs_resolution and not s.state.final]
        if open_:
            raise ShotBlocked(f"shots {open_} have an unknown outcome: resolve_uncertain() first")

    def resolve_uncertain(self) -> list[Shot]:
        """Ask the device about every shot whose outcome is unknown; settle each one."""
        with self._lock:
            keys = [k for k, s in self._shots.items() if s.needs_resolution and not s.state.final]
        return [self.resolve_shot(*k) for k in keys]

    def resolve_shot(self, session: int, index: int) -> Shot:
        """Settle one shot from the device's own record. Unresolvable → UNCERTAIN."""
        with self._lock:
            shot = self._shots[(session, index)]
        if shot.state.final:
            return shot
        if shot.boot_nonce != self.boot_nonce:
            return self._settle_locked(shot, ShotState.UNCERTAIN, "device rebooted since it was sent")
        try:
            record = self.get_shot(session, index)
        except DriverError as exc:
            return self._settle_locked(shot, ShotState.UNCERTAIN, f"device unreachable: {exc}")
        with self._lock:
            shot = self._shots[(session, index)]
            if shot.state.final:
                return shot
            if shot.boot_nonce != self.boot_nonce:
                return self._settle(shot, ShotState.UNCERTAIN, "device rebooted since it was sent")
            status = ShotStatus(record.status)
            if status is ShotStatus.DONE:
                result = ShotResult(session, index, record.start_tick, 0, record.reached_depth_um,
                                    record.delivered_nl, record.peak_pressure_pa, record.flags)
                return self._settle(shot, ShotState.DONE, "resolved from the device record", result=result)
            if status is ShotStatus.REJECTED:
                return self._settle(shot, ShotState.REJECTED, "rejected (device record)")
            if status is ShotStatus.CANCELLED:
                return self._settle(shot, ShotState.CANCELLED, "cancelled before it started (device record)")
            if status in (ShotStatus.QUEUED, ShotStatus.EXECUTING):
                return self._update(shot, ShotState.ACCEPTED, "still queued on the device", needs_resolution=False)
            # UNKNOWN in the same boot: never received — but only if nothing is still in flight
            # on the link that could deliver it later.
            if self._endpoint.link.pending == 0 and not self.link_lost:
                return self._settle(shot, ShotState.NOT_RECEIVED, "the device never received it")
            return self._settle(shot, ShotState.UNCERTAIN, "no device record and the link is not quiet")

    def _settle_locked(self, shot: Shot, state: ShotState, reason: str) -> Shot:
        with self._lock:
            current = self._shots[(shot.session, shot.index)]
            return current if current.state.final else self._settle(current, state, reason)

    # The one place a shot's outcome becomes final (lock held).
    def _settle(self, shot: Shot, state: ShotState, reason: str, **changes: Any) -> Shot:
        assert state.final
        return self._update(shot, state, reason, needs_resolution=False, **changes)

    def _update(self, shot: Shot, state: ShotState, reason: str, **changes: Any) -> Shot:
        new = shot.moved(state, reason, **changes)
        self._shots[(shot.session, shot.index)] = new
        if self.journal is not None:
            try:
                self.journal(new)
            except Exception:  # persisted state lags; the in-memory state is still right
                log.exception("journal failed for shot %s", new.index)
        self._shot_changed.notify_all()
        self._emit(ShotUpdated(new))
        return new

    def _on_shot_accepted(self, msg: ShotAccepted) -> None:
        shot = self._shots.get((msg.session, msg.index))
        if shot is not None and shot.state is ShotState.PENDING:
            self._update(shot, ShotState.ACCEPTED, "")

    def _on_shot_rejected(self, msg: ShotRejected) -> None:
        shot = self._shots.get((msg.session, msg.index))
        if shot is not None and not shot.state.final:
            reason = RejectReason(msg.reason).name if msg.reason in RejectReason._value2member_map_ else str(msg.reason)
            state = ShotState.CANCELLED if msg.reason == RejectReason.CANCELLED else ShotState.REJECTED
            self._settle(shot, state, reason)

    def _on_shot_result(self, msg: ShotResult) -> None:
        shot = self._shots.get((msg.session, msg.index))
        if shot is not None and not shot.state.final:
            self._settle(shot, ShotState.DONE, "", result=msg)
