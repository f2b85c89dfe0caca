"""The channel to one device: the I/O thread, the protocol endpoint, and request/reply routing.

pymodbus splits framer, transaction manager and transport; here the protocol layer is the
framer and link, the transport is the byte pipe, and this module is the transaction manager:
it owns the one I/O thread that reads the transport, feeds the endpoint, sends
retransmissions, acks and heartbeats, and hands each incoming message to the handler
registered for its type (a table, as the simulator's firmware does). Callers on any thread
send through short locked sections and wait on their own `Waiter`.

The lock is shared with the device state and the shot ledger: handlers run on the I/O thread
with it held, so a message is applied to all three atomically.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from mesodrive.driver.errors import CommandRefused, DeviceTimeout, DriverError, LinkLostError
from mesodrive.driver.timebase import Timebase
from mesodrive.driver.transports import Transport, open_transport
from mesodrive.protocol import Endpoint, LinkConfig, Message
from mesodrive.protocol.codec import encode_message
from mesodrive.protocol.endpoint import Undecodable
from mesodrive.protocol.messages import CommandReply, ErrorReply, Heartbeat, Result

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Message)
Handler = Callable[[Any, float], object]

HEARTBEAT_EVERY = 0.05  # s; PROTOCOL.md requires ≤ 100 ms, we keep a 2× margin
IDLE_POLL = 0.005  # s; the I/O thread's longest wait towards a device that is not armed
QUERY_TIMEOUT = 0.25  # s per attempt
QUERY_ATTEMPTS = 4


class Waiter:
    """One pending answer: set once from the I/O thread, waited on by a caller."""

    __slots__ = ("_event", "error", "received_at", "value")

    def __init__(self) -> None:
        self._event = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.received_at = 0.0

    def set(self, value: Any, at: float) -> None:
        self.value, self.received_at = value, at
        self._event.set()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self._event.set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


class Channel:
    """Owns the transport and the I/O thread. `on_link_lost(reason)` is called (outside the
    lock) once when the link is declared lost; `heartbeat_due()` says whether the device is
    armed and so needs heartbeats."""

    def __init__(self, transport: Transport, timebase: Timebase, *,
                 link_config: LinkConfig | None = None,
                 on_link_lost: Callable[[str], None] = lambda reason: None,
                 heartbeat_due: Callable[[], bool] = lambda: False) -> None:
        self.transport = transport
        self._tb = timebase
        self.lock = threading.RLock()  # endpoint, waiters, and (shared) device state and ledger
        self._write_lock = threading.Lock()
        self._endpoint = Endpoint(link_config)
        self._handlers: dict[type[Message], Handler] = {}
        self._query_waiters: dict[int, tuple[type[Message], Waiter]] = {}
        # Tokens and query waiters have their own small lock, never held across anything else:
        # the e-stop path uses only it and the write lock, so it never waits behind the I/O
        # thread's handlers (which hold `lock` while they journal and update the ledger).
        self._waiters_lock = threading.Lock()
        self._urgent: set[int] = set()  # tokens of e-stops awaiting their answer
        self._command_waiters: dict[int, deque[Waiter]] = {}
        self._token = 0
        self._last_tx = 0.0
        self._was_armed = False  # heartbeat_due() at the I/O thread's last turn
        self.max_tx_gap = 0.0  # s, while armed (see write)
        self._on_link_lost = on_link_lost
        self._heartbeat_due = heartbeat_due
        self.link_lost = False
        self.transport_failed = False
        self._running = True
        self._io = threading.Thread(target=self._io_loop, name="mesodrive-io", daemon=True)

    def start(self) -> None:
        """Start the I/O thread, once every handler is registered."""
        self._io.start()

    def on(self, kind: type[Message], handler: Handler) -> None:
        """Route every incoming `kind` message to `handler(msg, now)` (I/O thread, lock held)."""
        self._handlers[kind] = handler

    # ----- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        if not self._running:
            return
        self._running = False
        if self._io.is_alive():
            self._io.join(timeout=2)
        self.transport.close()
        with self._waiters_lock:
            for _, w in self._query_waiters.values():
                w.fail(DriverError("session closed"))
        with self.lock:
            for ws in self._command_waiters.values():
                for w in ws:
                    w.fail(DriverError("session closed"))

    def reset_link(self) -> None:
        """Both directions restart at sequence 0 (after link_sync, or a reboot): nothing of the
        old link may reach the device any more."""
        with self.lock:
            self._endpoint.reset()
            self.link_lost = False

    def reopen(self) -> None:
        """Open the transport again by its URL (after it failed: a cable pulled and replugged,
        a TCP connection dropped). TransportError if it cannot be opened yet."""
        old = self.transport
        with self._write_lock:
            try:
                old.close()
            except DriverError:
                pass  # it is broken already; the new one is what matters
            self.transport = open_transport(old.url)
            self.transport_failed = False
        log.info("transport %s reopened", old.url)

    def reset_link_state(self) -> None:
        """Restart the sequence state only (a reboot noticed mid-run; link loss stays as is)."""
        with self.lock:
            self._endpoint.reset()

    @property
    def link_quiet(self) -> bool:
        """No sequenced frame of ours is in flight: whatever we sent, the device has seen."""
        with self.lock:
            return self._endpoint.link.pending == 0 and not self.link_lost

    # ----- I/O thread --------------------------------------------------------------------------
    def _io_loop(self) -> None:
        while self._running:
            transport = self.transport
            try:
                data = transport.read(4096, self._tb.wall(self._io_wait()))
            except DriverError as exc:
                if self._running and transport is self.transport:
                    if not self.transport_failed:
                        log.error("transport failed: %s", exc)
                    self.transport_failed = True  # reconnect reopens it (a cable replugged)
                    self.declare_link_lost(f"transport failed: {exc}")
                    self._tb.sleep(0.05)
                continue
            now = self._tb.now()
            with self.lock:
                msgs = self._endpoint.receive(data, now) if data else []
                # An e-stop's answer goes before every handler of its batch (the device's fault
                # and shot reports, which journal and update the ledger), and its caller gets
                # the interpreter lock at once instead of after them.
                if self._urgent:
                    released = [self._release_query_waiter(m, now) for m in msgs]  # all of them
                    if any(released):
                        time.sleep(0)
                for msg in msgs:
                    self._route(msg, now)
                out = self._endpoint.poll(now)
                if not out and now - self._last_tx >= HEARTBEAT_EVERY and self._heartbeat_due():
                    out = self._endpoint.send(Heartbeat())
                lost = self._endpoint.link.lost and not self.link_lost
                self._note_disarm(now)
            if out:
                self.write(out)
            if lost:
                self.declare_link_lost("no acknowledgements from the device")

    def _note_disarm(self, now: float) -> None:
        """A silence long enough for the device to go safe ends with it disarmed, so no later
        write counts it in `max_tx_gap`: count it here, up to when we learn of the disarm."""
        armed = self._heartbeat_due()
        if self._was_armed and not armed and self._last_tx:
            self.max_tx_gap = max(self.max_tx_gap, now - self._last_tx)
        self._was_armed = armed

    def _io_wait(self) -> float:
        """How long the I/O thread may wait for input (host seconds): until the link's next
        retransmission deadline and, towards an armed device, until the next heartbeat is
        due — no longer, and no shorter. Waking up only to find nothing to do costs little at
        real time, but time-warped at K× those wake-ups come K× as often in wall time, and
        each one takes the interpreter's lock from the threads the heartbeat depends on."""
        now = self._tb.now()
        wait = self._last_tx + HEARTBEAT_EVERY - now if self._heartbeat_due() else IDLE_POLL
        deadline = self._endpoint.link.next_deadline()
        if deadline is not None:
            wait = min(wait, deadline - now)
        return max(0.0, wait)

    def _route(self, msg: Message | Undecodable, now: float) -> None:
        if isinstance(msg, Undecodable):
            log.warning("undecodable frame from device: %s", msg.error)
            return
        self._release_query_waiter(msg, now)
        if isinstance(msg, CommandReply):
            waiters = self._command_waiters.get(msg.command)
            if waiters:
                waiters.popleft().set(msg, now)
        elif isinstance(msg, ErrorReply):
            log.warning("device could not act on message %#04x: %s", msg.msg_id, Result(msg.code).name)
        handler = self._handlers.get(type(msg))
        if handler is not None:
            handler(msg, now)

    def _release_query_waiter(self, msg: Message | Undecodable, now: float) -> bool:
        """Hand a query's answer to its waiter, if one waits; True if that was an urgent one."""
        token = getattr(msg, "token", None)
        if token is None:
            return False
        with self._waiters_lock:
            entry = self._query_waiters.get(token)
            if entry is None or not isinstance(msg, entry[0]):
                return False
            del self._query_waiters[token]
            urgent = token in self._urgent
            self._urgent.discard(token)
        entry[1].set(msg, now)
        return urgent

    def write(self, data: bytes) -> None:
        with self._write_lock:
            try:
                self.transport.write(data)
            except DriverError:
                self.transport_failed = True
                raise
            now = self._tb.now()
            if self._heartbeat_due() and self._last_tx:
                # The dead-man's view of us: the longest silence towards an armed device.
                self.max_tx_gap = max(self.max_tx_gap, now - self._last_tx)
            self._last_tx = now

    def reset_gap(self) -> float:
        """The longest host-side gap between frames to an armed device since the last call."""
        gap, self.max_tx_gap = self.max_tx_gap, 0.0
        return gap

    def flush(self) -> None:
        with self.lock:
            out = self._endpoint.poll(self._tb.now())
        if out:
            self.write(out)

    def declare_link_lost(self, reason: str) -> None:
        with self.lock:
            if self.link_lost:
                return
            self.link_lost = True
            err = LinkLostError(f"link to {self.transport.url!r} lost: {reason}")
            for ws in self._command_waiters.values():
                for w in ws:
                    w.fail(err)
            self._command_waiters.clear()
        self._on_link_lost(reason)

    # ----- requests ----------------------------------------------------------------------------
    def next_token(self) -> int:
        with self._waiters_lock:
            self._token = self._token % 0xFFFF + 1
            return self._token

    def ask(self, msg: Message, reply: type[Message], timeout: float) -> Waiter:
        """Send one unsequenced query and wait up to `timeout` (the waiter tells if it came)."""
        waiter = Waiter()
        token: int = msg.token  # type: ignore[attr-defined]
        with self._waiters_lock:
            self._query_waiters[token] = (reply, waiter)
        with self.lock:
            wire = self._endpoint.send(msg)
        self.write(wire)
        if not waiter.wait(self._tb.wall(timeout)):
            self.forget_query(token)
        return waiter

    def query(self, make: Callable[[int], Message], reply: type[M], *,
              attempts: int = QUERY_ATTEMPTS, timeout: float = QUERY_TIMEOUT) -> M:
        """Send an unsequenced query and wait for its answer, re-asking with a fresh token
        (queries are idempotent: re-asked, never retransmitted)."""
        name = "query"
        for _ in range(attempts):
            msg = make(self.next_token())
            name = msg.NAME
            waiter = self.ask(msg, reply, timeout)
            if waiter.error:
                raise waiter.error
            if waiter.value is not None:
                value: M = waiter.value
                return value
        raise DeviceTimeout(f"no answer to {name} after {attempts} attempts of {timeout} s")

    def command(self, msg: Message, timeout: float = 3.0) -> CommandReply:
        """Send a sequenced command; wait for its command_reply; raise CommandRefused on error."""
        if self.link_lost:
            raise LinkLostError("link lost: reconnect() first")
        waiter = Waiter()
        with self.lock:
            self._command_waiters.setdefault(msg.MSG_ID, deque()).append(waiter)
            self._endpoint.send(msg)
        self.flush()
        if not waiter.wait(self._tb.wall(timeout)):
            with self.lock:
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

    def send_sequenced(self, msg: Message) -> None:
        """Queue a sequenced message without waiting for anything (lock held by the caller)."""
        self._endpoint.send(msg)

    def send_out_of_band(self, msg: Message) -> None:
        """An out-of-band frame (e-stop): written at once, ahead of anything queued, without
        the driver lock (the ack value is read as it is: any recent value is a valid ack)."""
        self.write(encode_message(msg, 0, self._endpoint.link.expected))

    def forget_query(self, token: int) -> None:
        with self._waiters_lock:
            self._query_waiters.pop(token, None)
            self._urgent.discard(token)

    def expect(self, token: int, reply: type[Message], *, urgent: bool = False) -> Waiter:
        """A waiter for the `reply` carrying `token`. An urgent one (the e-stop's) is released
        as soon as its frame is decoded, before the handlers of the frames that came with it."""
        waiter = Waiter()
        with self._waiters_lock:
            self._query_waiters[token] = (reply, waiter)
            if urgent:
                self._urgent.add(token)
        return waiter
