"""Boot and power (PROTOCOL.md §14): boot nonces, the device clock, volatile state, power loss.

A boot draws a new nonce (never 0, never the previous one), starts the device clock afresh,
journals the boot in the non-volatile shot journal (`mesosim/nvm.py`), resets every piece of
volatile state and announces itself with a boot_event. A power loss keeps only what is
physical or non-volatile: syringe, line, plunger encoder, the journal, the truth log.
"""

from __future__ import annotations

import math
from collections import deque

from mesodrive.protocol.endpoint import Endpoint
from mesodrive.protocol.messages import BootEvent, DeviceState
from mesosim.firmware.core import FirmwareCore
from mesosim.physics import DeviceClock
from mesosim.shots import ShotBook, ShotRecord


class Power(FirmwareCore):
    """Boot, power loss and the boot nonce."""

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
        self._used_sessions = set()  # armed in this boot: never armed again (§12.4)
        self._telemetry_s = 0.0
        self._next_telemetry = math.inf
        self._disarm_pending = False
        self._queue = deque[ShotRecord]()
        self._book = ShotBook()
        self._active = None
        self._activity = None
        self._activity_end = None
        self._last_rx = t
        self._monitoring = False
        self._over_since = None
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
