"""Safety monitors and the safe state (PROTOCOL.md §10, §11, §12.3).

- **Dead-man** (§11): armed, the device needs a valid host frame at least every 250 ms, else
  LINK_LOST. Its timer is `_last_rx + DEADMAN_S` (fed by `SimDevice.write`).
- **No start after silence** (§11): a shot does not start after more than 100 ms without a
  host frame (the host may be frozen): LINK_LOST at once, before the needle moves.
- **Pressure** (§12.3): while monitoring (shot or prime), a pressure above the occlusion
  threshold that *persists* for `occlusion_persist_s` faults OCCLUSION; the hard limit
  faults OVERPRESSURE at once. Crossings are exact events of the line model, not samples.
- **Contact**: losing skin contact with the needle in tissue faults CONTACT_LOST.
- **Safe state** (§10): plunger stopped, needle retracted, queue cancelled, shot aborted,
  session ended; FAULT (or ESTOPPED) with a fault_event and a fault_notice datagram.
"""

from __future__ import annotations

import math

from mesodrive.protocol.messages import (
    DeviceState,
    Fault,
    FaultEvent,
    FaultNotice,
    ShotFlag,
    ShotStatus,
)
from mesosim.firmware.core import ARMED_STATES, HEARTBEAT_S, FirmwareCore, i32
from mesosim.firmware.phases import Activity


class Safety(FirmwareCore):
    """The monitors and the safe state (see the module docstring)."""

    # ---- the safe state ------------------------------------------------------------------------
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
            if self._activity is Activity.HOMING:
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
        if self._state in ARMED_STATES:
            self._end_session()
        self._faults |= 1 << (int(code) - 1)
        self._send(FaultEvent(int(code), self._ticks(), i32(detail)))
        self._set_state(target)
        # Also as a datagram: it reaches the host even when the sequenced stream cannot (§10).
        self._send(FaultNotice(self.boot_nonce, int(target), self._faults & 0xFFFF, int(code),
                               self._ticks(), i32(detail)))

    def _cancel_queue(self) -> None:
        for rec in self._queue:
            rec.status = ShotStatus.CANCELLED
        self._queue.clear()

    def _end_session(self) -> None:
        self._session = 0
        self._disarm_pending = False
        self._telemetry_s = 0.0
        self._next_telemetry = math.inf

    # ---- the host's silence (§11) --------------------------------------------------------------
    def _on_deadman(self) -> None:
        silence_ms = round((self._now - self._last_rx) * 1000)
        self._safe_state(Fault.LINK_LOST, silence_ms)

    def _silence_forbids_start(self) -> bool:
        """True (and safe state) if the host has been silent too long for a shot to start."""
        silence = self._now - self._last_rx
        if silence > HEARTBEAT_S * self._host_silence_scale():
            # The host missed its heartbeat (§11): it may be frozen, so nothing new may start.
            # The dead-man would trip anyway; going safe now means no needle moves meanwhile.
            self._safe_state(Fault.LINK_LOST, round(silence * 1000))
            return True
        return False

    # ---- pressure (§12.3) ----------------------------------------------------------------------
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
        self._safe_state(Fault.OCCLUSION, i32(self._line.p), shot_flags=int(ShotFlag.OCCLUSION))

    def _on_overpressure(self) -> None:
        self._safe_state(Fault.OVERPRESSURE, i32(self._line.p), shot_flags=int(ShotFlag.OCCLUSION))

    # ---- contact -------------------------------------------------------------------------------
    def _check_contact(self) -> None:
        sh = self._active
        if (
            sh is not None
            and self.config.contact_sensor
            and sh.phase.in_tissue
            and not self._contact()
        ):
            self._safe_state(Fault.CONTACT_LOST, sh.q.index, shot_flags=int(ShotFlag.CONTACT_LOST))
