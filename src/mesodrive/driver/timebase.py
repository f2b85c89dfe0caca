"""The host's sense of time, injectable so a whole run can be time-warped.

Everything in the driver and the run engine that measures or waits for time goes through a
Timebase: `now()` in host seconds, and `wall(seconds)` to turn a duration in those seconds into
the real seconds a thread should wait. Real time is speed 1. At speed K (with a simulator
running K× faster than real time), every timeout, heartbeat, retransmission timer and look-ahead
keeps its meaning in simulated seconds, and a run finishes K× sooner.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Timebase:
    speed: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.speed <= 1000:
            raise ValueError(f"timebase speed {self.speed} is outside (0, 1000]")

    def now(self) -> float:
        return time.monotonic() * self.speed

    def wall(self, seconds: float) -> float:
        """Real seconds to wait for `seconds` of this timebase (never negative)."""
        return max(0.0, seconds) / self.speed

    def sleep(self, seconds: float) -> None:
        time.sleep(self.wall(seconds))


REAL_TIME = Timebase()
