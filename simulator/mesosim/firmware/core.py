"""The firmware's shared state and its primitives: what every part of `SimDevice` stands on.

`FirmwareCore` declares every piece of device state (the parts read and write it directly, as
firmware modules share the globals of one MCU), the output path (`_send`, `_flush`: sequenced
messages through the link, datagrams straight out), the state register (`_set_state`), the
physics' notion of *now* (`_set_time`) and the sensors. The methods the parts call on each
other are declared here as abstract, so each part type-checks alone and the one place that
lists the seams between them is this file.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from mesodrive.protocol.endpoint import Endpoint
from mesodrive.protocol.message_base import Channel, Message
from mesodrive.protocol.messages import DeviceState, Fault, StateEvent, StatusReply
from mesosim.config import SimConfig
from mesosim.device_faults import FaultSchedule
from mesosim.nvm import Nvm
from mesosim.physics import Axis, DeviceClock, LineModel
from mesosim.shots import ExecutedShot, ShotBook, ShotRecord

if TYPE_CHECKING:
    from mesosim.firmware.phases import ActiveShot, Activity

NO_INDEX = 0xFFFFFFFF
LATE_TOLERANCE_TICKS = 2000  # PROTOCOL.md §12.3: 2 ms
DEADMAN_S = 0.25  # PROTOCOL.md §11
HEARTBEAT_S = 0.1  # PROTOCOL.md §11: no shot starts after a longer host silence
ARMED_STATES = (DeviceState.ARMED, DeviceState.FIRING)

Handler = Callable[[], None]


def u32(x: float) -> int:
    return min(max(round(x), 0), 0xFFFFFFFF)


def u16(x: float) -> int:
    return min(max(round(x), 0), 0xFFFF)


def i32(x: float) -> int:
    return min(max(round(x), -(2**31)), 2**31 - 1)


class FirmwareCore(ABC):
    """State, output and sensors of the simulated injector (see the module docstring)."""

    # ---- set once (SimDevice.__init__) -------------------------------------------------------
    config: SimConfig
    _rng_phys: random.Random  # shot physics (true volume, tissue, depth noise)
    _rng_sensor: random.Random  # sensor noise of shot results
    _rng_query: random.Random  # sensor noise of status / telemetry (never perturbs shots)
    _rng_nonce: random.Random  # boot nonces and boot clock values
    nvm: Nvm
    executed_log: list[ExecutedShot]
    _schedule: FaultSchedule
    _nl_per_step: float
    # ---- time and output ---------------------------------------------------------------------
    _now: float
    _out: bytearray
    # ---- physical state: survives reboots ----------------------------------------------------
    _line: LineModel
    _axis: Axis
    _depth_noise_um: float  # TRUE depth error of the current/last shot beyond offset
    _external_contact: bool
    _contact_lost_until: float
    _remaining_nl: float  # belief (absolute plunger encoder: survives a power cycle)
    _travel_nl: float
    _plunger_rate: float  # believed nL/s while the plunger moves
    _plunger_t: float
    _shots_started: int
    # ---- power -------------------------------------------------------------------------------
    _powered: bool
    _boot_at: float | None
    boot_nonce: int
    dropped_seq: int  # sequenced messages dropped because the link was lost
    # ---- volatile state: set afresh by every boot (power.py) ---------------------------------
    _clock: DeviceClock
    _ep: Endpoint
    _state: DeviceState
    _homed: bool
    _faults: int
    _session: int
    _last_session: int
    _used_sessions: set[int]  # armed in this boot: never armed again (§12.4)
    _telemetry_s: float
    _next_telemetry: float
    _disarm_pending: bool
    _queue: deque[ShotRecord]
    _book: ShotBook
    _active: ActiveShot | None
    _activity: Activity | None
    _activity_end: float | None
    _last_rx: float  # the last valid frame from the host (dead-man, §11)
    _monitoring: bool
    _over_since: float | None
    _link_lost_seen: bool

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
            if self._state in ARMED_STATES:
                silence = int((self._now - self._last_rx) * 1000)
                self._safe_state(Fault.LINK_LOST, silence)

    def _host_silence_scale(self) -> float:
        """How much longer the host-silence windows (dead-man, no start after silence) are in
        simulated time: K in time-warped real time, where a host (which cannot be warped) is
        judged on its own, the wall, clock; else 1 (README "Real time")."""
        c = self.config
        warped = c.realtime and c.speed > 1 and not c.warp_watchdogs_in_sim_time
        return c.speed if warped else 1.0

    def _ticks(self) -> int:
        return self._clock.ticks(self._now)

    def _set_state(self, state: DeviceState) -> None:
        if state is self._state:
            return
        self._state = state
        self._send(StateEvent(int(state), self._ticks(), self._faults & 0xFFFF))

    # =========================================================================================
    # time, physics and sensors
    # =========================================================================================
    def _set_time(self, t: float) -> None:
        """Bring the physics and the plunger belief to ``t`` (never backwards)."""
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

    def _set_plunger_rate(self, rate: float) -> None:
        self._set_time(self._now)  # settle the belief up to now first
        self._plunger_rate = rate

    def _contact(self) -> bool:
        return self._external_contact and self._now >= self._contact_lost_until

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

    # =========================================================================================
    # the seams: implemented by the parts (module in brackets)
    # =========================================================================================
    @abstractmethod
    def _run_until(self, t: float) -> None:
        """Handle every internal event up to ``t`` in time order [timers]."""

    @abstractmethod
    def _boot(self, t: float) -> None:
        """Power-up: fresh volatile state, boot_event [power]."""

    @abstractmethod
    def _power_off(self) -> None:
        """Power lost now; boot again `boot_time_s` later [power]."""

    @abstractmethod
    def _safe_state(
        self,
        code: Fault,
        detail: int,
        *,
        target: DeviceState = DeviceState.FAULT,
        shot_flags: int = 0,
    ) -> None:
        """Plunger stopped, needle retracted, queue cancelled; then FAULT/ESTOPPED [safety]."""

    @abstractmethod
    def _check_contact(self) -> None:
        """Contact lost while the needle is in tissue -> safe state [safety]."""

    @abstractmethod
    def _silence_forbids_start(self) -> bool:
        """The no-start-after-100-ms-silence rule (§11); True: safe state taken [safety]."""

    @abstractmethod
    def _start_monitoring(self) -> None:
        """Pressure monitoring on (while the plunger can build pressure) [safety]."""

    @abstractmethod
    def _stop_monitoring(self) -> None:
        """Pressure monitoring off [safety]."""

    @abstractmethod
    def _cancel_queue(self) -> None:
        """Every queued shot cancelled [safety]."""

    @abstractmethod
    def _end_session(self) -> None:
        """The armed session ends (telemetry off) [safety]."""

    @abstractmethod
    def _trigger(self) -> None:
        """The pedal or a soft trigger: trigger_event, and the head shot if it waits [execution]."""

    @abstractmethod
    def _abort_shot(self, flags: int) -> None:
        """The shot in progress cut short: result sent with ABORTED | flags [execution]."""

    @abstractmethod
    def _finalize_log(self, sh: ActiveShot, end_time: float | None, power_lost: bool) -> None:
        """The truth log of ``sh`` brought up to now [execution]."""

    @abstractmethod
    def _active_encoder(self) -> float:
        """Plunger travel (belief) of the shot in progress so far [execution]."""

    @abstractmethod
    def _status(self, token: int) -> StatusReply:
        """The status_reply the device would send now [queries]."""

    # ---- the events timers.py schedules and the other parts handle -----------------------
    @abstractmethod
    def _on_boot(self) -> None:
        """[power]"""

    @abstractmethod
    def _on_physics(self) -> None:
        """The plunger hit the syringe's end stop [execution]."""

    @abstractmethod
    def _on_pressure_up(self) -> None:
        """[safety]"""

    @abstractmethod
    def _on_pressure_down(self) -> None:
        """[safety]"""

    @abstractmethod
    def _on_occlusion(self) -> None:
        """[safety]"""

    @abstractmethod
    def _on_overpressure(self) -> None:
        """[safety]"""

    @abstractmethod
    def _on_deadman(self) -> None:
        """[safety]"""

    @abstractmethod
    def _on_phase_end(self) -> None:
        """[execution]"""

    @abstractmethod
    def _injected_handler(self, name: str) -> Handler:
        """[execution]"""

    @abstractmethod
    def _on_fire_time(self) -> None:
        """[execution]"""

    @abstractmethod
    def _on_late(self) -> None:
        """[execution]"""
