"""Shot execution (PROTOCOL.md §12.3): from the head of the queue to a shot_result.

A queued shot starts on its fire tick (AT_TICK) or on a trigger (ON_TRIGGER), if the device is
ARMED, idle and the host was heard from recently. It then runs its phases (`phases.Phase`):
contact check, insertion (journalled before the needle moves, §12.5), dispensing, dwell,
retraction, and reports one shot_result. The shot's TRUE physics is drawn up front in a fixed
order, and everything it truly did goes into the truth log (`ExecutedShot`). Also here: the
late-shot deadline, the scheduled device faults that strike inside a shot, and the syringe's
end stop.
"""

from __future__ import annotations

import math

from mesodrive.protocol.messages import (
    DeviceState,
    Fault,
    ShotFlag,
    ShotResult,
    ShotStatus,
    TriggerEvent,
    TriggerMode,
)
from mesosim.firmware.core import LATE_TOLERANCE_TICKS, FirmwareCore, Handler, i32, u16, u32
from mesosim.firmware.phases import ActiveShot, Activity, Phase
from mesosim.physics import expected_pressure_integral
from mesosim.shots import ExecutedShot


class Execution(FirmwareCore):
    """Starting, running, finishing and aborting shots (see the module docstring)."""

    # ---- starting ------------------------------------------------------------------------------
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
                self._safe_state(Fault.LATE_SHOT, i32(now - rec.params.fire_tick))
                return

    def _start_shot(self) -> None:
        cfg = self.config
        if self._silence_forbids_start():
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
        sh = ActiveShot(
            rec=rec,
            q=q,
            log=log,
            start_tick=tick,
            k_true=k_true,
            phase=Phase.INSERT,
            phase_end=move.t_end,
            disp0=line.displaced_nl,
            air0=line.air_out_nl,
            tissue0=line.liquid_out_nl,
            peak_pa=line.p,
        )
        self._active = sh
        line.tissue_r = r_tissue
        self._start_monitoring()

    # ---- the phases ----------------------------------------------------------------------------
    def _on_phase_end(self) -> None:
        sh = self._active
        if sh is None:
            return
        cfg = self.config
        q = sh.q
        if sh.phase is Phase.INSERT:
            sh.reached_dev_um = float(q.depth_um)
            sh.log.true_depth_um = self._true_position(sh.reached_dev_um)
            # Phase 3: dispensing.
            T = q.volume_nl / q.flow_nl_s
            sh.phase = Phase.DISPENSE
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
        elif sh.phase is Phase.DISPENSE:
            self._set_plunger_rate(0.0)
            self._line.set_inflow(0.0)
            sh.encoder_nl = self._travel_nl - sh.travel0
            sh.timers.clear()
            self._check_air(sh)
            sh.phase = Phase.DWELL
            sh.phase_end = self._now + q.dwell_ms / 1000.0
        elif sh.phase is Phase.DWELL:
            # Phase 5: retraction at maximum speed.
            sh.log.true_into_tissue_nl = self._line.liquid_out_nl - sh.tissue0
            self._line.tissue_r = 0.0
            move = self._axis.move_to(
                self._now, -cfg.park_um, float(cfg.speed_max_um_s), cfg.needle_accel_um_s2
            )
            sh.phase = Phase.RETRACT
            sh.phase_end = move.t_end
        else:
            self._finish_shot(sh)

    def _check_air(self, sh: ActiveShot) -> None:
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

    # ---- ending --------------------------------------------------------------------------------
    def _finish_shot(self, sh: ActiveShot) -> None:
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

    def _shot_result(self, sh: ActiveShot, end_time: float) -> ShotResult:
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
            reached_depth_um=u16(reached),
            delivered_nl=u32(delivered),
            peak_pressure_pa=i32(peak),
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

    def _finalize_log(self, sh: ActiveShot, end_time: float | None, power_lost: bool) -> None:
        log = sh.log
        line = self._line
        log.end_time = end_time
        log.power_lost = power_lost
        log.true_delivered_nl = (line.displaced_nl - sh.disp0) - (line.air_out_nl - sh.air0)
        if sh.phase.in_tissue:
            log.true_into_tissue_nl = line.liquid_out_nl - sh.tissue0
            if sh.phase is Phase.INSERT:
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
        if sh.phase is Phase.DISPENSE:
            sh.encoder_nl = self._travel_nl - sh.travel0
        sh.flags |= ShotFlag.ABORTED | flags
        self._finalize_log(sh, end_time=None, power_lost=False)  # truth up to the abort
        self._line.tissue_r = 0.0
        move = self._axis.move_to(
            self._now, -cfg.park_um, float(cfg.speed_max_um_s), cfg.needle_accel_um_s2
        )
        sh.phase = Phase.ABORTED
        self._stop_monitoring()
        self._active = None
        self._send(self._shot_result(sh, end_time=move.t_end))

    def _active_encoder(self) -> float:
        sh = self._active
        if sh is None:
            return 0.0
        if sh.phase is Phase.DISPENSE:
            return self._travel_nl - sh.travel0
        return sh.encoder_nl

    # ---- faults that strike inside a shot ------------------------------------------------------
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
        if self._active is not None or self._activity is Activity.PRIMING:
            # The plunger reached the syringe's end stop: the syringe is empty.
            self._set_plunger_rate(0.0)
            self._remaining_nl = 0.0
            detail = self._active.q.index if self._active is not None else 0
            self._safe_state(Fault.EMPTY_SYRINGE, detail, shot_flags=int(ShotFlag.EMPTY))
