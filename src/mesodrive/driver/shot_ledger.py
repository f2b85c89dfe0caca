"""The shot ledger: the one place where a shot is recorded, followed and settled.

The rules (DOMAIN.md, insulin-pump lessons; PROTOCOL.md §12.4–12.5):
- a shot is journalled before its first byte is sent;
- it settles exactly once, here, as DONE (the device reported it executed), REJECTED /
  CANCELLED / NOT_RECEIVED (the device *proves* it never ran), or UNCERTAIN (nobody can tell:
  counted as delivered, flagged, never re-sent);
- while any shot needs resolution no new shot is sent, and the driver never re-sends one;
- "never executed" needs proof from the device's own record about the boot the shot was sent
  in (`shot_record.shot_boot`), never an inference from the host's clock estimate or from a
  missing record: `verdict()` below is the whole rule book, used by the live driver and by
  crash resume alike.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mesodrive.driver.shots import Shot, ShotOutcome, ShotState
from mesodrive.driver.wire import outcome
from mesodrive.protocol.messages import TICK_HZ, RejectReason, ShotRecord, ShotResult, ShotStatus

log = logging.getLogger(__name__)
Key = tuple[int, int]
KEEP_FINAL = 16_384  # settled shots kept for lookups; older ones are only in the journal  # (device session, index): the device never arms a session id twice


@dataclass(frozen=True)
class Verdict:
    """What a device record says about one shot: a final state, or `None` = still open."""

    state: ShotState | None
    reason: str
    outcome: ShotOutcome | None = None
    ask_again: bool = False  # open, and only a quiet or resynchronised link can tell


def verdict(rec: ShotRecord, *, shot_boot: int, seen_accepted: bool, link_quiet: bool) -> Verdict:
    """Settle a shot sent in boot `shot_boot` from the device's record of it."""
    if rec.shot_boot != shot_boot:
        return Verdict(None, "the device answered about another boot", ask_again=True)
    same_boot = rec.boot_nonce == shot_boot
    status = ShotStatus(rec.status) if rec.status in ShotStatus._value2member_map_ else None
    if status is ShotStatus.DONE:
        return Verdict(ShotState.DONE, "device record: executed",
                       ShotOutcome(**outcome(rec, TICK_HZ)))
    if status is ShotStatus.REJECTED:
        return Verdict(ShotState.REJECTED, "device record: rejected")
    if status is ShotStatus.CANCELLED:
        return Verdict(ShotState.CANCELLED, "device record: cancelled before it started")
    if status in (ShotStatus.QUEUED, ShotStatus.EXECUTING):
        if same_boot:
            return Verdict(None, "still queued on the device")
        return Verdict(ShotState.UNCERTAIN, f"device record from a past boot says {status.name}")
    if status is ShotStatus.INTERRUPTED:
        return Verdict(ShotState.UNCERTAIN,
                       "power was lost while it executed: delivered volume unknown")
    if status is ShotStatus.NEVER_RAN:
        if not same_boot:
            return Verdict(ShotState.CANCELLED,
                           "the device rebooted before it started (device journal)")
        if seen_accepted:
            # The device accepted it in this boot, so it must have a record: a contradiction
            # is never read in favour of "not delivered".
            return Verdict(ShotState.UNCERTAIN, "device lost the record of an accepted shot")
        if link_quiet:
            return Verdict(ShotState.NOT_RECEIVED, "the device never received it")
        return Verdict(None, "no device record yet, and the shot may still be on the link",
                       ask_again=True)
    return Verdict(ShotState.UNCERTAIN, "the device has no record of it")


