"""How the Injector takes in what the device reports (I/O thread, driver lock held).

A mixin of `injector.Injector`: the handler table the channel routes by message type, boot
tracking on every reply that carries the boot nonce (a reboot is noticed by whichever message
reveals it first, PROTOCOL.md §14), state and fault reports, link loss.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from mesodrive.driver import wire
from mesodrive.driver.channel import Channel
from mesodrive.driver.clock_sync import ClockSync
from mesodrive.driver.device_state import ARMED_STATES, DeviceTracker
from mesodrive.driver.event_bus import EventBus
from mesodrive.driver.events import (
    Event,
    LinkLost,
    Rebooted,
    StateChanged,
    TelemetrySample,
    TriggerPressed,
)
from mesodrive.driver.shot_ledger import ShotLedger
from mesodrive.driver.shots import ShotState
from mesodrive.protocol import Message
from mesodrive.protocol.messages import (
    BootEvent,
    ClockReply,
    DeviceState,
    FaultEvent,
    FaultNotice,
    Identity,
    LinkSyncReply,
    ShotAccepted,
    ShotRecord,
    ShotRejected,
    ShotResult,
    StateEvent,
    StatusReply,
    Telemetry,
    TriggerEvent,
)

log = logging.getLogger(__name__)


class DeviceReports:
    # Provided by the Injector (declared for the type checker).
    device: DeviceTracker
    ledger: ShotLedger
    channel: Channel
    clock: ClockSync | None
    _lock: threading.RLock
    _bus: EventBus[Event]
    _past_boots: set[int]

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
        self.device.last_fault = wire.fault_raised(msg.code, msg.tick, msg.detail)
        self._bus.emit(self.device.last_fault)

    def _on_fault_notice(self, msg: FaultNotice, _: float) -> None:
        if not self._observe_boot(msg.boot_nonce, "fault_notice"):
            return
        fault = wire.fault_raised(msg.code, msg.tick, msg.detail)
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

