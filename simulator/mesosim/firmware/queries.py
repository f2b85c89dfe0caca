"""Queries (PROTOCOL.md §7, §12.5): unsequenced, answered in every state, changing nothing.

link_sync, identify, clock_query, status_query, get_shot (what the device knows of a shot of
this boot or, through the non-volatile journal, of an earlier one), heartbeat (whose only
effect, feeding the dead-man, happened on receipt of the frame) and estop, which is no query
but shares their channel and is honoured in every state.
"""

from __future__ import annotations

from mesodrive.protocol.messages import (
    PROTOCOL_VERSION,
    SCHEMA_HASH,
    TICK_HZ,
    ClockQuery,
    ClockReply,
    DeviceState,
    Estop,
    Fault,
    GetShot,
    Heartbeat,
    Identify,
    Identity,
    LinkSync,
    LinkSyncReply,
    Mode,
    Sensor,
    ShotStatus,
    StatusQuery,
    StatusReply,
)
from mesodrive.protocol.messages import (
    ShotRecord as ShotRecordMsg,
)
from mesosim.firmware.core import NO_INDEX, FirmwareCore, i32, u32


class Queries(FirmwareCore):
    """Handlers of the unsequenced host messages."""

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
            needle_um=i32(self._axis.position(self._now)),
            plunger_nl=u32(self._travel_nl),
            remaining_nl=u32(self._remaining_nl),
            pressure_pa=i32(self._measure_pressure(self._rng_query)),
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
