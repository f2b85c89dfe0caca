"""The simulated injector firmware: bytes + simulated time in, bytes out (PROTOCOL.md, device side).

`SimDevice` is a deterministic discrete-event machine. Nothing happens between events: each
``advance_to(t)`` runs every internal event up to ``t`` in time order (shot phase ends,
pressure threshold crossings, the syringe running dry, dead-man and late-shot deadlines,
telemetry, link retransmissions), stepping the physics (`physics.py`) analytically between
them. ``write`` handles host bytes at the current simulated time, at once. The device never
reads the wall clock and owns its random generators (seeded from `SimConfig.seed`), so the same
sequence of ``advance_to``/``write``/sensor calls yields byte-identical output.

What the device *reports* is what its own sensors believe (encoders, a noisy pressure sensor);
the TRUE depth and volume (hidden calibration errors, noise, faults) only appear in
`executed_log`, `true_dispensed_nl` and `true_needle_um`.
"""

from __future__ import annotations

import math
import random
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mesodrive.protocol.codec import decode_message
from mesodrive.protocol.endpoint import Endpoint
from mesodrive.protocol.frame import Frame, FrameError, FrameErrorKind
from mesodrive.protocol.message_base import Channel, Message
from mesodrive.protocol.messages import (
    MESSAGES,
    PROTOCOL_VERSION,
    SCHEMA_HASH,
    TICK_HZ,
    Ack,
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
    Fault,
    FaultEvent,
    FaultNotice,
    GetShot,
    Heartbeat,
    Home,
    Identify,
    Identity,
    LinkSync,
    LinkSyncReply,
    LoadSyringe,
    Mode,
    Prime,
    QueueShot,
    RejectReason,
    Result,
    Sensor,
    ShotAccepted,
    ShotFlag,
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
from mesodrive.protocol.messages import (
    ShotRecord as ShotRecordMsg,
)
from mesosim.config import SimConfig
from mesosim.device_faults import FaultSchedule
from mesosim.nvm import Nvm
from mesosim.physics import Axis, DeviceClock, LineModel, expected_pressure_integral
from mesosim.shots import ExecutedShot, ShotBook, ShotRecord

__all__ = ["ExecutedShot", "SimDevice"]

NO_INDEX = 0xFFFFFFFF
LATE_TOLERANCE_TICKS = 2000  # PROTOCOL.md §12.3: 2 ms
DEADMAN_S = 0.25  # PROTOCOL.md §11
HEARTBEAT_S = 0.1  # PROTOCOL.md §11: no shot starts after a longer host silence
_ARMED_STATES = (DeviceState.ARMED, DeviceState.FIRING)
_IN_TISSUE_PHASES = ("insert", "dispense", "dwell")

Handler = Callable[[], None]


def _u32(x: float) -> int:
    return min(max(round(x), 0), 0xFFFFFFFF)


def _u16(x: float) -> int:
    return min(max(round(x), 0), 0xFFFF)


def _i32(x: float) -> int:
    return min(max(round(x), -(2**31)), 2**31 - 1)


@dataclass
class _ActiveShot:
    """The shot being executed (firmware view plus the links into the truth log)."""

    rec: ShotRecord
    q: QueueShot
    log: ExecutedShot
    start_tick: int
    k_true: float  # TRUE nL pushed per commanded nL (hidden gain/offset and noise)
    phase: str = "insert"  # insert, dispense, dwell, retract
    phase_end: float = math.inf
    reached_dev_um: float = 0.0
    travel0: float = 0.0  # plunger travel (belief) when dispensing began
    encoder_nl: float = 0.0  # plunger travel of this shot (belief)
    p_int0: float = 0.0
    dispense_t0: float = 0.0
    peak_pa: float = 0.0
    flags: int = 0
    air_ratio: float | None = None  # measured/expected pressure integral when AIR was seen
    timers: dict[str, float] = field(default_factory=dict)  # injected fault moments
    disp0: float = 0.0  # line.displaced_nl at start
    air0: float = 0.0  # line.air_out_nl at start
    tissue0: float = 0.0  # line.liquid_out_nl when the needle entered


class SimDevice:
    """The simulated injector. See the module docstring and ``mesosim/README.md``."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = cfg = config or SimConfig()
        seed = cfg.seed
        # Independent streams: host queries (status noise) never perturb shot physics.
        self._rng_phys = random.Random(f"mesosim:{seed}:physics")
        self._rng_sensor = random.Random(f"mesosim:{seed}:sensor")
        self._rng_query = random.Random(f"mesosim:{seed}:query")
        # Boot nonces and clock start values are not derived from the seed: a simulator started
        # again with the same seed is a new boot of the device and must look like one (§14).
        # `reproducible` (byte-exact replays in tests) derives them from the seed instead.
        entropy = f"mesosim:{seed}:nonce" if cfg.reproducible else secrets.randbits(64)
        self._rng_nonce = random.Random(entropy)
        self.nvm = Nvm(cfg.nvm_path or None, enabled=cfg.nvm_journal)
        self._now = 0.0
        self._out = bytearray()
        self.executed_log: list[ExecutedShot] = []
        self._schedule = FaultSchedule(cfg.shot_faults)
        self._shots_started = 0
        # ---- physical state: survives reboots ------------------------------------------------
        self._line = LineModel(
            compliance=cfg.line_compliance_nl_per_pa,
            needle_resistance=cfg.needle_resistance,
            air_factor=cfg.air_viscosity_ratio,
            syringe_nl=cfg.syringe_nl,
        )
        self._axis = Axis(-cfg.park_um)
        self._depth_noise_um = 0.0  # TRUE depth error of the current/last shot beyond offset
        self._external_contact = True
        self._contact_lost_until = -math.inf
        # The plunger has an absolute encoder: the device's belief of syringe content and
        # plunger travel survives a power cycle.
        self._remaining_nl = float(cfg.syringe_nl)
        self._travel_nl = 0.0
        self._plunger_rate = 0.0  # believed nL/s while the plunger moves
        self._plunger_t = 0.0
        self._nl_per_step = 1000.0 / cfg.plunger_steps_per_ul
        # ---- power -------------------------------------------------------------------------
        self._powered = False
        self._boot_at: float | None = None
        self.boot_nonce = self._new_nonce(0)
        self.dropped_seq = 0  # sequenced messages dropped because the link was lost
        self._boot(0.0)

    # =========================================================================================
    # public API
    # =========================================================================================
    @property
    def now(self) -> float:
        """Simulated seconds since the simulator was created."""
        return self._now

    @property
    def state(self) -> DeviceState:
        return self._state if self._powered else DeviceState.BOOT

    @property
    def powered(self) -> bool:
        return self._powered

    @property
    def faults(self) -> int:
        """Active-fault bitmask (bit code-1)."""
        return self._faults if self._powered else 0

    @property
    def true_dispensed_nl(self) -> float:
        """Cumulative liquid that truly left the needle (prime included): what a balance weighs."""
        return self._line.liquid_out_nl

    @property
    def true_needle_um(self) -> float:
        """TRUE needle protrusion past the skin plane now (<= 0: retracted); a depth gauge."""
        return self._true_position(self._axis.position(self._now))

    @property
    def true_pressure_pa(self) -> float:
        return self._line.p

    @property
    def true_syringe_nl(self) -> float:
        """Liquid truly left in the syringe (the device believes `status_reply.remaining_nl`)."""
        return self._line.syringe_nl

    @property
    def contact(self) -> bool:
        return self._contact()

    def device_ticks(self) -> int:
        """The device clock now (offset and drift applied)."""
        if not self._powered:
            return self.config.clock_offset_ticks
        return self._clock.ticks(self._now)

    def write(self, data: bytes) -> None:
        """Host->device bytes arriving at the current simulated time (lost while rebooting)."""
        if not self._powered or not data:
            return
        ep = self._ep
        for frame in ep.deframer.feed(bytes(data)):
            if not self._powered:
                break
            self._last_rx = self._now  # any valid frame feeds the dead-man (§11)
            delivered = ep.link.on_frame(frame, self._now)
            if delivered is not None:
                self._dispatch(delivered)
        self._run_until(self._now)

    def read(self) -> bytes:
        """Drain the device->host bytes produced so far."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def advance_to(self, t: float) -> None:
        """Run the simulation up to simulated time ``t`` (seconds); earlier times are ignored."""
        if t > self._now:
            self._run_until(t)

    def next_wakeup(self) -> float | None:
        """Earliest time something happens without input (None: only on input)."""
        best: float | None = None
        for when, _ in self._candidates():
            if when == math.inf:
                continue
            if best is None or when < best:
                best = when
        if best is not None and best < self._now:
            best = self._now
        return best

    def press_trigger(self) -> None:
        """The pedal is pressed now."""
        if not self._powered:
            return
        self._trigger()
        self._run_until(self._now)

    def set_contact(self, on: bool) -> None:
        """The skin-contact sensor's physical state (true = on the skin)."""
        self._external_contact = bool(on)
        if self._powered:
            self._check_contact()
            self._run_until(self._now)

    def lose_link(self) -> None:
        """The device's own link layer gives up (its frames go unacknowledged, §5.3): nothing
        sequenced leaves it until link_sync, and an armed device goes safe with LINK_LOST."""
        self._ep.link.lost = True
        self._flush()

    def power_cycle(self) -> None:
        """Power loss now; the device boots again `boot_time_s` later with a new nonce.

        Volatile state (link, queue, shot records, session, homing, faults) is lost; the
        needle is retracted by its return spring; syringe and line keep their physical state.
        ``boot_nonce`` already holds the coming boot's nonce.
        """
        self._power_off()
        if self._boot_at is not None and self._boot_at <= self._now:
            self._boot(self._now)
            self._flush()

    # =========================================================================================
    # time and events
    # =========================================================================================
    def _run_until(self, t: float) -> None:
        stuck = 0  # events handled without time moving: a handful is normal, thousands a bug
        while True:
            best: tuple[float, Handler] | None = None
            for cand in self._candidates():
                if best is None or cand[0] < best[0]:
                    best = cand
            if best is None or best[0] > t:
                break
            before = self._now
            self._set_time(max(best[0], self._now))
            best[1]()
            self._flush()
            stuck = stuck + 1 if self._now == before else 0
            if stuck > 10_000:  # pragma: no cover - a bug, not a state
                raise RuntimeError(f"mesosim: event loop stuck at t={self._now!r} ({best[1]!r})")
        self._set_time(t)
        self._flush()

    def _set_time(self, t: float) -> None:
        t = max(t, self._now)
        self._now = t
        self._line.advance(t)
        dt = t - self._plunger_t
        if dt > 0 and self._plunger_rate > 0:
            moved = self._plunger_rate * dt
            self._travel_nl += moved
            self._remaining_nl -= moved
        self._plunger_t = t
        if self._powered and self._active is not None:
            sh = self._active
            sh.peak_pa = max(sh.peak_pa, self._line.p)

    def _candidates(self) -> list[tuple[float, Handler]]:
        """(time, handler) of every pending internal event; ties resolve in list order."""
        c: list[tuple[float, Handler]] = []
        if not self._powered:
            if self._boot_at is not None:
                c.append((self._boot_at, self._on_boot))
            return c
        line = self._line
        if line.hit_end:
            c.append((self._now, self._on_physics))
        b = line.boundary()
        if b is not None:
            c.append((b[0], self._on_physics))
        if self._monitoring:
            thr = self.config.occlusion_threshold_pa
            if self._over_since is None:
                tc = line.crossing_time(thr, upward=True)
                if tc is not None:
                    c.append((tc, self._on_pressure_up))
            else:
                tc = line.crossing_time(thr, upward=False)
                if tc is not None:
                    c.append((tc, self._on_pressure_down))
                c.append((self._over_since + self.config.occlusion_persist_s, self._on_occlusion))
            to = line.crossing_time(self.config.overpressure_pa, upward=True)
            if to is not None:
                c.append((to, self._on_overpressure))
        if self._activity_end is not None:
            c.append((self._activity_end, self._on_activity_end))
        sh = self._active
        if sh is not None:
            c.append((sh.phase_end, self._on_phase_end))
            for name, when in sh.timers.items():
                c.append((when, self._injected_handler(name)))
        if self._queue:
            head = self._queue[0]
            if (
                self._state is DeviceState.ARMED
                and self._active is None
                and not self._disarm_pending
                and head.params.trigger == TriggerMode.AT_TICK
            ):
                c.append((self._clock.time_of(head.params.fire_tick), self._on_fire_time))
            late: float | None = None
            for rec in self._queue:
                if rec.params.trigger == TriggerMode.AT_TICK:
                    when = self._clock.time_of(rec.params.fire_tick + LATE_TOLERANCE_TICKS + 1)
                    if late is None or when < late:
                        late = when
            if late is not None:
                c.append((late, self._on_late))
        if self._state in _ARMED_STATES:
            c.append((self._last_rx + DEADMAN_S, self._on_deadman))
            if self._telemetry_s > 0:
                c.append((self._next_telemetry, self._on_telemetry))
        d = self._ep.link.next_deadline()
        if d is not None:
            c.append((d, self._flush))
        return c

    # =========================================================================================
    # boot and power
    # =========================================================================================
    def _new_nonce(self, previous: int) -> int:
        while True:
            n = self._rng_nonce.getrandbits(32)
            if n != 0 and n != previous:
                return n

    def _boot(self, t: float) -> None:
        """Power-up (PROTOCOL.md §14): fresh link, boot_event, IDLE."""
        self._powered = True
        self._boot_at = None
        start = self.config.clock_offset_ticks
        if not self.config.reproducible:
            start += self._rng_nonce.randrange(2**32)  # about an hour: every boot its own clock
        self._clock = DeviceClock(start, self.config.clock_drift_ppm, t)
        self.nvm.boot(self.boot_nonce)
        self._ep = Endpoint()
        self._state = DeviceState.BOOT
        self._homed = False
        self._faults = 0
        self._session = 0
        self._last_session = 0
        self._used_sessions: set[int] = set()  # armed in this boot: never armed again (§12.4)
        self._telemetry_s = 0.0
        self._next_telemetry = math.inf
        self._disarm_pending = False
        self._queue: deque[ShotRecord] = deque()
        self._book = ShotBook()
        self._active: _ActiveShot | None = None
        self._activity: str | None = None  # "homing" | "priming"
        self._activity_end: float | None = None
        self._last_rx = t
        self._monitoring = False
        self._over_since: float | None = None
        self._link_lost_seen = False
        # A lone delimiter first flushes whatever half frame the host saw before power loss.
        boot_event = self._ep.send(BootEvent(self.boot_nonce), check=False)
        self._out += b"\0" + (b"" if self.config.lose_boot_event else boot_event)
        self._state = DeviceState.IDLE  # boot_event is the report of this change (no state_event)

    def _on_boot(self) -> None:
        self._boot(self._now)

    def _power_off(self) -> None:
        if not self._powered:
            self._boot_at = self._now + self.config.boot_time_s
            return
        sh = self._active
        if sh is not None:
            self._finalize_log(sh, end_time=None, power_lost=True)
            self._active = None
        self._line.set_inflow(0.0)
        self._line.tissue_r = 0.0
        self._set_plunger_rate(0.0)
        self._axis.move_to(
            self._now,
            -self.config.park_um,
            self.config.speed_max_um_s,
            self.config.needle_accel_um_s2,
        )  # return spring
        self._powered = False
        self._boot_at = self._now + self.config.boot_time_s
        self.boot_nonce = self._new_nonce(self.boot_nonce)

    # =========================================================================================
    # output
    # =========================================================================================
    def _send(self, msg: Message) -> None:
        if msg.CHANNEL is Channel.SEQ:
            if self._ep.link.lost:
                self.dropped_seq += 1  # §5.3: nothing sequenced until link_sync
                return
            self._ep.send(msg, check=False)
        else:
            self._out += self._ep.send(msg, check=False)

    def _flush(self) -> None:
        if not self._powered:
            return
        self._out += self._ep.poll(self._now)
        if self._ep.link.lost and not self._link_lost_seen:
            self._link_lost_seen = True
            if self._state in _ARMED_STATES:
                silence = int((self._now - self._last_rx) * 1000)
                self._safe_state(Fault.LINK_LOST, silence)

    def _ticks(self) -> int:
        return self._clock.ticks(self._now)

    def _set_state(self, state: DeviceState) -> None:
        if state is self._state:
            return
        self._state = state
        self._send(StateEvent(int(state), self._ticks(), self._faults & 0xFFFF))

    # =========================================================================================
    # receiving
    # =========================================================================================
    def _dispatch(self, frame: Frame) -> None:
        cls = MESSAGES.get(frame.msg_id)
        # Not a host->device message on its channel: unknown to this device (§6). An e-stop
        # that got through is honoured whatever its flags.
        if (
            cls is None
            or cls.DIRECTION == "device"
            or cls is Ack
            or (cls is not Estop and frame.sequenced != (cls.CHANNEL is Channel.SEQ))
        ):
            self._refuse(frame, Result.UNKNOWN_MESSAGE)
            return
        try:
            msg = decode_message(frame)
        except FrameError as exc:
            code = {
                FrameErrorKind.UNKNOWN_ID: Result.UNKNOWN_MESSAGE,
                FrameErrorKind.BAD_STRING: Result.BAD_STRING,
            }.get(exc.kind, Result.BAD_LENGTH)
            self._refuse(frame, code)
            return
        if isinstance(msg, Estop):
            self._on_estop(msg)
            return
        handler = self._handlers.get(type(msg))
        if handler is None:  # pragma: no cover - every host message has a handler
            self._refuse(frame, Result.UNKNOWN_MESSAGE)
            return
        handler(self, msg)

    def _refuse(self, frame: Frame, code: Result) -> None:
        if frame.sequenced:
            self._send(CommandReply(frame.msg_id, int(code)))
        else:
            self._send(ErrorReply(frame.msg_id, int(code)))

    def _reply(self, msg: Message, code: Result) -> None:
        self._send(CommandReply(msg.MSG_ID, int(code)))

    # ---- queries (unsequenced, every state) -----------------------------------------------
    def _on_link_sync(self, msg: LinkSync) -> None:
        self._ep.reset()
        self._link_lost_seen = False
        self._send(LinkSyncReply(msg.token, self.boot_nonce))

    def _on_identify(self, msg: Identify) -> None:
        cfg = self.config
        sensors = Sensor.PRESSURE | Sensor.PLUNGER_ENCODER | Sensor.TRIGGER_PEDAL
        if cfg.contact_sensor:
            sensors |= Sensor.CONTACT
        modes = (Mode.TIMED if cfg.timed_mode else 0) | (
            Mode.TRIGGERED if cfg.triggered_mode else 0
        )
        self._send(
            Identity(
                token=msg.token,
                protocol_version=PROTOCOL_VERSION,
                schema_hash=SCHEMA_HASH,
                serial=cfg.serial,
                firmware=cfg.firmware,
                boot_nonce=self.boot_nonce,
                tick_hz=TICK_HZ,
                depth_min_um=cfg.depth_min_um,
                depth_max_um=cfg.depth_max_um,
                volume_min_nl=cfg.volume_min_nl,
                volume_max_nl=cfg.volume_max_nl,
                flow_min_nl_s=cfg.flow_min_nl_s,
                flow_max_nl_s=cfg.flow_max_nl_s,
                speed_min_um_s=cfg.speed_min_um_s,
                speed_max_um_s=cfg.speed_max_um_s,
                dwell_max_ms=cfg.dwell_max_ms,
                syringe_nl=cfg.syringe_nl,
                sensors=int(sensors),
                modes=int(modes),
                queue_len=cfg.queue_len,
                horizon_ms=cfg.horizon_ms,
                accel_um_s2=round(cfg.needle_accel_um_s2),
                retract_um_s=cfg.speed_max_um_s,
                park_um=round(cfg.park_um),
            )
        )

    def _on_clock_query(self, msg: ClockQuery) -> None:
        self._send(ClockReply(msg.token, self.boot_nonce, self._ticks()))

    def _on_status_query(self, msg: StatusQuery) -> None:
        self._send(self._status(msg.token))

    def _status(self, token: int) -> StatusReply:
        session = self._last_session
        last = self._book.last_started.get(session, NO_INDEX) if session else NO_INDEX
        return StatusReply(
            token=token,
            boot_nonce=self.boot_nonce,
            state=int(self._state),
            ticks=self._ticks(),
            needle_um=_i32(self._axis.position(self._now)),
            plunger_nl=_u32(self._travel_nl),
            remaining_nl=_u32(self._remaining_nl),
            pressure_pa=_i32(self._measure_pressure(self._rng_query)),
            contact=int(self._contact()),
            homed=int(self._homed),
            faults=self._faults & 0xFFFF,
            session=self._session,
            last_index=last,
            queued=min(len(self._queue), 255),
        )

    def _on_get_shot(self, msg: GetShot) -> None:
        status, start_tick, res = self._shot_status(msg.shot_boot, msg.session, msg.index)
        self._send(
            ShotRecordMsg(
                token=msg.token,
                boot_nonce=self.boot_nonce,
                shot_boot=msg.shot_boot,
                session=msg.session,
                index=msg.index,
                status=int(status),
                start_tick=start_tick,
                reached_depth_um=res.get("reached_depth_um", 0),
                delivered_nl=res.get("delivered_nl", 0),
                peak_pressure_pa=res.get("peak_pressure_pa", 0),
                flags=res.get("flags", 0),
            )
        )

    def _shot_status(self, boot: int, session: int, index: int) -> tuple[ShotStatus, int, dict[str, int]]:
        """What this device knows of (boot, session, index) — §12.5's answers."""
        if boot == self.boot_nonce:
            rec = self._book.get(session, index)
            if rec is not None:
                res = rec.result
                fields = {} if res is None else {
                    "reached_depth_um": res.reached_depth_um, "delivered_nl": res.delivered_nl,
                    "peak_pressure_pa": res.peak_pressure_pa, "flags": res.flags}
                return rec.status, rec.start_tick, fields
            # Every record of this boot is kept unless evicted: no record, nothing evicted at or
            # above it -> the device never received it (so far: the host checks the link).
            if self._book.complete_above(session, index):
                return ShotStatus.NEVER_RAN, 0, {}
            return ShotStatus.UNKNOWN, 0, {}
        if not self.nvm.covers(boot):
            return ShotStatus.UNKNOWN, 0, {}
        kept = self.nvm.shot(boot, session, index)
        if kept is None:  # that boot ended, emptying its queue, before this shot moved
            return ShotStatus.NEVER_RAN, 0, {}
        if kept.result is None:  # power was lost while it executed
            return ShotStatus.INTERRUPTED, kept.start_tick, {}
        return ShotStatus.DONE, kept.start_tick, kept.result

    def _on_heartbeat(self, msg: Heartbeat) -> None:
        pass  # feeding the dead-man happened on receipt of the frame

    def _on_estop(self, msg: Estop) -> None:
        if self._state is not DeviceState.ESTOPPED:
            self._safe_state(Fault.ESTOP, 0, target=DeviceState.ESTOPPED)
        self._send(self._status(msg.token))

    # ---- commands (sequenced) ----------------------------------------------------------------
    def _refused_by_state(self, msg: Message) -> bool:
        """ESTOPPED / FAULT refusals shared by most commands (§7; FAULT_ACTIVE in FAULT)."""
        if self._state is DeviceState.ESTOPPED:
            self._reply(msg, Result.ESTOPPED)
            return True
        if self._state is DeviceState.FAULT:
            self._reply(msg, Result.FAULT_ACTIVE)
            return True
        return False

    def _on_home(self, msg: Home) -> None:
        if self._refused_by_state(msg):
            return
        if self._state not in (DeviceState.IDLE, DeviceState.READY):
            self._reply(msg, Result.ILLEGAL_STATE)
            return
        self._reply(msg, Result.OK)
        self._homed = False
        self._activity = "homing"
        self._activity_end = self._now + self.config.homing_s
        self._set_state(DeviceState.HOMING)

    def _on_prime(self, msg: Prime) -> None:
        cfg = self.config
        if self._refused_by_state(msg):
            return
        if self._state is DeviceState.IDLE:
            self._reply(msg, Result.NOT_HOMED)
            return
        if self._state is not DeviceState.READY:
            self._reply(msg, Result.ILLEGAL_STATE)
            return
        if not (
            1 <= msg.volume_nl <= 1_000_000
            and cfg.flow_min_nl_s <= msg.flow_nl_s <= cfg.flow_max_nl_s
        ):
            self._reply(msg, Result.OUT_OF_RANGE)
            return
        if self._remaining_nl < msg.volume_nl:
            self._reply(msg, Result.NO_SYRINGE)
            return
        self._reply(msg, Result.OK)
        k = self._true_volume_factor(msg.volume_nl)
        self._line.tissue_r = 0.0
        self._line.set_inflow(msg.flow_nl_s * k)
        self._set_plunger_rate(float(msg.flow_nl_s))
        self._activity = "priming"
        self._activity_end = self._now + msg.volume_nl / msg.flow_nl_s
        self._start_monitoring()
        self._set_state(DeviceState.PRIMING)

    def _on_arm(self, msg: Arm) -> None:
        if self._refused_by_state(msg):
            return
        if msg.boot_nonce != self.boot_nonce:
            self._reply(msg, Result.STALE_NONCE)
            return
        if self._state is DeviceState.IDLE:
            self._reply(msg, Result.NOT_HOMED)
            return
        if self._state is not DeviceState.READY:
            self._reply(msg, Result.ILLEGAL_STATE)
            return
        if msg.session == 0:
            self._reply(msg, Result.OUT_OF_RANGE)
            return
        if msg.session in self._used_sessions:
            self._reply(msg, Result.SESSION_USED)
            return
        self._used_sessions.add(msg.session)
        self._reply(msg, Result.OK)
        self._session = self._last_session = msg.session
        self._disarm_pending = False
        period_ms = msg.telemetry_ms
        if period_ms:
            period_ms = max(period_ms, self.config.min_telemetry_ms)
        self._telemetry_s = period_ms / 1000.0
        self._next_telemetry = self._now + self._telemetry_s if period_ms else math.inf
        self._last_rx = self._now
        self._set_state(DeviceState.ARMED)

    def _on_disarm(self, msg: Disarm) -> None:
        if self._refused_by_state(msg):
            return
        if self._state not in _ARMED_STATES:
            self._reply(msg, Result.ILLEGAL_STATE)
            return
        self._reply(msg, Result.OK)
        self._cancel_queue()
        if self._active is None:
            self._end_session()
            self._set_state(DeviceState.READY)
        else:
            self._disarm_pending = True

    def _on_cancel_queue(self, msg: CancelQueue) -> None:
        if self._state is DeviceState.ESTOPPED:
            self._reply(msg, Result.ESTOPPED)
            return
        self._cancel_queue()
        self._reply(msg, Result.OK)

    def _on_clear_fault(self, msg: ClearFault) -> None:
        self._reply(msg, Result.OK)
        if self._state not in (DeviceState.FAULT, DeviceState.ESTOPPED):
            return
        self._faults = 0
        self._homed = False
        # The operator fixed what was wrong: new needle, device back on the skin.
        self._line.occlusion = 1.0
        self._contact_lost_until = -math.inf
        self._set_state(DeviceState.IDLE)

    def _on_soft_trigger(self, msg: SoftTrigger) -> None:
        if self._refused_by_state(msg):
            return
        if self._state not in _ARMED_STATES:
            self._reply(msg, Result.ILLEGAL_STATE)
            return
        self._reply(msg, Result.OK)
        self._trigger()

    def _on_load_syringe(self, msg: LoadSyringe) -> None:
        if self._state is DeviceState.ESTOPPED:
            self._reply(msg, Result.ESTOPPED)
            return
        if self._state not in (DeviceState.IDLE, DeviceState.READY, DeviceState.FAULT):
            self._reply(msg, Result.ILLEGAL_STATE)
            return
        if not 1 <= msg.volume_nl <= self.config.syringe_nl:
            self._reply(msg, Result.OUT_OF_RANGE)
            return
        self._reply(msg, Result.OK)
        self._remaining_nl = float(msg.volume_nl)
        self._travel_nl = 0.0
        self._line.syringe_nl = float(msg.volume_nl)
        self._line.hit_end = False
        self._line.air_nl += self.config.reload_air_nl  # air at the new connection: prime it out

    # ---- queue_shot (§12.2) -----------------------------------------------------------------
    def _on_queue_shot(self, q: QueueShot) -> None:
        rec = self._book.get(q.session, q.index)
        if rec is not None:  # 1. repeat: never a second execution
            if not rec.same_params(q):
                self._send(ShotRejected(q.session, q.index, int(RejectReason.PARAMS_MISMATCH)))
            elif rec.status in (ShotStatus.QUEUED, ShotStatus.EXECUTING):
                self._send(ShotAccepted(q.session, q.index))
            elif rec.status is ShotStatus.DONE:
                self._send(ShotAccepted(q.session, q.index))
                if rec.result is not None:
                    self._send(rec.result)
            elif rec.status is ShotStatus.CANCELLED:
                self._send(ShotRejected(q.session, q.index, int(RejectReason.CANCELLED)))
            else:
                self._send(ShotRejected(q.session, q.index, int(rec.reason)))
            return
        reason = self._check_shot(q)
        if reason is not RejectReason.NONE:
            self._book.add(ShotRecord(q, ShotStatus.REJECTED, reason))
            self._send(ShotRejected(q.session, q.index, int(reason)))
            if reason is RejectReason.TOO_LATE:  # the host's timing failed: safe state
                self._safe_state(Fault.LATE_SHOT, _i32(self._ticks() - q.fire_tick))
            return
        rec = ShotRecord(q, ShotStatus.QUEUED)
        self._book.add(rec)
        self._queue.append(rec)
        self._send(ShotAccepted(q.session, q.index))

    def _check_shot(self, q: QueueShot) -> RejectReason:
        cfg = self.config
        state = self._state
        if state is DeviceState.ESTOPPED:
            return RejectReason.ESTOPPED
        if state is DeviceState.FAULT:
            return RejectReason.FAULT_ACTIVE
        if state not in _ARMED_STATES or self._disarm_pending:
            return RejectReason.NOT_ARMED
        if q.boot_nonce != self.boot_nonce:
            return RejectReason.STALE_NONCE
        if q.session != self._session:
            return RejectReason.WRONG_SESSION
        top = self._book.max_index.get(q.session)
        if q.index >= NO_INDEX or (top is not None and q.index <= top):
            return RejectReason.INDEX_ORDER
        if not (
            (q.trigger == TriggerMode.AT_TICK and cfg.timed_mode)
            or (q.trigger == TriggerMode.ON_TRIGGER and cfg.triggered_mode)
        ):
            return RejectReason.BAD_TRIGGER_MODE
        if not cfg.depth_min_um <= q.depth_um <= cfg.depth_max_um:
            return RejectReason.DEPTH_OUT_OF_RANGE
        if not cfg.volume_min_nl <= q.volume_nl <= cfg.volume_max_nl:
            return RejectReason.VOLUME_OUT_OF_RANGE
        if not cfg.flow_min_nl_s <= q.flow_nl_s <= cfg.flow_max_nl_s:
            return RejectReason.FLOW_OUT_OF_RANGE
        if not cfg.speed_min_um_s <= q.speed_um_s <= cfg.speed_max_um_s:
            return RejectReason.SPEED_OUT_OF_RANGE
        if q.dwell_ms > cfg.dwell_max_ms:
            return RejectReason.DWELL_OUT_OF_RANGE
        if len(self._queue) >= cfg.queue_len:
            return RejectReason.QUEUE_FULL
        committed = float(sum(r.params.volume_nl for r in self._queue))
        if self._active is not None:
            committed += max(0.0, self._active.q.volume_nl - self._active_encoder())
        if self._remaining_nl - committed < q.volume_nl:
            return RejectReason.INSUFFICIENT_VOLUME
        if q.trigger == TriggerMode.AT_TICK:
            now = self._ticks()
            if q.fire_tick <= now:
                return RejectReason.TOO_LATE
            if q.fire_tick > now + cfg.horizon_ms * (TICK_HZ // 1000):
                return RejectReason.BEYOND_HORIZON
        return RejectReason.NONE

    _handlers: ClassVar[dict[type, Callable[[SimDevice, Any], None]]] = {}

    # =========================================================================================
    # shot execution (§12.3)
    # =========================================================================================
    def _trigger(self) -> None:
        self._send(TriggerEvent(self._ticks()))
        if (
            self._state is DeviceState.ARMED
            and self._active is None
            and not self._disarm_pending
            and self._queue
            and self._queue[0].params.trigger == TriggerMode.ON_TRIGGER
        ):
            self._start_shot()

    def _on_fire_time(self) -> None:
        if (
            self._state is DeviceState.ARMED
            and self._active is None
            and self._queue
            and self._queue[0].params.trigger == TriggerMode.AT_TICK
        ):
            self._start_shot()

    def _on_late(self) -> None:
        now = self._ticks()
        for rec in self._queue:
            if (
                rec.params.trigger == TriggerMode.AT_TICK
                and now > rec.params.fire_tick + LATE_TOLERANCE_TICKS
            ):
                self._safe_state(Fault.LATE_SHOT, _i32(now - rec.params.fire_tick))
                return

    def _start_shot(self) -> None:
        cfg = self.config
        silence = self._now - self._last_rx
        if silence > HEARTBEAT_S:
            # The host missed its heartbeat (§11): it may be frozen, so nothing new may start.
            # The dead-man would trip anyway; going safe now means no needle moves meanwhile.
            self._safe_state(Fault.LINK_LOST, round(silence * 1000))
            return
        rec = self._queue.popleft()
        q = rec.params
        self._shots_started += 1
        kinds = tuple(self._schedule.kinds_for(self._shots_started))
        tick = self._ticks()
        rec.status = ShotStatus.EXECUTING
        rec.start_tick = tick
        self._book.last_started[q.session] = q.index
        self._set_state(DeviceState.FIRING)
        # The shot's TRUE physics, drawn up front (fixed draw order -> reproducible).
        rng = self._rng_phys
        k_true = self._true_volume_factor(q.volume_nl)
        r_tissue = cfg.tissue_resistance * math.exp(rng.gauss(0.0, cfg.tissue_resistance_sigma))
        self._depth_noise_um = rng.gauss(0.0, cfg.depth_noise_um)
        line = self._line
        if "occlusion" in kinds:
            line.occlusion = cfg.occlusion_factor
        if "air" in kinds:
            line.air_nl += cfg.air_bubble_fraction * q.volume_nl
        if "empty" in kinds:
            line.syringe_nl = min(line.syringe_nl, 0.5 * k_true * q.volume_nl)
        # Phase 1: contact check, before the needle moves.
        if cfg.contact_sensor and not self._contact():
            flags = int(ShotFlag.ABORTED | ShotFlag.NOT_STARTED | ShotFlag.CONTACT_LOST
                        | ShotFlag.UNDER_DELIVERED)
            rec.status = ShotStatus.DONE
            rec.result = ShotResult(q.session, q.index, tick, tick, 0, 0, 0, flags)
            self._send(rec.result)
            self._safe_state(Fault.CONTACT_LOST, q.index)
            return
        # Phase 2: insertion. Journalled before the needle moves (§12.5).
        self.nvm.start(self.boot_nonce, q.session, q.index, tick)
        move = self._axis.move_to(
            self._now, float(q.depth_um), float(q.speed_um_s), cfg.needle_accel_um_s2
        )
        log = ExecutedShot(
            boot_nonce=self.boot_nonce,
            session=q.session,
            index=q.index,
            trigger=q.trigger,
            start_tick=tick,
            start_time=self._now,
            depth_um=q.depth_um,
            volume_nl=q.volume_nl,
            flow_nl_s=q.flow_nl_s,
            speed_um_s=q.speed_um_s,
            dwell_ms=q.dwell_ms,
            injected=kinds,
        )
        self.executed_log.append(log)
        sh = _ActiveShot(
            rec=rec,
            q=q,
            log=log,
            start_tick=tick,
            k_true=k_true,
            phase="insert",
            phase_end=move.t_end,
            disp0=line.displaced_nl,
            air0=line.air_out_nl,
            tissue0=line.liquid_out_nl,
            peak_pa=line.p,
        )
        self._active = sh
        line.tissue_r = r_tissue
        self._start_monitoring()

    def _on_phase_end(self) -> None:
        sh = self._active
        if sh is None:
            return
        cfg = self.config
        q = sh.q
        if sh.phase == "insert":
            sh.reached_dev_um = float(q.depth_um)
            sh.log.true_depth_um = self._true_position(sh.reached_dev_um)
            # Phase 3: dispensing.
            T = q.volume_nl / q.flow_nl_s
            sh.phase = "dispense"
            sh.phase_end = self._now + T
            sh.dispense_t0 = self._now
            sh.travel0 = self._travel_nl
            sh.p_int0 = self._line.p_integral
            self._set_plunger_rate(float(q.flow_nl_s))
            self._line.set_inflow(q.flow_nl_s * sh.k_true)
            kinds = sh.log.injected
            if "stall" in kinds:
                sh.timers["stall"] = self._now + cfg.stall_at_fraction * T
            if "contact_lost" in kinds:
                sh.timers["contact_lost"] = self._now + 0.5 * T
            if "reboot" in kinds:
                sh.timers["reboot"] = self._now + 0.5 * T
        elif sh.phase == "dispense":
            self._set_plunger_rate(0.0)
            self._line.set_inflow(0.0)
            sh.encoder_nl = self._travel_nl - sh.travel0
            sh.timers.clear()
            self._check_air(sh)
            sh.phase = "dwell"
            sh.phase_end = self._now + q.dwell_ms / 1000.0
        elif sh.phase == "dwell":
            # Phase 5: retraction at maximum speed.
            sh.log.true_into_tissue_nl = self._line.liquid_out_nl - sh.tissue0
            self._line.tissue_r = 0.0
            move = self._axis.move_to(
                self._now, -cfg.park_um, float(cfg.speed_max_um_s), cfg.needle_accel_um_s2
            )
            sh.phase = "retract"
            sh.phase_end = move.t_end
        else:
            self._finish_shot(sh)

    def _check_air(self, sh: _ActiveShot) -> None:
        """Plunger encoder vs pressure: a bubble shows as too little pressure for the flow."""
        cfg = self.config
        q = sh.q
        T = q.volume_nl / q.flow_nl_s
        expected = expected_pressure_integral(
            float(q.flow_nl_s),
            cfg.needle_resistance + cfg.tissue_resistance,
            cfg.line_compliance_nl_per_pa,
            T,
        )
        if expected <= 0:
            return
        measured = (self._line.p_integral - sh.p_int0) * (1.0 + self._rng_sensor.gauss(0.0, 0.01))
        ratio = measured / expected
        if ratio < cfg.air_ratio_threshold:
            sh.air_ratio = max(0.0, ratio)
            sh.flags |= ShotFlag.AIR | ShotFlag.UNDER_DELIVERED

    def _finish_shot(self, sh: _ActiveShot) -> None:
        self._stop_monitoring()
        self._active = None
        result = self._shot_result(sh, end_time=self._now)
        self._send(result)
        if sh.flags & ShotFlag.AIR:  # reported after the shot (§12.3)
            self._safe_state(Fault.AIR, sh.q.index)
            return
        if self._disarm_pending:
            self._end_session()
            self._set_state(DeviceState.READY)
        else:
            self._set_state(DeviceState.ARMED)

    def _shot_result(self, sh: _ActiveShot, end_time: float) -> ShotResult:
        """Build, store and log the shot's result (the caller sends it)."""
        cfg = self.config
        q = sh.q
        delivered = round(sh.encoder_nl / self._nl_per_step) * self._nl_per_step
        if sh.air_ratio is not None:
            delivered *= min(1.0, sh.air_ratio)
        if delivered < q.volume_nl - self._nl_per_step / 2:
            sh.flags |= ShotFlag.UNDER_DELIVERED
        reached = sh.reached_dev_um + self._rng_sensor.gauss(0.0, cfg.depth_encoder_noise_um)
        if sh.reached_dev_um <= 0:
            reached = 0.0
        peak = sh.peak_pa + self._rng_sensor.gauss(0.0, cfg.pressure_noise_pa)
        end_tick = self._clock.ticks(end_time)
        result = ShotResult(
            session=q.session,
            index=q.index,
            start_tick=sh.start_tick,
            end_tick=end_tick,
            reached_depth_um=_u16(reached),
            delivered_nl=_u32(delivered),
            peak_pressure_pa=_i32(peak),
            flags=int(sh.flags) & 0xFFFF,
        )
        sh.rec.status = ShotStatus.DONE
        sh.rec.result = result
        self.nvm.end(self.boot_nonce, q.session, q.index, {
            "end_tick": end_tick, "reached_depth_um": result.reached_depth_um,
            "delivered_nl": result.delivered_nl, "peak_pressure_pa": result.peak_pressure_pa,
            "flags": result.flags})
        log = sh.log
        log.end_tick = end_tick
        log.reported_depth_um = result.reached_depth_um
        log.reported_delivered_nl = result.delivered_nl
        log.peak_pressure_pa = result.peak_pressure_pa
        log.flags = result.flags
        self._finalize_log(sh, end_time=end_time, power_lost=False)
        return result

    def _finalize_log(self, sh: _ActiveShot, end_time: float | None, power_lost: bool) -> None:
        log = sh.log
        line = self._line
        log.end_time = end_time
        log.power_lost = power_lost
        log.true_delivered_nl = (line.displaced_nl - sh.disp0) - (line.air_out_nl - sh.air0)
        if sh.phase in _IN_TISSUE_PHASES:
            log.true_into_tissue_nl = line.liquid_out_nl - sh.tissue0
            if sh.phase == "insert":
                reached = self._axis.position(self._now)
                sh.reached_dev_um = max(0.0, reached)
                log.true_depth_um = max(0.0, self._true_position(reached))

    def _abort_shot(self, flags: int) -> None:
        """Safe state for the shot in progress: plunger stops, needle retracts, result sent."""
        sh = self._active
        if sh is None:
            return
        cfg = self.config
        self._set_plunger_rate(0.0)
        self._line.set_inflow(0.0)
        if sh.phase == "dispense":
            sh.encoder_nl = self._travel_nl - sh.travel0
        sh.flags |= ShotFlag.ABORTED | flags
        self._finalize_log(sh, end_time=None, power_lost=False)  # truth up to the abort
        self._line.tissue_r = 0.0
        move = self._axis.move_to(
            self._now, -cfg.park_um, float(cfg.speed_max_um_s), cfg.needle_accel_um_s2
        )
        sh.phase = "aborted"
        self._stop_monitoring()
        self._active = None
        self._send(self._shot_result(sh, end_time=move.t_end))

    def _active_encoder(self) -> float:
        sh = self._active
        if sh is None:
            return 0.0
        if sh.phase == "dispense":
            return self._travel_nl - sh.travel0
        return sh.encoder_nl

    # ---- injected faults ---------------------------------------------------------------------
    def _injected_handler(self, name: str) -> Handler:
        return lambda: self._on_injected(name)

    def _on_injected(self, name: str) -> None:
        sh = self._active
        if sh is None:
            return
        sh.timers.pop(name, None)
        cfg = self.config
        if name == "stall":
            self._set_plunger_rate(0.0)  # the encoder stops with the motor...
            self._line.set_inflow(0.0)
            sh.phase_end = math.inf  # ...and the firmware waits for it
            sh.timers["stall_detect"] = self._now + cfg.stall_detect_s
        elif name == "stall_detect":
            self._safe_state(Fault.STALL, sh.q.index, shot_flags=int(ShotFlag.STALL))
        elif name == "contact_lost":
            self._contact_lost_until = self._now + cfg.contact_loss_s
            self._check_contact()
        elif name == "reboot":
            self._power_off()

    def _on_physics(self) -> None:
        line = self._line
        if not line.hit_end:
            return
        line.hit_end = False
        if self._active is not None or self._activity == "priming":
            # The plunger reached the syringe's end stop: the syringe is empty.
            self._set_plunger_rate(0.0)
            self._remaining_nl = 0.0
            detail = self._active.q.index if self._active is not None else 0
            self._safe_state(Fault.EMPTY_SYRINGE, detail, shot_flags=int(ShotFlag.EMPTY))

    # ---- pressure monitoring -----------------------------------------------------------------
    def _start_monitoring(self) -> None:
        self._monitoring = True
        self._over_since = self._now if self._line.p > self.config.occlusion_threshold_pa else None

    def _stop_monitoring(self) -> None:
        self._monitoring = False
        self._over_since = None

    def _on_pressure_up(self) -> None:
        if self._over_since is None:
            self._over_since = self._now

    def _on_pressure_down(self) -> None:
        self._over_since = None

    def _on_occlusion(self) -> None:
        self._safe_state(Fault.OCCLUSION, _i32(self._line.p), shot_flags=int(ShotFlag.OCCLUSION))

    def _on_overpressure(self) -> None:
        self._safe_state(Fault.OVERPRESSURE, _i32(self._line.p), shot_flags=int(ShotFlag.OCCLUSION))

    # ---- other timers ------------------------------------------------------------------------
    def _on_activity_end(self) -> None:
        activity = self._activity
        self._activity = None
        self._activity_end = None
        if activity == "homing":
            self._axis.set(-self.config.park_um)
            self._homed = True
            self._set_state(DeviceState.READY)
        elif activity == "priming":
            self._set_plunger_rate(0.0)
            self._line.set_inflow(0.0)
            self._stop_monitoring()
            self._set_state(DeviceState.READY)

    def _on_deadman(self) -> None:
        silence_ms = round((self._now - self._last_rx) * 1000)
        self._safe_state(Fault.LINK_LOST, silence_ms)

    def _on_telemetry(self) -> None:
        self._send(
            Telemetry(
                tick=self._ticks(),
                state=int(self._state),
                needle_um=_i32(self._axis.position(self._now)),
                pressure_pa=_i32(self._measure_pressure(self._rng_query)),
                remaining_nl=_u32(self._remaining_nl),
                contact=int(self._contact()),
            )
        )
        self._next_telemetry += self._telemetry_s
        if self._next_telemetry <= self._now:
            self._next_telemetry = self._now + self._telemetry_s

    # =========================================================================================
    # safe state (§10)
    # =========================================================================================
    def _safe_state(
        self,
        code: Fault,
        detail: int,
        *,
        target: DeviceState = DeviceState.FAULT,
        shot_flags: int = 0,
    ) -> None:
        """Plunger stopped, needle retracted, queue cancelled, shot aborted; then FAULT/ESTOPPED."""
        if self._active is not None:
            self._abort_shot(shot_flags)
        if self._activity is not None:
            if self._activity == "homing":
                self._homed = False
            self._activity = None
            self._activity_end = None
        self._set_plunger_rate(0.0)
        self._line.set_inflow(0.0)
        self._line.hit_end = False
        self._stop_monitoring()
        if self._axis.position(self._now) > -self.config.park_um and not self._axis.moving(
            self._now
        ):
            self._axis.move_to(
                self._now,
                -self.config.park_um,
                float(self.config.speed_max_um_s),
                self.config.needle_accel_um_s2,
            )
        self._cancel_queue()
        if self._state in _ARMED_STATES:
            self._end_session()
        self._faults |= 1 << (int(code) - 1)
        self._send(FaultEvent(int(code), self._ticks(), _i32(detail)))
        self._set_state(target)
        # Also as a datagram: it reaches the host even when the sequenced stream cannot (§10).
        self._send(FaultNotice(self.boot_nonce, int(target), self._faults & 0xFFFF, int(code),
                               self._ticks(), _i32(detail)))

    def _cancel_queue(self) -> None:
        for rec in self._queue:
            rec.status = ShotStatus.CANCELLED
        self._queue.clear()

    def _end_session(self) -> None:
        self._session = 0
        self._disarm_pending = False
        self._telemetry_s = 0.0
        self._next_telemetry = math.inf

    # =========================================================================================
    # sensors and helpers
    # =========================================================================================
    def _contact(self) -> bool:
        return self._external_contact and self._now >= self._contact_lost_until

    def _check_contact(self) -> None:
        sh = self._active
        if (
            sh is not None
            and self.config.contact_sensor
            and sh.phase in _IN_TISSUE_PHASES
            and not self._contact()
        ):
            self._safe_state(Fault.CONTACT_LOST, sh.q.index, shot_flags=int(ShotFlag.CONTACT_LOST))

    def _measure_pressure(self, rng: random.Random) -> float:
        return self._line.p + rng.gauss(0.0, self.config.pressure_noise_pa)

    def _true_position(self, device_um: float) -> float:
        cfg = self.config
        return device_um * cfg.depth_scale + cfg.depth_offset_um + self._depth_noise_um

    def _true_volume_factor(self, commanded_nl: int) -> float:
        """TRUE nL pushed per commanded nL for one actuation: gain + offset/V, with noise."""
        cfg = self.config
        k = max(0.0, cfg.volume_gain + cfg.volume_offset_nl / commanded_nl)
        return k * max(0.0, 1.0 + self._rng_phys.gauss(0.0, cfg.volume_cv))

    def _set_plunger_rate(self, rate: float) -> None:
        self._set_time(self._now)  # settle the belief up to now first
        self._plunger_rate = rate


SimDevice._handlers = {
    LinkSync: SimDevice._on_link_sync,
    Identify: SimDevice._on_identify,
    ClockQuery: SimDevice._on_clock_query,
    StatusQuery: SimDevice._on_status_query,
    GetShot: SimDevice._on_get_shot,
    Heartbeat: SimDevice._on_heartbeat,
    Home: SimDevice._on_home,
    Prime: SimDevice._on_prime,
    Arm: SimDevice._on_arm,
    Disarm: SimDevice._on_disarm,
    QueueShot: SimDevice._on_queue_shot,
    CancelQueue: SimDevice._on_cancel_queue,
    ClearFault: SimDevice._on_clear_fault,
    SoftTrigger: SimDevice._on_soft_trigger,
    LoadSyringe: SimDevice._on_load_syringe,
}