class ShotLedger:
    """Every shot of one driver session. All methods expect the driver lock held, except where
    noted; `journal` is called outside the lock only for the first (durable) write."""

    def __init__(self, lock: threading.RLock, emit: Callable[[Shot], None]) -> None:
        self._lock = lock
        self._emit = emit
        self.journal: Callable[[Shot], None] | None = None
        self.changed = threading.Condition(lock)
        self._shots: dict[Key, Shot] = {}
        self._final: OrderedDict[Key, None] = OrderedDict()  # settled, oldest first (pruning)
        self._top: dict[int, int] = {}  # per session: the highest index ever claimed
        self._reserved: set[Key] = set()
        self._open: dict[Key, Shot] = {}  # not final
        self._unresolved: set[Key] = set()  # outcome unknown until the device is asked

    # ----- queries -----------------------------------------------------------------------------
    def get(self, key: Key) -> Shot:
        return self._shots[key]

    def all(self) -> list[Shot]:
        return list(self._shots.values())

    def unresolved(self) -> list[Key]:
        return sorted(self._unresolved)

    def open_keys(self) -> list[Key]:
        return list(self._open)

    # ----- sending -----------------------------------------------------------------------------
    def reserve(self, key: Key) -> None:
        """Claim (session, index) for sending; KeyError if it, or a later index of the same
        session, was already claimed (indices only increase, as on the device: §12.2 step 4,
        and this holds after old shots were pruned)."""
        session, index = key
        if key in self._shots or key in self._reserved or index <= self._top.get(session, -1):
            raise KeyError(key)
        self._reserved.add(key)
        self._top[session] = index

    def release(self, key: Key) -> None:
        self._reserved.discard(key)

    def add(self, shot: Shot) -> None:
        key = (shot.session, shot.index)
        self._shots[key] = shot
        self._open[key] = shot

    # ----- device messages ---------------------------------------------------------------------
    def on_accepted(self, session: int, index: int) -> None:
        shot = self._shots.get((session, index))
        if shot is not None and shot.state is ShotState.PENDING:
            self.update(shot, ShotState.ACCEPTED, "")

    def on_rejected(self, session: int, index: int, reason: int) -> None:
        shot = self._shots.get((session, index))
        if shot is not None and not shot.state.final:
            name = RejectReason(reason).name if reason in RejectReason._value2member_map_ else str(reason)
            state = ShotState.CANCELLED if reason == RejectReason.CANCELLED else ShotState.REJECTED
            self.settle(shot, state, name)

    def on_result(self, result: ShotResult) -> None:
        shot = self._shots.get((result.session, result.index))
        if shot is not None and not shot.state.final:
            self.settle(shot, ShotState.DONE, "", outcome=ShotOutcome(**outcome(result, TICK_HZ)))

    # ----- events that make outcomes unknown ---------------------------------------------------
    def doubt(self, reason: str, *, only: Callable[[Shot], bool] = lambda s: True) -> None:
        """Every open shot matching `only` must now be resolved by asking the device."""
        for shot in list(self._open.values()):
            if only(shot):
                self.update(shot, shot.state, reason, needs_resolution=True)

    def on_reboot(self, old: int, new: int, how: str) -> None:
        # Nothing is settled here: the new boot's journal (or its silence) decides, by asking.
        self.doubt(f"device rebooted ({old:#010x} → {new:#010x}, noticed by {how})",
                   only=lambda s: s.boot_nonce == old)

    # ----- settling ----------------------------------------------------------------------------
    def apply(self, key: Key, v: Verdict) -> Shot:
        shot = self._shots[key]
        if shot.state.final:
            return shot
        if v.state is None:
            if v.ask_again:
                return self.update(shot, shot.state, v.reason, needs_resolution=True)
            return self.update(shot, ShotState.ACCEPTED, v.reason, needs_resolution=False)
        return self.settle(shot, v.state, v.reason, outcome=v.outcome)

    def settle(self, shot: Shot, state: ShotState, reason: str, **changes: Any) -> Shot:
        """The one place a shot's outcome becomes final."""
        assert state.final
        return self.update(shot, state, reason, needs_resolution=False, **changes)

    def update(self, shot: Shot, state: ShotState, reason: str, **changes: Any) -> Shot:
        new = shot.moved(state, reason, **changes)
        key = (shot.session, shot.index)
        self._shots[key] = new
        if state.final:
            self._open.pop(key, None)
            self._final[key] = None
            while len(self._final) > KEEP_FINAL:  # memory stays flat over a long session
                old, _ = self._final.popitem(last=False)
                self._shots.pop(old, None)
        else:
            self._open[key] = new
        if new.needs_resolution and not state.final:
            self._unresolved.add(key)
        else:
            self._unresolved.discard(key)
        if self.journal is not None:
            try:
                self.journal(new)
            except Exception:  # persisted state lags; the in-memory state is still right
                log.exception("journal failed for shot %s", new.index)
        self.changed.notify_all()
        self._emit(new)
        return new
