"""The shot path of the Injector: limits, journal, send; then follow, resolve and settle.

A mixin of `injector.Injector`, kept apart so that the rules a shot lives by are in one short
module: journalled before its first byte, never re-sent, refused while another is unresolved,
settled only by the ledger's `verdict` from the device's own record (or UNCERTAIN).
"""

from __future__ import annotations

import math
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from mesodrive.driver import wire
from mesodrive.driver.calibration_profile import CalibrationProfile
from mesodrive.driver.channel import Channel
from mesodrive.driver.clock_sync import ClockSync
from mesodrive.driver.device_state import DeviceTracker
from mesodrive.driver.errors import DriverError, ShotBlocked, ShotTooLate
from mesodrive.driver.event_bus import EventBus
from mesodrive.driver.events import Event, ShotUpdated
from mesodrive.driver.shot_ledger import Key, ShotLedger, verdict
from mesodrive.driver.shots import Commanded, Shot, ShotOutcome, ShotRequest, ShotState
from mesodrive.driver.timebase import Timebase
from mesodrive.protocol.messages import TICK_HZ, Identity, QueueShot, ShotRecord

SEND_MARGIN_US = 20_000  # a timed shot is sent only if it reaches the device this early
OVERDUE_S = 2.0  # a timed shot not final this long after its fire time: ask the device


