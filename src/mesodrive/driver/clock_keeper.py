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
CLOCK_JUMP_US = 50_000  # a sample this far off (beyond round trip and drift) is a jump
MAX_DRIFT = 500e-6  # crystal drift allowed when judging a jump (PROTOCOL.md: typically < 100 ppm)


class ClockKeeper:
    # Provided by the Injector (declared for the type checker).
    device: DeviceTracker
    ledger: ShotLedger
    channel: Channel
    clock: ClockSync | None
    _lock: threading.RLock
    _tb: Timebase
    _closing: threading.Event
    _sampling: threading.RLock
    _refaulting: bool

    if TYPE_CHECKING:
        def query(self, make: Callable[[int], Message], reply: type[Any], **kwargs: Any) -> Any: ...
        def status(self) -> DeviceStatus: ...
        def _chase_overdue(self) -> None: ...

    def _resample(self, samples: int) -> None:
        for _ in range(samples):
            with self._sampling:
                if not self._sample_once():
                    return

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
        last = clock.last_sample
        if last is not None:
            # Judged against the newest kept sample at the nominal rate, not the fitted one: an
            # estimate fitted under load can be off in rate, and a false "jump" would cost the
            # run its clock. A real reboot restarts the clock anywhere: far beyond this slack.
            t_mid = (t0 + waiter.received_at) / 2
            elapsed = t_mid - last[0]
            expected = last[1] + elapsed * clock.tick_hz
            half_rtt = (waiter.received_at - t0) / 2  # the reply left somewhere in the round trip
            slack_s = CLOCK_JUMP_US / 1e6 + half_rtt + abs(elapsed) * MAX_DRIFT + 0.005
            if abs(reply.ticks - expected) > slack_s * clock.tick_hz:
                self._clock_fault(f"device clock jumped: {reply.ticks} where about "
                                  f"{round(expected)} was due")
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
        # A fresh estimate at once (as at handshake), so device time stays available to the
        # scheduler; whatever was open is asked about before anything new is sent. Not from
        # inside another fault's resampling: a clock that keeps misbehaving stays unsynced.
        if not self._refaulting:
            self._refaulting = True
            try:
                self._resample(8)
            finally:
                self._refaulting = False

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

