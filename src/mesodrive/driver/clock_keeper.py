"""The Injector's hold on the device clock: samples, jump detection, device time, liveness.

A mixin of `injector.Injector`. Klipper's clocksync idea: the estimate (`clock_sync.ClockSync`)
turns host time into device ticks; a sample from another boot, or one that contradicts the
estimate, never enters it (PROTOCOL.md §12.1, §14). The background thread also polls status and
chases overdue shots, so a device that went quiet or faulted is noticed without a word from it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mesodrive.driver import wire
from mesodrive.driver.capabilities import DeviceStatus
from mesodrive.driver.channel import QUERY_TIMEOUT, Channel
from mesodrive.driver.clock_sync import ClockSync
from mesodrive.driver.device_state import DeviceTracker
from mesodrive.driver.errors import DeviceTimeout, DriverError
from mesodrive.driver.shot_ledger import ShotLedger
from mesodrive.driver.timebase import Timebase
from mesodrive.protocol import Message
from mesodrive.protocol.messages import TICK_HZ, ClockQuery, ClockReply, Identify, Identity

log = logging.getLogger(__name__)

CLOCK_SYNC_EVERY = 1.0  # s between background clock samples and liveness checks
CLOCK_JUMP_US = 50_000  # a sample this far off the estimate (beyond its error) is a jump


class ClockKeeper:
    # Provided by the Injector (declared for the type checker).
    device: DeviceTracker
    ledger: ShotLedger
    channel: Channel
    clock: ClockSync | None
    _lock: threading.RLock
    _tb: Timebase
    _closing: threading.Event
    _sampling: threading.Lock

    if TYPE_CHECKING:
        def query(self, make: Callable[[int], Message], reply: type[Any], **kwargs: Any) -> Any: ...
        def status(self) -> DeviceStatus: ...
        def _chase_overdue(self) -> None: ...

    def sync_clock(self, samples: int = 4) -> None:
        """Take clock samples (first-attempt exchanges only: Karn's rule). A sample from another
        boot, or one that contradicts the estimate, is never used: it is a reboot or a fault."""
        for _ in range(samples):
            with self._sampling:  # one exchange at a time: samples enter in the order taken
                if not self._sample_once():
                    return

    def _sample_once(self) -> bool:
        """One clock exchange; False after a clock fault (the caller stops sampling)."""
        clock, boot = self.clock, self.device.boot_nonce
        if clock is None:
            return False
        token = self.channel.next_token()
        t0 = self._tb.now()
        waiter = self.channel.ask(ClockQuery(token), ClockReply, QUERY_TIMEOUT)
        reply: ClockReply | None = waiter.value
        if reply is None or reply.boot_nonce != boot or self.clock is not clock:
            return True  # lost, or a reboot (handled by the reply's handler): no sample
        estimate = clock.estimate
        if estimate is not None:
            predicted = estimate.to_ticks((t0 + waiter.received_at) / 2)
            # The reply left the device somewhere within the round trip: half of it is slack.
            half_rtt_us = (waiter.received_at - t0) / 2 * 1e6
            slack = CLOCK_JUMP_US + 4 * estimate.error_us + half_rtt_us
            if abs(reply.ticks - predicted) > slack * clock.tick_hz / 1e6:
                self._clock_fault(f"device clock jumped: {reply.ticks} where about "
                                  f"{predicted} was due")
                return False
        try:
            clock.add_sample(t0, waiter.received_at, reply.ticks)
        except ValueError as exc:  # went backwards
            self._clock_fault(str(exc))
            return False
        return True

    def _clock_fault(self, what: str) -> None:
        """PROTOCOL.md §12.1: a clock that jumps or runs backwards is a reboot or a fault. Ask
        the device which boot it is in; either way no estimate from before is used again."""
        log.error("%s: confirming the device's boot", what)
        try:
            self.query(Identify, Identity)  # a new nonce is handled as a reboot by its handler
        except DriverError as exc:
            log.error("could not confirm the device's boot: %s", exc)
        with self._lock:
            if self.device.identity is not None:
                self.clock = ClockSync(self.device.identity.tick_hz)
            self.ledger.doubt(what)

    def device_now(self) -> float:
        """The estimated device clock now, in seconds (the time base of `ShotRequest.fire_at`)."""
        return wire.ticks_to_s(self._device_ticks(), TICK_HZ)

    def _device_ticks(self) -> int:
        estimate = self.clock.estimate if self.clock is not None else None
        if estimate is None:
            raise DeviceTimeout("the device clock is not synchronised yet (after connect or a reboot)")
        return estimate.to_ticks(self._tb.now())

    def _background(self) -> None:
        """Clock samples, and liveness: notice a device that left ARMED or faulted without a
        word reaching us, and ask about shots whose fire time is long past."""
        while not self._closing.wait(self._tb.wall(CLOCK_SYNC_EVERY)):
            if self.channel.link_lost or self.clock is None:
                continue
            try:
                if self.clock.estimate is None:
                    self.sync_clock(8)
                else:
                    self.sync_clock(1)
                if self.device.armed_session is not None or self.ledger.open_keys():
                    self.status()
                    self._chase_overdue()
            except DriverError as exc:
                log.debug("background check failed: %s", exc)