class ShotPath:
    # Provided by the Injector (declared for the type checker).
    profile: CalibrationProfile
    device: DeviceTracker
    ledger: ShotLedger
    channel: Channel
    clock: ClockSync | None
    _lock: threading.RLock
    _tb: Timebase
    _bus: EventBus[Event]

    if TYPE_CHECKING:
        def get_shot(self, shot_boot: int, session: int, index: int) -> ShotRecord: ...
        def handshake(self) -> Identity: ...
        def _resync_link(self) -> None: ...

    def commanded_for(self, req: ShotRequest) -> Commanded:
        """What the device will be told for a request, after the calibration profile; refuses
        what is outside the device's own capabilities (checked again on the wire values)."""
        p = self.profile
        return Commanded(depth_mm=p.commanded_depth_mm(req.depth_mm),
                         volume_ul=p.commanded_volume_ul(req.volume_ul), flow_ul_s=req.flow_ul_s,
                         speed_mm_s=req.speed_mm_s, dwell_s=req.dwell_s, fire_at=req.fire_at,
                         profile=p.name, profile_id=p.profile_id)

    def _check_capabilities(self, req: ShotRequest, msg: QueueShot) -> None:
        ident = self.device.identity
        if ident is None:
            return
        limits = {
            "depth_um": (ident.depth_min_um, ident.depth_max_um),
            "volume_nl": (ident.volume_min_nl, ident.volume_max_nl),
            "flow_nl_s": (ident.flow_min_nl_s, ident.flow_max_nl_s),
            "speed_um_s": (ident.speed_min_um_s, ident.speed_max_um_s),
            "dwell_ms": (0, ident.dwell_max_ms),
        }
        for name, (lo, hi) in limits.items():
            value = getattr(msg, name)
            if not lo <= value <= hi:
                raise ShotBlocked(
                    f"shot {req.index}: commanded {name} = {value} is outside the device's "
                    f"range [{lo}, {hi}] (requested {req}, profile {self.profile.name!r})"
                )

    def queue_shot(self, req: ShotRequest) -> Shot:
        """Journal, then send one shot. Returns the PENDING snapshot; follow it with
        `wait_shot` or observers. Never re-sends: a retry must use a new index."""
        for name in ("depth_mm", "volume_ul", "flow_ul_s", "speed_mm_s", "dwell_s"):
            value = getattr(req, name)
            if not math.isfinite(value):
                raise ShotBlocked(f"shot {req.index}: {name} = {value!r} is not a number")
        if req.fire_at is not None and not math.isfinite(req.fire_at):
            raise ShotBlocked(f"shot {req.index}: fire_at = {req.fire_at!r} is not a time")
        session, boot = self.device.armed_session, self.device.boot_nonce
        if session is None:
            raise ShotBlocked(f"shot {req.index}: the device is not armed")
        self._check_unresolved()
        commanded = self.commanded_for(req)
        msg = wire.queue_shot(commanded, boot=boot, session=session, index=req.index,
                              tick_hz=TICK_HZ)
        self._check_capabilities(req, msg)
        problems = msg.range_errors()  # every field in the protocol's range before anything is persisted
        if problems:
            raise ShotBlocked(f"shot {req.index}: outside the protocol's ranges: "
                              + "; ".join(str(p) for p in problems))
        commanded = replace(commanded, wire=wire.commanded_record(msg, commanded.profile))
        key = (session, req.index)
        with self._lock:
            try:
                self.ledger.reserve(key)
            except KeyError:
                raise ShotBlocked(f"shot {req.index} of session {session}: that index (or a later "
                                  "one) was already sent; a retry needs a new, higher index") from None
        shot = Shot(session, req.index, boot, req, commanded, history=("pending",))
        try:
            if self.ledger.journal is not None:
                # Persisted before its first byte leaves (raises → not sent). Outside the lock:
                # a durable write must not stall the I/O thread's acks and heartbeats.
                self.ledger.journal(shot)
            with self._lock:
                self.ledger.add(shot)
                if self.device.boot_nonce != boot or self.device.armed_session != session:
                    # The device rebooted or disarmed while we wrote: never send a stale shot.
                    self.ledger.settle(shot, ShotState.NOT_RECEIVED, "not sent: the device left the session")
                    raise ShotBlocked(f"shot {req.index}: the device left session {session} before it was sent")
                if req.fire_at is not None and msg.fire_tick < self._earliest_safe_tick():
                    # The durable write took so long that the shot would arrive late: the
                    # device would refuse it and fault. Never sent, so certainly not executed.
                    self.ledger.settle(shot, ShotState.NOT_RECEIVED,
                                       "not sent: recording it took until too close to its fire time")
                    raise ShotTooLate(f"shot {req.index}: fire time {req.fire_at:.6f} s is too close "
                                      "after recording it; reschedule it under a new index")
                self.channel.send_sequenced(msg)
        finally:
            with self._lock:
                self.ledger.release(key)
        self.channel.flush()
        self._bus.emit(ShotUpdated(shot))
        return shot

    def _earliest_safe_tick(self) -> int:
        """The earliest fire tick a shot sent now can still make (link latency and clock error)."""
        estimate = self.clock.estimate if self.clock is not None else None
        if estimate is None:
            return 0
        margin_us = SEND_MARGIN_US + 4 * estimate.error_us
        return estimate.to_ticks(self._tb.now()) + round(margin_us)

    def shot(self, session: int, index: int) -> Shot:
        with self._lock:
            return self.ledger.get((session, index))

    def shots(self) -> list[Shot]:
        with self._lock:
            return self.ledger.all()

    def wait_shot(self, session: int, index: int, timeout: float) -> Shot:
        """Wait until the shot is final, asking the device whenever its outcome is in doubt
        (never re-sending); at the timeout, ask once more and return what is known."""
        end = self._tb.now() + timeout
        while True:
            with self._lock:
                shot = self.ledger.get((session, index))
                while not shot.state.final and not shot.needs_resolution:
                    left = end - self._tb.now()
                    if left <= 0:
                        break
                    self.ledger.changed.wait(self._tb.wall(min(left, 0.1)))
                    shot = self.ledger.get((session, index))
            if shot.state.final:
                return shot
            shot = self.resolve_shot(session, index)
            if shot.state.final or self._tb.now() >= end:
                return shot  # final, or still queued on the device when time ran out

    def _check_unresolved(self) -> None:
        with self._lock:
            open_ = self.ledger.unresolved()
        if open_:
            raise ShotBlocked(f"shots {[i for _, i in open_]} have an unknown outcome: "
                              "resolve_uncertain() first")

    def resolve_uncertain(self) -> list[Shot]:
        """Ask the device about every shot whose outcome is unknown; settle each one."""
        with self._lock:
            keys = self.ledger.unresolved()
        return [self.resolve_shot(*k) for k in keys]

    def resolve_shot(self, session: int, index: int) -> Shot:
        """Settle one shot from the device's own record (`shot_ledger.verdict`). A device that
        cannot be reached leaves it UNCERTAIN: counted as delivered, never re-sent."""
        key: Key = (session, index)
        with self._lock:
            shot = self.ledger.get(key)
        if shot.state.final:
            return shot
        for _ in range(2):
            if self.channel.link_lost:
                try:
                    self.handshake()  # a verdict needs a live link and a confirmed boot
                except DriverError as exc:
                    return self._give_up(key, f"device unreachable: {exc}")
            try:
                record = self.get_shot(shot.boot_nonce, session, index)
            except DriverError as exc:
                return self._give_up(key, f"device unreachable: {exc}")
            with self._lock:
                seen = "accepted" in self.ledger.get(key).history
                v = verdict(record, shot_boot=shot.boot_nonce, seen_accepted=seen,
                            link_quiet=self.channel.link_quiet or record.boot_nonce != shot.boot_nonce)
                settled = self.ledger.apply(key, v)
            if not v.ask_again:
                return settled
            self._resync_link()  # whatever was in flight is now either there or gone for good
        return self._give_up(key, "no definite answer from the device")

    def _give_up(self, key: Key, reason: str) -> Shot:
        with self._lock:
            shot = self.ledger.get(key)
            return shot if shot.state.final else self.ledger.settle(shot, ShotState.UNCERTAIN, reason)

    def settle_recorded(self, shot_boot: int, session: int, index: int, *, seen_accepted: bool,
                        wait: float = 3.0) -> tuple[ShotState | None, str, ShotOutcome | None]:
        """Crash resume: the verdict for a shot another process sent (by the same rules).
        Waits up to `wait` s for one still queued or executing; (None, ...) if it still is."""
        end = self._tb.now() + wait
        while True:
            try:
                record = self.get_shot(shot_boot, session, index)
            except DriverError as exc:
                return ShotState.UNCERTAIN, f"device unreachable: {exc}", None
            # Another process sent it and is gone: its link is gone too, so nothing is in flight.
            v = verdict(record, shot_boot=shot_boot, seen_accepted=seen_accepted, link_quiet=True)
            if v.state is not None or self._tb.now() >= end:
                return v.state, v.reason, v.outcome
            self._tb.sleep(0.05)


    def _chase_overdue(self) -> None:
        estimate = self.clock.estimate if self.clock is not None else None
        if estimate is None:
            return
        late = estimate.to_ticks(self._tb.now() - OVERDUE_S)
        with self._lock:
            overdue = [k for k in self.ledger.open_keys()
                       if (f := self.ledger.get(k).commanded.fire_at) is not None
                       and wire.s_to_ticks(f, TICK_HZ) < late]
        for key in overdue[:4]:
            self.resolve_shot(*key)

