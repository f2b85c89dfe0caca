"""Test helpers for the simulated device: a minimal host on the other end of the wire.

`WireHost` wraps a `SimDevice` and a host-side `Endpoint` (the real protocol stack). Tests
talk to the device only through messages on the wire; the `dev` attribute is there for the
simulator's ground truth (executed_log, true_* values, sensors, power).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import pytest
from mesosim import SimConfig, SimDevice

from mesodrive.protocol.endpoint import Endpoint, Undecodable
from mesodrive.protocol.message_base import Message
from mesodrive.protocol.messages import (
    Arm,
    ClockQuery,
    ClockReply,
    CommandReply,
    DeviceState,
    GetShot,
    Heartbeat,
    Home,
    Identify,
    Identity,
    LinkSync,
    LinkSyncReply,
    QueueShot,
    StateEvent,
    StatusQuery,
    StatusReply,
    TriggerMode,
)

M = TypeVar("M", bound=Message)

# A comfortable default shot: 2 mm, 10 µL at 20 µL/s, 50 mm/s, no dwell (~0.56 s).
SHOT_DEFAULTS: dict[str, int] = {
    "depth_um": 2000,
    "volume_nl": 10_000,
    "flow_nl_s": 20_000,
    "speed_um_s": 50_000,
    "dwell_ms": 0,
}


class WireHost:
    """Drive a SimDevice through a real host Endpoint.

    ``step(dt)`` advances simulated time event by event, acknowledging device frames at once
    and (if ``keepalive``) sending a heartbeat every 50 ms so the dead-man stays fed.
    Every decoded device message lands in ``inbox`` as ``(time, message)``.
    """

    HEARTBEAT_S = 0.05

    def __init__(self, config: SimConfig | None = None, **overrides: Any) -> None:
        cfg = config or SimConfig()
        overrides.setdefault("reproducible", True)  # byte-exact replays
        cfg = cfg.replace(**overrides)
        self.dev = SimDevice(cfg)
        self.ep = Endpoint()
        self.t = 0.0
        self.inbox: list[tuple[float, Message | Undecodable]] = []
        self.wire = bytearray()  # every byte the device sent
        self.keepalive = True
        self._next_session = 7
        self.session = 7  # the last armed session (shots default to it)
        self.last_tx = 0.0  # when the host last wrote anything (frames, acks, garbage)
        self._next_hb = 0.0
        self._token = 0
        self._pump()

    # ---- raw plumbing ----------------------------------------------------------------------
    def _pump(self) -> None:
        for _ in range(100):
            data = self.dev.read()
            if data:
                self.wire += data
                for m in self.ep.receive(data, self.t):
                    self.inbox.append((self.t, m))
            out = self.ep.poll(self.t)
            if not out:
                return
            self.last_tx = self.t
            self.dev.write(out)
        raise AssertionError("host and device keep talking without time passing")

    def send(self, msg: Message, *, check: bool = True) -> None:
        out = self.ep.send(msg, check=check) + self.ep.poll(self.t)
        self.last_tx = self.t
        self.dev.write(out)
        self._pump()

    def send_raw(self, data: bytes) -> None:
        self.last_tx = self.t
        self.dev.write(data)
        self._pump()

    def step(self, dt: float) -> None:
        target = self.t + dt
        while True:
            cands = [target]
            w = self.dev.next_wakeup()
            if w is not None:
                cands.append(w)
            d = self.ep.link.next_deadline()
            if d is not None:
                cands.append(d)
            if self.keepalive:
                cands.append(self._next_hb)
            tn = max(min(cands), self.t)
            tn = min(tn, target)
            self.dev.advance_to(tn)
            self.t = tn
            self._pump()
            if self.keepalive and self.t >= self._next_hb:
                self._next_hb = self.t + self.HEARTBEAT_S
                self.send(Heartbeat())
            if self.t >= target:
                return

    def step_until(self, pred: Any, timeout: float, dt: float = 0.001) -> None:
        end = self.t + timeout
        while not pred():
            if self.t >= end:
                raise AssertionError(f"condition not met within {timeout} s")
            self.step(dt)

    # ---- inbox -----------------------------------------------------------------------------
    def msgs(self, cls: type[M]) -> list[M]:
        return [m for _, m in self.inbox if isinstance(m, cls)]

    def timed(self, cls: type[M]) -> Iterator[tuple[float, M]]:
        return ((t, m) for t, m in self.inbox if isinstance(m, cls))

    def clear(self) -> None:
        self.inbox.clear()

    def last(self, cls: type[M]) -> M:
        found = self.msgs(cls)
        assert found, f"no {cls.__name__} received; inbox: {[m for _, m in self.inbox]}"
        return found[-1]

    def replies(self, command: type[Message]) -> list[int]:
        return [m.code for m in self.msgs(CommandReply) if m.command == command.MSG_ID]

    def states(self) -> list[DeviceState]:
        return [DeviceState(m.state) for m in self.msgs(StateEvent)]

    # ---- conversations ---------------------------------------------------------------------
    def token(self) -> int:
        self._token = (self._token + 1) % 65536
        return self._token

    def query(self, cls: type[Message], reply: type[M], **fields: Any) -> M:
        token = self.token()
        if cls is GetShot:
            fields.setdefault("shot_boot", self.nonce)  # about this boot unless told otherwise
        self.send(cls(token=token, **fields))  # type: ignore[call-arg]
        for _, m in reversed(self.inbox):
            if isinstance(m, reply) and getattr(m, "token", None) == token:
                return m
        raise AssertionError(f"no {reply.__name__} for token {token}")

    def status(self) -> StatusReply:
        return self.query(StatusQuery, StatusReply)

    def identity(self) -> Identity:
        return self.query(Identify, Identity)

    def ticks(self) -> int:
        return self.query(ClockQuery, ClockReply).ticks

    def connect(self) -> LinkSyncReply:
        self.send_raw(b"\0")
        reply = self.query(LinkSync, LinkSyncReply)
        self.ep.reset()
        return reply

    @property
    def nonce(self) -> int:
        return self.dev.boot_nonce

    def home(self) -> None:
        self.send(Home())
        self.step(self.dev.config.homing_s + 0.01)
        assert self.dev.state is DeviceState.READY, self.dev.state

    def arm(self, session: int | None = None, telemetry_ms: int = 0) -> None:
        """Arm `session`, or the next fresh id (7, 8, ...): a device arms an id once per boot."""
        if session is None:
            session = self._next_session
        self._next_session = max(self._next_session, session + 1)
        self.session = session
        self.send(Arm(self.nonce, session, telemetry_ms))
        assert self.dev.state is DeviceState.ARMED, (self.dev.state, self.msgs(CommandReply))

    def ready_armed(self, session: int | None = None, telemetry_ms: int = 0) -> None:
        self.connect()
        self.home()
        self.arm(session, telemetry_ms)
        self.clear()

    def enter(self, state: DeviceState) -> None:
        """Bring a freshly connected device into ``state`` (through the wire only)."""
        from mesodrive.protocol.messages import Estop, Prime

        self.connect()
        if state is DeviceState.IDLE:
            pass
        elif state is DeviceState.HOMING:
            self.send(Home())
        elif state is DeviceState.READY:
            self.home()
        elif state is DeviceState.PRIMING:
            self.home()
            self.send(Prime(50_000, 10_000))  # 5 s
        elif state is DeviceState.ARMED:
            self.home()
            self.arm()
        elif state is DeviceState.FIRING:
            self.home()
            self.arm()
            self.send(self.shot(0, lead_s=0.01))
            self.step(0.02)
        elif state is DeviceState.FAULT:
            self.home()
            self.arm()
            self.keepalive = False
            self.step(0.3)  # dead-man trips
            self.keepalive = True
        elif state is DeviceState.ESTOPPED:
            self.send(Estop(self.token()))
        assert self.dev.state is state, (self.dev.state, state)
        self.clear()

    def shot(
        self,
        index: int,
        *,
        session: int | None = None,
        lead_s: float | None = 0.05,
        fire_tick: int | None = None,
        trigger: int = TriggerMode.AT_TICK,
        nonce: int | None = None,
        **params: int,
    ) -> QueueShot:
        """A queue_shot; AT_TICK shots fire ``lead_s`` after the device clock now."""
        p = dict(SHOT_DEFAULTS)
        p.update(params)
        if session is None:
            session = self.session  # the last armed one
        if fire_tick is None:
            fire_tick = self.dev.device_ticks() + int((lead_s or 0.0) * 1e6) if trigger == 0 else 0
        return QueueShot(
            boot_nonce=self.nonce if nonce is None else nonce,
            session=session,
            index=index,
            trigger=trigger,
            fire_tick=fire_tick,
            **p,
        )


@pytest.fixture
def host() -> WireHost:
    return WireHost()


@pytest.fixture
def armed() -> WireHost:
    h = WireHost()
    h.ready_armed()
    return h


@pytest.fixture
def make_host() -> type[WireHost]:
    """The WireHost class itself: ``make_host(shot_faults=((3, "air"),))`` for custom configs."""
    return WireHost
