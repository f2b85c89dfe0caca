"""Commands (PROTOCOL.md §7, §12.4): sequenced, each answered with one command_reply.

home, prime, arm, disarm, cancel_queue, clear_fault, soft_trigger, load_syringe; queue_shot
has its own module (`admission.py`). Most commands are refused alike in ESTOPPED and FAULT
(`_refused_by_state`); the rest of each handler is its state check, its range check and
its effect.
"""

from __future__ import annotations

import math

from mesodrive.protocol.message_base import Message
from mesodrive.protocol.messages import (
    Arm,
    CancelQueue,
    ClearFault,
    CommandReply,
    DeviceState,
    Disarm,
    Home,
    LoadSyringe,
    Prime,
    Result,
    SoftTrigger,
)
from mesosim.firmware.core import ARMED_STATES, FirmwareCore
from mesosim.firmware.phases import Activity


class Commands(FirmwareCore):
    """Handlers of the sequenced host commands (queue_shot aside)."""

    def _reply(self, msg: Message, code: Result) -> None:
        self._send(CommandReply(msg.MSG_ID, int(code)))

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
        self._activity = Activity.HOMING
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
        self._activity = Activity.PRIMING
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
        if self._state not in ARMED_STATES:
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
        if self._state not in ARMED_STATES:
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
