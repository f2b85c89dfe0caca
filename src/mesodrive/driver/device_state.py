"""What the host knows of the device: its state and faults, its identity, and which boot it is.

Reboots must never go unnoticed (PROTOCOL.md §14): the boot_event is a datagram and may be
lost, so every reply that carries the device's boot nonce (identity, link_sync_reply,
status_reply, clock_reply, shot_record, fault_notice) is checked here, and a reply from another
boot is a reboot, whichever message reveals it first. The driver lock (the channel's) is held
by every caller of the mutating methods.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from mesodrive.driver.events import FaultRaised
from mesodrive.driver.timebase import Timebase
from mesodrive.protocol.messages import DeviceState, Identity

ARMED_STATES = (DeviceState.ARMED, DeviceState.FIRING)


class DeviceTracker:
    def __init__(self, lock: threading.RLock, timebase: Timebase,
                 on_reboot: Callable[[int, int, str], None]) -> None:
        self._lock = lock
        self._tb = timebase
        self._on_reboot = on_reboot
        self.changed = threading.Condition(lock)
        self.state: DeviceState | None = None
        self.faults = 0
        self.identity: Identity | None = None
        self.boot_nonce = 0
        self.rebooted = False  # set on every reboot; the engine clears it once handled
        self.armed_session: int | None = None
        self.last_fault: FaultRaised | None = None
        self.state_events = 0  # count of state_event messages, to wait for a *new* one
        self._state_log: deque[tuple[int, DeviceState]] = deque(maxlen=64)

    # ----- boots -------------------------------------------------------------------------------
    def observe_boot(self, nonce: int, how: str) -> bool:
        """A reply says the device is in boot `nonce`. True (after handling it) if that is a
        reboot since the boot we knew; the first boot we hear of is simply adopted."""
        if nonce == self.boot_nonce:
            return False
        old = self.boot_nonce
        self.boot_nonce = nonce
        if not old:
            return False
        self.rebooted = True
        self.armed_session = None
        self.state = DeviceState.IDLE  # a new boot starts unhomed and unarmed (§14)
        self._on_reboot(old, nonce, how)
        self.changed.notify_all()
        return True

    # ----- state -------------------------------------------------------------------------------
    def on_state_event(self, state: DeviceState, faults: int) -> bool:
        self.state_events += 1
        self._state_log.append((self.state_events, state))
        return self.set_state(state, faults)

    def set_state(self, state: DeviceState, faults: int) -> bool:
        """Apply a reported state; True if it changed."""
        changed = state != self.state or faults != self.faults
        self.state, self.faults = state, faults
        if state not in ARMED_STATES:
            self.armed_session = None
        self.changed.notify_all()
        return changed

    @property
    def armed(self) -> bool:
        return self.state in ARMED_STATES and self.armed_session is not None

    def wait_state(self, states: tuple[DeviceState, ...], timeout: float,
                   link_lost: Callable[[], bool]) -> DeviceState | None:
        """Wait (lock held) until the state is one of `states`; None on timeout or link loss."""
        end = self._tb.now() + timeout
        while self.state not in states:
            left = end - self._tb.now()
            if left <= 0 or link_lost():
                return None
            self.changed.wait(self._tb.wall(min(left, 0.1)))
        return self.state

    def wait_state_event(self, state: DeviceState, after: int, timeout: float,
                         link_lost: Callable[[], bool]) -> bool:
        """Wait (lock held) for a state_event to `state` numbered after `after` (not a stale one)."""
        end = self._tb.now() + timeout
        while not any(n > after and s == state for n, s in self._state_log):
            left = end - self._tb.now()
            if left <= 0 or link_lost():
                return False
            self.changed.wait(self._tb.wall(min(left, 0.1)))
        return True

    def describe(self) -> str:
        return self.state.name if self.state is not None else "?"
