"""The run engine's tunables: how far ahead shots are queued, how much room each gets, how
many stay preloaded in triggered mode, and how often the engine looks at the device."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunConfig:
    # Both in device seconds at real time; time-warped, the scheduler keeps the same wall time
    # of room where the device's queue and horizon allow it (scheduler._room).
    look_ahead_s: float = 1.0  # shots are queued up to this far ahead on the device clock
    min_lead_s: float = 0.25  # a new shot fires at least this long after "now": room for the
    # durable journal write and the link; a slower write makes the driver refuse, not send late
    preload: int = 3  # triggered mode: shots kept queued on the device
    telemetry_ms: int = 50
    poll_s: float = 0.01
