"""Shots as the driver's callers see them, in public units: what was asked, what was commanded
(after the calibration profile), and what became of it.

A shot's outcome is decided in exactly one place (`shot_ledger.ShotLedger.settle`) and is one
of: DONE (the device reported it executed), REJECTED / CANCELLED / NOT_RECEIVED (certainly
never executed), or UNCERTAIN (nobody can tell: counted as delivered, flagged, never re-sent).
Times are device-clock seconds (`Injector.device_now()`); `wire.py` converts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from mesodrive.driver.vocabulary import ShotFlag


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
    fire_at: float | None = None  # device-clock seconds to fire at; None = on trigger


@dataclass(frozen=True)
class Commanded:
    """What the device is told, in public units, after the calibration profile; `wire` is the
    same as the wire integers that were sent (for the records)."""

    depth_mm: float
    volume_ul: float
    flow_ul_s: float
    speed_mm_s: float
    dwell_s: float
    fire_at: float | None
    profile: str
    wire: dict[str, float | int | str | None] = field(default_factory=dict, compare=False)
    profile_id: int | None = None  # the stored profile applied (CalibrationProfile.profile_id)


@dataclass(frozen=True)
class ShotOutcome:
    """What the device measured, in public units."""

    reached_depth_mm: float
    delivered_ul: float
    start_at: float  # device-clock seconds
    end_at: float | None  # None when only the device's record was read (no end time there)
    peak_pressure_kpa: float
    flags: int  # ShotFlag bits
    start_tick: int = 0  # the device's own timestamps, as recorded
    end_tick: int = 0

    @property
    def aborted(self) -> bool:
        return bool(self.flags & ShotFlag.ABORTED)

    @property
    def not_started(self) -> bool:
        """The device stopped it before the needle moved (its contact check)."""
        return bool(self.flags & ShotFlag.NOT_STARTED)


@dataclass(frozen=True)
class Shot:
    """A snapshot of one shot; the journal receives a new one at every change."""

    session: int  # the device session it was sent under (fresh at every arm)
    index: int
    boot_nonce: int
    request: ShotRequest
    commanded: Commanded
    state: ShotState = ShotState.PENDING
    reason: str = ""  # why rejected / uncertain / ...
    outcome: ShotOutcome | None = None
    needs_resolution: bool = False  # outcome unknown until the device is asked
    history: tuple[str, ...] = field(default=(), compare=False)

    def moved(self, state: ShotState, reason: str = "", **changes: object) -> Shot:
        return replace(self, state=state, reason=reason or self.reason,
                       history=(*self.history, state.value), **changes)  # type: ignore[arg-type]
