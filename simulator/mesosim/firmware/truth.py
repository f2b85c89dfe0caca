"""The one public way to read the simulated device's truth: `SimDevice.truth`.

Tests, benchmarks, instruments and tools need to know what *really* happened inside the
device (shots executed, the true needle depth, the shot book, the link's state) without
reaching into the firmware's private attributes, which would tie them to today's internals.
`DeviceTruth` is a read-only live view: every property reads the device when it is read, so
read it on the thread that drives the device (a runner's `call`), like the device itself.

Part of this API, kept on `SimDevice` itself because they are used everywhere:
`executed_log` (the same list as `truth.executed`, one `ExecutedShot` per shot that started
moving), `true_dispensed_nl`, `true_needle_um`, `true_pressure_pa`, `true_syringe_nl`,
`device_ticks()`, `boot_nonce`, `state`, `faults`, `powered`, `contact`, `dropped_seq`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from mesodrive.protocol.messages import DeviceState, RejectReason, ShotResult, ShotStatus
from mesosim.physics import DeviceClock
from mesosim.shots import ExecutedShot

if TYPE_CHECKING:
    from mesosim.firmware.device import SimDevice


@dataclass(frozen=True)
class BookEntry:
    """A copy of the firmware's record of one (session, index) of the current boot."""

    session: int
    index: int
    status: ShotStatus
    reason: RejectReason
    start_tick: int
    result: ShotResult | None


class DeviceTruth:
    """What the simulated device truly is and did now (see the module docstring)."""

    __slots__ = ("_dev",)

    def __init__(self, device: SimDevice) -> None:
        self._dev = device

    # ---- shots ---------------------------------------------------------------------------------
    @property
    def executed(self) -> Sequence[ExecutedShot]:
        """Every shot that started moving, across boots, in start order (`executed_log`)."""
        return self._dev.executed_log

    def book_entry(self, session: int, index: int) -> BookEntry | None:
        """The current boot's record of (session, index), None if it has none (§12.4)."""
        rec = self._dev._book.get(session, index) if self._dev.powered else None
        if rec is None:
            return None
        return BookEntry(session, index, rec.status, rec.reason, rec.start_tick, rec.result)

    @property
    def book_size(self) -> int:
        """Records kept in the current boot's shot book."""
        return len(self._dev._book) if self._dev.powered else 0

    @property
    def last_started(self) -> Mapping[int, int]:
        """Per session: the index of the last shot that started in this boot."""
        return MappingProxyType(self._dev._book.last_started if self._dev.powered else {})

    @property
    def queue_len(self) -> int:
        """Shots waiting in the queue now (0 while the device is off)."""
        return len(self._dev._queue) if self._dev.powered else 0

    @property
    def executing(self) -> tuple[int, int] | None:
        """(session, index) of the shot in progress, if any."""
        sh = self._dev._active if self._dev.powered else None
        return None if sh is None else (sh.q.session, sh.q.index)

    # ---- state, session, link ------------------------------------------------------------------
    @property
    def state(self) -> DeviceState:
        return self._dev.state

    @property
    def session(self) -> int:
        """The armed session (0: none)."""
        return self._dev._session if self._dev.powered else 0

    @property
    def homed(self) -> bool:
        return self._dev.powered and self._dev._homed

    @property
    def link_lost(self) -> bool:
        """The device's link layer gave up (§5.3): nothing sequenced leaves until link_sync."""
        return self._dev.powered and self._dev._ep.link.lost

    @property
    def dropped_seq(self) -> int:
        """Sequenced messages the device dropped because its link was lost."""
        return self._dev.dropped_seq

    # ---- time ----------------------------------------------------------------------------------
    @property
    def clock(self) -> DeviceClock | None:
        """The current boot's clock model (a pure function of simulated time); None while off."""
        return self._dev._clock if self._dev.powered else None

    def ticks_at(self, t: float) -> int:
        """The device clock at simulated time ``t`` (this boot's clock)."""
        clock = self.clock
        return self._dev.config.clock_offset_ticks if clock is None else clock.ticks(t)
