"""Shots as the driver sees them: what was asked, what was commanded, and what became of it.

A shot's outcome is decided in exactly one place (`Injector._settle`) and is one of:
DONE (the device reported it executed), REJECTED / CANCELLED / NOT_RECEIVED (certainly never
executed), or UNCERTAIN (nobody can tell: counted as delivered, flagged, never re-sent).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from mesodrive.protocol.messages import ShotResult


class ShotState(enum.Enum):
    PENDING = "pending"  # persisted, sent (or about to be), no answer yet
    ACCEPTED = "accepted"  # queued on the device
    DONE = "done"  # executed; result known
    REJECTED = "rejected"  # the device refused it: never executed
    CANCELLED = "cancelled"  # dropped from the queue before starting: never executed
    NOT_RECEIVED = "not_received"  # the device (same boot, quiet link) never saw it
    UNCERTAIN = "uncertain"  # unknowable: counted as delivered, never re-sent

    @property
    def final(self) -> bool:
        return self not in (ShotState.PENDING, ShotState.ACCEPTED)

    @property
    def counts_as_delivered(self) -> bool:
        return self in (ShotState.DONE, ShotState.UNCERTAIN)


@dataclass(frozen=True)
class ShotRequest:
    """One injection in public units, as the practitioner's plan asks for it."""

    index: int  # unique and increasing within a session; a retry uses a new index
    depth_mm: float
    volume_ul: float
    flow_ul_s: float
    speed_mm_s: float
    dwell_s: float = 0.0
    fire_tick: int | None = None  # device clock tick to fire at; None = on trigger


@dataclass(frozen=True)
class Commanded:
    """What the device is told, in wire units, after the calibration profile."""

    depth_um: int
    volume_nl: int
    flow_nl_s: int
    speed_um_s: int
    dwell_ms: int
    fire_tick: int | None
    profile: str


@dataclass(frozen=True)
class Shot:
    """A snapshot of one shot; the journal receives a new one at every change."""

    session: int
    index: int
    boot_nonce: int
    request: ShotRequest
    commanded: Commanded
    state: ShotState = ShotState.PENDING
    reason: str = ""  # why rejected / uncertain / ...
    result: ShotResult | None = None
    needs_resolution: bool = False  # outcome unknown until the device is asked
    history: tuple[str, ...] = field(default=(), compare=False)

    def moved(self, state: ShotState, reason: str = "", **changes: object) -> Shot:
        return replace(self, state=state, reason=reason or self.reason,
                       history=(*self.history, state.value), **changes)  # type: ignore[arg-type]
